/// The central schema on PostgreSQL, as versioned migrations applied in order; the table
/// `schema_migrations` records each one applied. Append only: never edit a migration that shipped.
///
/// Same tables and meaning as the SQLite store (`SQLiteMigrations`), in PostgreSQL types.
enum PostgresMigrations {
    static let all: [String] = [
        // 1: cards, identities (keyed hashes only), bindings, health, change log, gates, journal.
        """
        CREATE TABLE meta(key text PRIMARY KEY, value bigint NOT NULL);
        CREATE TABLE cards(
            card_key bigint PRIMARY KEY,          -- CardKey bit pattern as a signed 64-bit integer
            medium smallint NOT NULL,
            number text NOT NULL,
            card_type smallint NOT NULL DEFAULT 1,
            blacklisted boolean NOT NULL DEFAULT false,
            suspended boolean NOT NULL DEFAULT false,
            issued_at bigint,
            returned_at bigint
        );
        CREATE TABLE identities(
            identity_id bigserial PRIMARY KEY,
            id_hash bytea NOT NULL UNIQUE,        -- keyed hash of the ID number; never the number
            health smallint NOT NULL DEFAULT 0,
            health_at bigint,
            health_source text
        );
        CREATE TABLE bindings(
            card_key bigint PRIMARY KEY REFERENCES cards(card_key),
            identity_id bigint NOT NULL REFERENCES identities(identity_id),
            bound_at bigint NOT NULL
        );
        CREATE INDEX bindings_identity ON bindings(identity_id);
        -- Cards whose status may have changed, written by writers in their own transaction and
        -- consumed by the publisher (which alone assigns versions).
        CREATE TABLE pending_changes(id bigserial PRIMARY KEY, card_key bigint NOT NULL);
        CREATE TABLE change_log(
            version bigint NOT NULL,
            card_key bigint NOT NULL,
            status smallint NOT NULL,
            changed_at bigint NOT NULL,
            PRIMARY KEY(version, card_key)
        );
        CREATE TABLE gates(
            gate_id text PRIMARY KEY,
            last_sync_at bigint,
            data_version bigint,
            acked_seq bigint NOT NULL DEFAULT 0
        );
        CREATE TABLE journal(
            gate_id text NOT NULL,
            seq bigint NOT NULL,
            wall_ms bigint NOT NULL,
            card_key bigint NOT NULL,
            kind text NOT NULL,
            outcome text NOT NULL,
            reason text NOT NULL,
            record text NOT NULL,
            PRIMARY KEY(gate_id, seq)
        );
        INSERT INTO meta(key, value) VALUES ('data_version', 0);
        """,
        // 2: signed publications waiting for gates (sealed manifest + body).
        """
        CREATE TABLE publications(
            kind smallint NOT NULL,
            from_version bigint NOT NULL,
            to_version bigint NOT NULL,
            envelope bytea NOT NULL,
            body bytea NOT NULL,
            PRIMARY KEY(kind, to_version)
        );
        """,
        // 3: the log of central operations (issue, bind, top-up, return, sale, refund, registration,
        //    authorisation): what was done to which card, where, and any amount. No identities.
        //    Cards bound as phones (NFC) are marked: they do not count as physical cards.
        """
        ALTER TABLE cards ADD COLUMN phone_card boolean NOT NULL DEFAULT false;
        CREATE TABLE operations(
            id bigserial PRIMARY KEY,
            card_key bigint NOT NULL,
            operation text NOT NULL,
            effects text NOT NULL,
            amount_fen bigint NOT NULL DEFAULT 0,
            channel text,
            done_at bigint NOT NULL
        );
        CREATE INDEX operations_card ON operations(card_key);
        CREATE INDEX journal_card ON journal(card_key);
        """,
        // 4: least privilege (README "Central store on PostgreSQL"). Three NOLOGIN group roles,
        //    cluster-wide and so created only when missing (another database may have made them):
        //    faregate_admin (everything), faregate_office (ticket-office and registration operations)
        //    and faregate_gate (read publications, insert its own journal records, read its own
        //    acknowledgement). A gate logs in as its own role, a member of faregate_gate, mapped to
        //    its gate id in gate_logins; row-level security on gate_id holds it to its own rows.
        //    The acknowledgement is kept by a trigger that runs as the table owner, so a gate never
        //    writes its `acked_seq`; of `gates` it writes only its own row's last sync time and data
        //    version (column privileges; `farectl central gates`). Later migrations that add tables grant them to these roles themselves.
        """
        DO $roles$
        DECLARE r text;
        BEGIN
            FOREACH r IN ARRAY ARRAY['faregate_admin', 'faregate_office', 'faregate_gate'] LOOP
                IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
                    BEGIN
                        EXECUTE format('CREATE ROLE %I NOLOGIN', r);
                    EXCEPTION WHEN duplicate_object OR unique_violation THEN
                        -- made meanwhile by a migration of another database on the cluster (one that
                        -- had not committed yet when we looked ends as a unique violation here)
                        NULL;
                    END;
                END IF;
            END LOOP;
        END
        $roles$;
        CREATE TABLE gate_logins(
            login text PRIMARY KEY,               -- a PostgreSQL login role, member of faregate_gate
            gate_id text NOT NULL UNIQUE
        );
        DO $grants$
        DECLARE s text := current_schema();
        BEGIN
            EXECUTE format('GRANT USAGE ON SCHEMA %I TO faregate_admin, faregate_office, faregate_gate', s);
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO faregate_admin', s);
            EXECUTE format('GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA %I TO faregate_admin', s);
            -- Tables and sequences later migrations create (as this role) are the admin's too.
            EXECUTE format(
                'ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO faregate_admin', s);
            EXECUTE format(
                'ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO faregate_admin', s);
            -- The acknowledgement trigger: runs as its owner (the migrating role, owner of the
            -- tables), with a fixed search_path so a caller cannot substitute tables.
            EXECUTE format($f$
                CREATE FUNCTION %1$I.faregate_journal_stored() RETURNS trigger
                LANGUAGE plpgsql SECURITY DEFINER SET search_path = %1$I, pg_catalog AS $body$
                DECLARE acked bigint;
                BEGIN
                    INSERT INTO gates(gate_id) VALUES (NEW.gate_id) ON CONFLICT DO NOTHING;
                    -- The gate's row lock serialises acknowledgement of one gate's uploads; the
                    -- next statement then sees every record committed before the lock was taken.
                    SELECT g.acked_seq INTO acked FROM gates g WHERE g.gate_id = NEW.gate_id FOR UPDATE;
                    IF NEW.seq = acked + 1 THEN
                        -- Rows after acked in order: the run continuing it has seq - row_number = acked.
                        UPDATE gates SET acked_seq = COALESCE((
                            SELECT max(t.seq) FROM (
                                SELECT j.seq, j.seq - row_number() OVER (ORDER BY j.seq) AS offset_from_run
                                FROM journal j WHERE j.gate_id = NEW.gate_id AND j.seq > acked) t
                            WHERE t.offset_from_run = acked), acked)
                        WHERE gate_id = NEW.gate_id;
                    END IF;
                    RETURN NULL;
                END
                $body$
            $f$, s);
            EXECUTE format('REVOKE ALL ON FUNCTION %I.faregate_journal_stored() FROM PUBLIC', s);
        END
        $grants$;
        CREATE TRIGGER journal_stored AFTER INSERT ON journal
            FOR EACH ROW EXECUTE FUNCTION faregate_journal_stored();

        GRANT SELECT ON schema_migrations, meta TO faregate_office, faregate_gate;
        -- Office: the operations (issue, sale, return, refund, registration, authorisation, bind).
        GRANT SELECT, INSERT, UPDATE ON cards TO faregate_office;
        GRANT SELECT, INSERT ON identities, bindings, operations, pending_changes TO faregate_office;
        GRANT USAGE ON SEQUENCE identities_identity_id_seq, operations_id_seq, pending_changes_id_seq
            TO faregate_office;
        GRANT SELECT ON journal TO faregate_office;
        -- Gate: publications read-only; its own journal rows, acknowledgement and mapping.
        GRANT SELECT ON publications TO faregate_gate;
        GRANT SELECT, INSERT ON journal TO faregate_gate;
        GRANT SELECT ON gates, gate_logins TO faregate_gate;
        GRANT INSERT (gate_id, last_sync_at, data_version), UPDATE (last_sync_at, data_version) ON gates
            TO faregate_gate;

        ALTER TABLE journal ENABLE ROW LEVEL SECURITY;
        ALTER TABLE gates ENABLE ROW LEVEL SECURITY;
        ALTER TABLE gate_logins ENABLE ROW LEVEL SECURITY;
        CREATE POLICY admin_all ON journal TO faregate_admin USING (true) WITH CHECK (true);
        CREATE POLICY admin_all ON gates TO faregate_admin USING (true) WITH CHECK (true);
        CREATE POLICY admin_all ON gate_logins TO faregate_admin USING (true) WITH CHECK (true);
        CREATE POLICY office_read ON journal FOR SELECT TO faregate_office USING (true);
        CREATE POLICY own_login ON gate_logins FOR SELECT TO faregate_gate USING (login = current_user);
        CREATE POLICY own_records ON journal FOR SELECT TO faregate_gate
            USING (gate_id = (SELECT l.gate_id FROM gate_logins l WHERE l.login = current_user));
        CREATE POLICY own_inserts ON journal FOR INSERT TO faregate_gate
            WITH CHECK (gate_id = (SELECT l.gate_id FROM gate_logins l WHERE l.login = current_user));
        CREATE POLICY own_state ON gates FOR SELECT TO faregate_gate
            USING (gate_id = (SELECT l.gate_id FROM gate_logins l WHERE l.login = current_user));
        CREATE POLICY own_sync_insert ON gates FOR INSERT TO faregate_gate
            WITH CHECK (gate_id = (SELECT l.gate_id FROM gate_logins l WHERE l.login = current_user));
        CREATE POLICY own_sync_update ON gates FOR UPDATE TO faregate_gate
            USING (gate_id = (SELECT l.gate_id FROM gate_logins l WHERE l.login = current_user))
            WITH CHECK (gate_id = (SELECT l.gate_id FROM gate_logins l WHERE l.login = current_user));
        """,
        // 5: exactly-once under faults (issue 16.5, 16.6): sequences a gate lost (holes, which count
        //    for the acknowledgement) and records offered for a held (gate, seq) with other bytes
        //    (conflicts: kept for an operator, never acknowledged).
        """
        CREATE TABLE journal_holes(
            gate_id text NOT NULL,
            seq bigint NOT NULL,
            reason text NOT NULL,
            noted_at bigint NOT NULL,
            PRIMARY KEY(gate_id, seq)
        );
        CREATE TABLE journal_conflicts(
            id bigserial PRIMARY KEY,
            gate_id text NOT NULL,
            seq bigint NOT NULL,
            stored_record text NOT NULL,
            offered_record text NOT NULL,
            seen_at bigint NOT NULL,
            UNIQUE(gate_id, seq, offered_record)
        );

        -- Acknowledgement over records and holes, never to or past a conflict: the trigger of
        -- migration 4, now also fired by holes and conflicts (owner's rights, fixed search_path).
        DO $ack$
        DECLARE s text := current_schema();
        BEGIN
            EXECUTE format($f$
                CREATE OR REPLACE FUNCTION %1$I.faregate_journal_stored() RETURNS trigger
                LANGUAGE plpgsql SECURITY DEFINER SET search_path = %1$I, pg_catalog AS $body$
                DECLARE acked bigint; conflict bigint; next bigint;
                BEGIN
                    INSERT INTO gates(gate_id) VALUES (NEW.gate_id) ON CONFLICT DO NOTHING;
                    -- The gate's row lock serialises acknowledgement of one gate's uploads.
                    SELECT g.acked_seq INTO acked FROM gates g WHERE g.gate_id = NEW.gate_id FOR UPDATE;
                    SELECT min(c.seq) INTO conflict FROM journal_conflicts c WHERE c.gate_id = NEW.gate_id;
                    IF TG_TABLE_NAME = 'journal_conflicts' THEN
                        -- A different record for an acknowledged sequence: the gate keeps its copy.
                        IF NEW.seq <= acked THEN
                            UPDATE gates SET acked_seq = NEW.seq - 1 WHERE gate_id = NEW.gate_id;
                        END IF;
                        RETURN NULL;
                    END IF;
                    IF NEW.seq <> acked + 1 THEN RETURN NULL; END IF;
                    -- Stored sequences after acked in order: the run continuing it has seq - n = acked.
                    SELECT COALESCE(max(t.seq), acked) INTO next FROM (
                        SELECT u.seq, u.seq - row_number() OVER (ORDER BY u.seq) AS offset_from_run FROM (
                            SELECT j.seq FROM journal j WHERE j.gate_id = NEW.gate_id AND j.seq > acked
                            UNION SELECT h.seq FROM journal_holes h WHERE h.gate_id = NEW.gate_id AND h.seq > acked
                        ) u) t
                    WHERE t.offset_from_run = acked;
                    IF conflict IS NOT NULL AND next >= conflict THEN next := conflict - 1; END IF;
                    IF next > acked THEN
                        UPDATE gates SET acked_seq = next WHERE gate_id = NEW.gate_id;
                    END IF;
                    RETURN NULL;
                END
                $body$
            $f$, s);
        END
        $ack$;
        CREATE TRIGGER holes_stored AFTER INSERT ON journal_holes
            FOR EACH ROW EXECUTE FUNCTION faregate_journal_stored();
        CREATE TRIGGER conflicts_stored AFTER INSERT ON journal_conflicts
            FOR EACH ROW EXECUTE FUNCTION faregate_journal_stored();

        -- A gate records its own holes and conflicts (its upload finds them); office and admin read.
        GRANT SELECT, INSERT ON journal_holes TO faregate_gate;
        GRANT SELECT, INSERT, UPDATE (seen_at) ON journal_conflicts TO faregate_gate;
        GRANT USAGE ON SEQUENCE journal_conflicts_id_seq TO faregate_gate;
        GRANT SELECT ON journal_holes, journal_conflicts TO faregate_office;
        GRANT SELECT, INSERT, UPDATE, DELETE ON journal_holes, journal_conflicts TO faregate_admin;
        GRANT USAGE, SELECT, UPDATE ON SEQUENCE journal_conflicts_id_seq TO faregate_admin;
        ALTER TABLE journal_holes ENABLE ROW LEVEL SECURITY;
        ALTER TABLE journal_conflicts ENABLE ROW LEVEL SECURITY;
        CREATE POLICY admin_all ON journal_holes TO faregate_admin USING (true) WITH CHECK (true);
        CREATE POLICY admin_all ON journal_conflicts TO faregate_admin USING (true) WITH CHECK (true);
        CREATE POLICY office_read ON journal_holes FOR SELECT TO faregate_office USING (true);
        CREATE POLICY office_read ON journal_conflicts FOR SELECT TO faregate_office USING (true);
        CREATE POLICY own_holes ON journal_holes FOR SELECT TO faregate_gate USING (gate_id = (SELECT l.gate_id FROM gate_logins l WHERE l.login = current_user));
        CREATE POLICY own_hole_inserts ON journal_holes FOR INSERT TO faregate_gate WITH CHECK (gate_id = (SELECT l.gate_id FROM gate_logins l WHERE l.login = current_user));
        CREATE POLICY own_conflicts ON journal_conflicts FOR SELECT TO faregate_gate USING (gate_id = (SELECT l.gate_id FROM gate_logins l WHERE l.login = current_user));
        CREATE POLICY own_conflict_inserts ON journal_conflicts FOR INSERT TO faregate_gate
            WITH CHECK (gate_id = (SELECT l.gate_id FROM gate_logins l WHERE l.login = current_user));
        CREATE POLICY own_conflict_updates ON journal_conflicts FOR UPDATE TO faregate_gate
            USING (gate_id = (SELECT l.gate_id FROM gate_logins l WHERE l.login = current_user)) WITH CHECK (gate_id = (SELECT l.gate_id FROM gate_logins l WHERE l.login = current_user));
        """,
        // 6: issue 16. Manifests name their network and environment now (format 2): the format-1
        //    rows no gate reads any more are dropped (`central publish --signing-key … --snapshot`
        //    signs every version again), and central's signed timestamp statement has its row.
        """
        DELETE FROM publications;
        CREATE TABLE sync_timestamp(id smallint PRIMARY KEY CHECK (id = 1), statement bytea NOT NULL);
        -- Gates read it as they read publications (when the least-privilege roles exist).
        DO $$ BEGIN
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'faregate_gate') THEN
                GRANT SELECT ON sync_timestamp TO faregate_gate;
            END IF;
        END $$;
        """,
        // 7: issue 17.3. Ride-code issuer keys are central data, and the newest signed issuer-key
        //    document (`IssuerKeyDocument`) waits here for gates. Office and admin edit the keys; only
        //    the publisher (admin) stores the document; a gate reads both and writes neither.
        """
        CREATE TABLE issuer_keys(
            issuer smallint NOT NULL CHECK (issuer BETWEEN 0 AND 255),
            key_id integer NOT NULL CHECK (key_id BETWEEN 0 AND 65535),
            alg smallint NOT NULL CHECK (alg IN (1, 2)),
            public_key bytea NOT NULL,
            valid_from bigint NOT NULL CHECK (valid_from BETWEEN 0 AND 4294967295),
            valid_until bigint NOT NULL CHECK (valid_until BETWEEN 0 AND 4294967295),
            revoked boolean NOT NULL DEFAULT false,
            added_at bigint NOT NULL,
            revoked_at bigint,
            PRIMARY KEY(issuer, key_id)
        );
        CREATE TABLE issuer_key_document(
            id smallint PRIMARY KEY CHECK (id = 1),
            version bigint NOT NULL,
            document bytea NOT NULL
        );
        DO $$ BEGIN
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'faregate_gate') THEN
                GRANT SELECT ON issuer_keys, issuer_key_document TO faregate_gate;
                GRANT SELECT, INSERT, UPDATE ON issuer_keys TO faregate_office;
                GRANT SELECT ON issuer_key_document TO faregate_office;
                GRANT SELECT, INSERT, UPDATE, DELETE ON issuer_keys, issuer_key_document TO faregate_admin;
            END IF;
        END $$;
        """,
        // 8: issue 16.4. Root-signed key sets (the online publication keys gates believe);
        //    every version is kept, the highest is served. Gates read them, never write them.
        """
        CREATE TABLE key_sets(version bigint PRIMARY KEY CHECK (version >= 1), sealed bytea NOT NULL);
        DO $$ BEGIN
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'faregate_gate') THEN
                GRANT SELECT ON key_sets TO faregate_gate, faregate_office;
                GRANT SELECT, INSERT, UPDATE, DELETE ON key_sets TO faregate_admin;
            END IF;
        END $$;
        """,
        // 9: journal authenticity (issue 16.5), as SQLite's migration 9: gate keys, signed batches as
        //    received, the batch of each record, refusals. Keys are registered by admin and office;
        //    a gate reads its own, enrols its first one (only while it has none: trust on first
        //    use, README "Trust model") and records its own batches and refusals.
        """
        CREATE TABLE gate_keys(
            gate_id text NOT NULL,
            public_key text NOT NULL UNIQUE,
            state text NOT NULL CHECK (state IN ('active', 'revoked')),
            origin text NOT NULL CHECK (origin IN ('registered', 'first_use')),
            added_at bigint NOT NULL,
            revoked_at bigint,
            PRIMARY KEY(gate_id, public_key)
        );
        CREATE TABLE journal_batches(
            id bigserial PRIMARY KEY,
            gate_id text NOT NULL,
            public_key text NOT NULL,
            message bytea NOT NULL,
            signature bytea NOT NULL,
            received_at bigint NOT NULL
        );
        ALTER TABLE journal ADD COLUMN batch_id bigint REFERENCES journal_batches(id);
        CREATE TABLE journal_refusals(
            id bigserial PRIMARY KEY,
            gate_id text NOT NULL,
            code text NOT NULL,
            message text NOT NULL,
            sequences text NOT NULL,
            sample text NOT NULL,
            times integer NOT NULL DEFAULT 1,
            seen_at bigint NOT NULL,
            UNIQUE(gate_id, code, sequences, sample)
        );
        DO $$ BEGIN
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'faregate_gate') THEN
                GRANT SELECT, INSERT, UPDATE, DELETE ON gate_keys, journal_batches, journal_refusals TO faregate_admin;
                GRANT USAGE, SELECT, UPDATE ON SEQUENCE journal_batches_id_seq, journal_refusals_id_seq TO faregate_admin;
                GRANT SELECT, INSERT, UPDATE (state, origin, revoked_at) ON gate_keys TO faregate_office;
                GRANT SELECT ON journal_batches, journal_refusals TO faregate_office;
                GRANT SELECT, INSERT ON gate_keys, journal_batches TO faregate_gate;
                GRANT SELECT, INSERT, UPDATE (times, seen_at) ON journal_refusals TO faregate_gate;
                GRANT USAGE ON SEQUENCE journal_batches_id_seq, journal_refusals_id_seq TO faregate_gate;
                ALTER TABLE gate_keys ENABLE ROW LEVEL SECURITY;
                ALTER TABLE journal_batches ENABLE ROW LEVEL SECURITY;
                ALTER TABLE journal_refusals ENABLE ROW LEVEL SECURITY;
                CREATE POLICY admin_all ON gate_keys TO faregate_admin USING (true) WITH CHECK (true);
                CREATE POLICY admin_all ON journal_batches TO faregate_admin USING (true) WITH CHECK (true);
                CREATE POLICY admin_all ON journal_refusals TO faregate_admin USING (true) WITH CHECK (true);
                CREATE POLICY office_keys ON gate_keys TO faregate_office USING (true) WITH CHECK (true);
                CREATE POLICY office_read ON journal_batches FOR SELECT TO faregate_office USING (true);
                CREATE POLICY office_read ON journal_refusals FOR SELECT TO faregate_office USING (true);
                -- A gate sees every key's owner (a key of another gate is never enrolled for it),
                -- and enrols one only as its first, active, first-use key.
                CREATE POLICY gate_read ON gate_keys FOR SELECT TO faregate_gate USING (true);
                CREATE POLICY own_first_key ON gate_keys FOR INSERT TO faregate_gate
                    WITH CHECK (gate_id = (SELECT l.gate_id FROM gate_logins l WHERE l.login = current_user)
                                AND state = 'active' AND origin = 'first_use'
                                AND NOT EXISTS (SELECT 1 FROM gate_keys k WHERE k.gate_id = gate_keys.gate_id));
                CREATE POLICY own_batches ON journal_batches TO faregate_gate
                    USING (gate_id = (SELECT l.gate_id FROM gate_logins l WHERE l.login = current_user))
                    WITH CHECK (gate_id = (SELECT l.gate_id FROM gate_logins l WHERE l.login = current_user));
                CREATE POLICY own_refusals ON journal_refusals TO faregate_gate
                    USING (gate_id = (SELECT l.gate_id FROM gate_logins l WHERE l.login = current_user))
                    WITH CHECK (gate_id = (SELECT l.gate_id FROM gate_logins l WHERE l.login = current_user));
            END IF;
        END $$;
        """,
        // 10: issue 17.6. The evidence of every passage on a ride code (certificate hash and the
        //    whole dynamic part), stored with its journal record, so central can settle the ride
        //    with the issuer and prove it; `clearing` marks the rides of other cities' metro apps.
        //    A gate inserts its own rows (as its journal's); office and admin read them.
        """
        CREATE TABLE ride_code_evidence(
            gate_id text NOT NULL,
            seq bigint NOT NULL,
            wall_ms bigint NOT NULL,
            issuer smallint NOT NULL,
            account bigint NOT NULL,
            key_id integer NOT NULL,
            counter bigint NOT NULL,
            generated_at bigint NOT NULL,
            cert_sha256 bytea NOT NULL,
            flags smallint NOT NULL,
            user_sig bytea NOT NULL,
            clearing boolean NOT NULL,
            PRIMARY KEY(gate_id, seq)
        );
        CREATE INDEX ride_code_evidence_issuer ON ride_code_evidence(issuer, clearing);
        GRANT SELECT, INSERT ON ride_code_evidence TO faregate_gate;
        GRANT SELECT ON ride_code_evidence TO faregate_office;
        GRANT SELECT, INSERT, UPDATE, DELETE ON ride_code_evidence TO faregate_admin;
        ALTER TABLE ride_code_evidence ENABLE ROW LEVEL SECURITY;
        CREATE POLICY admin_all ON ride_code_evidence TO faregate_admin USING (true) WITH CHECK (true);
        CREATE POLICY office_read ON ride_code_evidence FOR SELECT TO faregate_office USING (true);
        CREATE POLICY own_evidence ON ride_code_evidence FOR SELECT TO faregate_gate
            USING (gate_id = (SELECT l.gate_id FROM gate_logins l WHERE l.login = current_user));
        CREATE POLICY own_evidence_inserts ON ride_code_evidence FOR INSERT TO faregate_gate
            WITH CHECK (gate_id = (SELECT l.gate_id FROM gate_logins l WHERE l.login = current_user));
        """,
    ]
}
