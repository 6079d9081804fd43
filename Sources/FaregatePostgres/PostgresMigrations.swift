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
        // 4: exactly-once under faults (issue 16.5, 16.6): sequences a gate lost (holes, which count
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
        """,
    ]
}
