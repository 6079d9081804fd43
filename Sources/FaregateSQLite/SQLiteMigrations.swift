/// The central schema's versioned migrations, applied in order; `meta.schema_version` records the
/// last one applied. Append only: never edit a migration that has shipped.
enum SQLiteMigrations {
    static let all: [String] = [
        // 1: cards, identities (keyed hashes only), bindings, health, change log, gates, journal.
        """
        CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE cards(
            card_key INTEGER PRIMARY KEY,      -- CardKey bit pattern as a signed 64-bit integer
            medium INTEGER NOT NULL,
            number TEXT NOT NULL,
            card_type INTEGER NOT NULL DEFAULT 1,
            blacklisted INTEGER NOT NULL DEFAULT 0,
            suspended INTEGER NOT NULL DEFAULT 0,
            issued_at INTEGER,
            returned_at INTEGER
        );
        CREATE TABLE identities(
            identity_id INTEGER PRIMARY KEY,
            id_hash BLOB NOT NULL UNIQUE,      -- keyed hash of the ID number; never the number
            health INTEGER NOT NULL DEFAULT 0,
            health_at INTEGER,
            health_source TEXT
        );
        CREATE TABLE bindings(
            card_key INTEGER PRIMARY KEY REFERENCES cards(card_key),
            identity_id INTEGER NOT NULL REFERENCES identities(identity_id),
            bound_at INTEGER NOT NULL
        );
        CREATE INDEX bindings_identity ON bindings(identity_id);
        CREATE TABLE change_log(
            version INTEGER PRIMARY KEY,
            card_key INTEGER NOT NULL,
            status INTEGER NOT NULL,
            changed_at INTEGER NOT NULL
        );
        CREATE TABLE gates(
            gate_id TEXT PRIMARY KEY,
            last_sync_at INTEGER,
            data_version INTEGER,
            acked_seq INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE journal(
            gate_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            wall_ms INTEGER NOT NULL,
            card_key INTEGER NOT NULL,
            kind TEXT NOT NULL,
            outcome TEXT NOT NULL,
            reason TEXT NOT NULL,
            record TEXT NOT NULL,
            PRIMARY KEY(gate_id, seq)
        ) WITHOUT ROWID;
        INSERT INTO meta(key, value) VALUES ('data_version', '0');
        """,
        // 2: the change log holds one row per (version, card) for card-level publication; writers
        //    record changed cards in pending_changes, the publisher turns them into versioned rows.
        """
        DROP TABLE change_log;
        CREATE TABLE change_log(
            version INTEGER NOT NULL,
            card_key INTEGER NOT NULL,
            status INTEGER NOT NULL,
            changed_at INTEGER NOT NULL,
            PRIMARY KEY(version, card_key)
        ) WITHOUT ROWID;
        CREATE TABLE pending_changes(id INTEGER PRIMARY KEY, card_key INTEGER NOT NULL);
        """,
        // 3: signed publications waiting for gates (sealed manifest + body).
        """
        CREATE TABLE publications(
            kind INTEGER NOT NULL,
            from_version INTEGER NOT NULL,
            to_version INTEGER NOT NULL,
            envelope BLOB NOT NULL,
            body BLOB NOT NULL,
            PRIMARY KEY(kind, to_version)
        ) WITHOUT ROWID;
        """,
        // 4: the log of central operations (issue, bind, top-up, return, sale, refund, registration,
        //    authorisation): what was done to which card, where, and any amount. No identities.
        //    Cards bound as phones (NFC) are marked: they do not count as physical cards.
        """
        ALTER TABLE cards ADD COLUMN phone_card INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE operations(
            id INTEGER PRIMARY KEY,
            card_key INTEGER NOT NULL,
            operation TEXT NOT NULL,
            effects TEXT NOT NULL,
            amount_fen INTEGER NOT NULL DEFAULT 0,
            channel TEXT,
            done_at INTEGER NOT NULL
        );
        CREATE INDEX operations_card ON operations(card_key);
        CREATE INDEX journal_card ON journal(card_key);
        """,
        // 5: exactly-once under faults (issue 16.5, 16.6): sequences a gate lost (holes, which count
        //    for the acknowledgement) and records offered for a held (gate, seq) with other bytes
        //    (conflicts: kept for an operator, never acknowledged).
        """
        CREATE TABLE journal_holes(
            gate_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            reason TEXT NOT NULL,
            noted_at INTEGER NOT NULL,
            PRIMARY KEY(gate_id, seq)
        ) WITHOUT ROWID;
        CREATE TABLE journal_conflicts(
            id INTEGER PRIMARY KEY,
            gate_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            stored_record TEXT NOT NULL,
            offered_record TEXT NOT NULL,
            seen_at INTEGER NOT NULL,
            UNIQUE(gate_id, seq, offered_record)
        );
        """,
        // 6: issue 16. Manifests name their network and environment now (format 2): the format-1
        //    rows no gate reads any more are dropped (`central publish --signing-key … --snapshot`
        //    signs every version again), and central's signed timestamp statement has its row.
        """
        DELETE FROM publications;
        CREATE TABLE sync_timestamp(id INTEGER PRIMARY KEY CHECK (id = 1), statement BLOB NOT NULL);
        """,
        // 7: issue 17.3. Ride-code issuer keys are central data (office and admin edit them), and
        //    the newest signed issuer-key document (`IssuerKeyDocument`) waits here for gates.
        """
        CREATE TABLE issuer_keys(
            issuer INTEGER NOT NULL CHECK (issuer BETWEEN 0 AND 255),
            key_id INTEGER NOT NULL CHECK (key_id BETWEEN 0 AND 65535),
            alg INTEGER NOT NULL CHECK (alg IN (1, 2)),
            public_key BLOB NOT NULL,
            valid_from INTEGER NOT NULL,
            valid_until INTEGER NOT NULL,
            revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
            added_at INTEGER NOT NULL,
            revoked_at INTEGER,
            PRIMARY KEY(issuer, key_id)
        ) WITHOUT ROWID;
        CREATE TABLE issuer_key_document(
            id INTEGER PRIMARY KEY CHECK (id = 1),
            version INTEGER NOT NULL,
            document BLOB NOT NULL
        );
        """,
        // 8: issue 16.4. Root-signed key sets (the online publication keys gates believe);
        //    every version is kept, the highest is served.
        """
        CREATE TABLE key_sets(version INTEGER PRIMARY KEY CHECK (version >= 1), sealed BLOB NOT NULL);
        """,
        // 9: journal authenticity (issue 16.5). Each gate's registered journal keys (a key belongs to
        //    one gate); each signed batch as received (message and signature, so an auditor can
        //    verify every stored record again); the batch a record came in (NULL: an unsigned upload
        //    of a gate with no key); and refusals: batches that did not verify and lines a gate
        //    reported it did not write, for an operator.
        """
        CREATE TABLE gate_keys(
            gate_id TEXT NOT NULL,
            public_key TEXT NOT NULL UNIQUE,
            state TEXT NOT NULL CHECK (state IN ('active', 'revoked')),
            origin TEXT NOT NULL CHECK (origin IN ('registered', 'first_use')),
            added_at INTEGER NOT NULL,
            revoked_at INTEGER,
            PRIMARY KEY(gate_id, public_key)
        ) WITHOUT ROWID;
        CREATE TABLE journal_batches(
            id INTEGER PRIMARY KEY,
            gate_id TEXT NOT NULL,
            public_key TEXT NOT NULL,
            message BLOB NOT NULL,
            signature BLOB NOT NULL,
            received_at INTEGER NOT NULL
        );
        ALTER TABLE journal ADD COLUMN batch_id INTEGER REFERENCES journal_batches(id);
        CREATE TABLE journal_refusals(
            id INTEGER PRIMARY KEY,
            gate_id TEXT NOT NULL,
            code TEXT NOT NULL,
            message TEXT NOT NULL,
            sequences TEXT NOT NULL,
            sample TEXT NOT NULL,
            times INTEGER NOT NULL DEFAULT 1,
            seen_at INTEGER NOT NULL,
            UNIQUE(gate_id, code, sequences, sample)
        );
        """,
        // 10: issue 17.6. The evidence of every passage on a ride code (certificate hash and the
        //    whole dynamic part), stored with its journal record, so central can settle the ride
        //    with the issuer and prove it; `clearing` marks the rides of other cities' metro apps.
        """
        CREATE TABLE ride_code_evidence(
            gate_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            wall_ms INTEGER NOT NULL,
            issuer INTEGER NOT NULL,
            account INTEGER NOT NULL,
            key_id INTEGER NOT NULL,
            counter INTEGER NOT NULL,
            generated_at INTEGER NOT NULL,
            cert_sha256 BLOB NOT NULL,
            flags INTEGER NOT NULL,
            user_sig BLOB NOT NULL,
            clearing INTEGER NOT NULL,
            PRIMARY KEY(gate_id, seq)
        ) WITHOUT ROWID;
        CREATE INDEX ride_code_evidence_issuer ON ride_code_evidence(issuer, clearing);
        """,
    ]
}
