import FaregateCore

/// Administration, publication and the change feed on PostgreSQL.
extension PostgresCentralStore {
    /// Inserts in chunks of 10,000 with one `unnest` statement per table per chunk (array
    /// parameters), all in one transaction: a 30-million-card import is not 90 million round trips.
    public func insertCards(_ cards: some Sequence<CentralCardRecord>, wallMillis: Int64) throws(CentralStoreError) {
        try run("cannot insert cards") { () throws(PostgresError) in
            try conn.transaction { () throws(PostgresError) in
                var chunk: [CentralCardRecord] = []
                chunk.reserveCapacity(Self.insertChunk)
                for c in cards {
                    chunk.append(c)
                    if chunk.count == Self.insertChunk {
                        try insertChunk(chunk, wallMillis: wallMillis)
                        chunk.removeAll(keepingCapacity: true)
                    }
                }
                if !chunk.isEmpty { try insertChunk(chunk, wallMillis: wallMillis) }
            }
        }
    }

    static let insertChunk = 10_000

    /// `{a,b,c}`: an array literal of elements that need no quoting (numbers, digits, t/f).
    static func array(_ items: [String]) -> String { "{" + items.joined(separator: ",") + "}" }

    func insertChunk(_ chunk: [CentralCardRecord], wallMillis: Int64) throws(PostgresError) {
        let now = String(wallMillis)
        let keys = Self.array(chunk.map { Self.key($0.key) })
        try conn.query(
            """
            INSERT INTO cards(card_key, medium, number, card_type, blacklisted, suspended, issued_at, returned_at)
            SELECT k, m, n, t, b, s, $7::bigint, CASE WHEN r THEN $7::bigint END
            FROM unnest($1::bigint[], $2::smallint[], $3::text[], $4::smallint[], $5::boolean[], $6::boolean[], $8::boolean[])
                 AS u(k, m, n, t, b, s, r)
            """,
            [
                keys, Self.array(chunk.map { String($0.key.medium?.rawValue ?? 0) }),
                Self.array(chunk.map { $0.key.number }),
                Self.array(chunk.map { String($0.cardType.rawValue) }),
                Self.array(chunk.map { $0.blacklisted ? "t" : "f" }),
                Self.array(chunk.map { $0.suspended ? "t" : "f" }), now,
                Self.array(chunk.map { $0.returned ? "t" : "f" }),
            ])
        let bound = chunk.filter { $0.identityHash != nil }
        if !bound.isEmpty {
            // bytea elements in an array literal: "\\x…" (the array parser turns \\ into \).
            let hashes = Self.array(bound.map { "\"\\" + PostgresHex.literal($0.identityHash ?? []) + "\"" })
            // Identity rows are shared by every card bound to them; the first card seen sets health.
            try conn.query(
                """
                INSERT INTO identities(id_hash, health, health_at, health_source)
                SELECT DISTINCT ON (h) h, hl, $3::bigint, 'import' FROM unnest($1::bytea[], $2::smallint[]) AS u(h, hl)
                ON CONFLICT (id_hash) DO NOTHING
                """, [hashes, Self.array(bound.map { String($0.health.rawValue) }), now])
            try conn.query(
                """
                INSERT INTO bindings(card_key, identity_id, bound_at)
                SELECT u.k, i.identity_id, $3::bigint FROM unnest($1::bigint[], $2::bytea[]) AS u(k, h)
                JOIN identities i ON i.id_hash = u.h
                """, [Self.array(bound.map { Self.key($0.key) }), hashes, now])
        }
        try conn.query("INSERT INTO pending_changes(card_key) SELECT unnest($1::bigint[])", [keys])
    }

    public func bind(_ key: CardKey, identityHash: [UInt8], wallMillis: Int64) throws(CentralStoreError) {
        let k = Self.key(key)
        let outcome = try run("cannot bind \(key)") { () throws(PostgresError) -> String? in
            try conn.transaction { () throws(PostgresError) -> String? in
                // Lock the card row so two concurrent binds of one card cannot both pass the check.
                let card = try conn.query("SELECT 1 FROM cards WHERE card_key = $1 FOR UPDATE", [k])
                guard card.rows == 1 else { return "card \(key) is unknown" }
                let bound = try conn.query("SELECT 1 FROM bindings WHERE card_key = $1", [k])
                guard bound.rows == 0 else { return "card \(key) is already bound (bindings are permanent)" }
                try bindInTransaction(k, hash: PostgresHex.literal(identityHash), at: String(wallMillis))
                try conn.query("INSERT INTO pending_changes(card_key) VALUES ($1)", [k])
                return nil
            }
        }
        if let outcome { throw CentralStoreError(.refused, outcome) }
    }

    /// Binds card `k` to the identity with hex literal `hash` (created when new). Call inside a
    /// transaction that has checked the card is unbound.
    func bindInTransaction(_ k: String, hash: String, at wallMillis: String) throws(PostgresError) {
        try conn.query(
            """
            INSERT INTO identities(id_hash, health, health_at, health_source) VALUES ($1, 0, $2, 'bind')
            ON CONFLICT (id_hash) DO NOTHING
            """, [hash, wallMillis])
        try conn.query(
            """
            INSERT INTO bindings(card_key, identity_id, bound_at)
            SELECT $1, identity_id, $3 FROM identities WHERE id_hash = $2
            """, [k, hash, wallMillis])
    }

    @discardableResult
    public func setHealth(of key: CardKey, to health: HealthStatus, wallMillis: Int64) throws(CentralStoreError) -> Int
    {
        let n = try run("cannot set health of \(key)") { () throws(PostgresError) -> Int in
            try setHealthInTransaction(
                where: "identity_id = (SELECT identity_id FROM bindings WHERE card_key = $3)", Self.key(key), health,
                wallMillis)
        }
        guard n > 0 else { throw CentralStoreError(.refused, "card \(key) is unknown or not bound to anyone") }
        return n
    }

    @discardableResult
    public func setHealth(identityHash: [UInt8], to health: HealthStatus, wallMillis: Int64) throws(CentralStoreError)
        -> Int
    {
        let n = try run("cannot set health") { () throws(PostgresError) -> Int in
            try setHealthInTransaction(where: "id_hash = $3", PostgresHex.literal(identityHash), health, wallMillis)
        }
        guard n > 0 else {
            throw CentralStoreError(.refused, "no identity with that ID number, or no card bound to it")
        }
        return n
    }

    /// Updates the identity selected by `condition` (parameter $3 is `argument`) and records a
    /// pending change for every card bound to it, in one statement. Returns the number of cards.
    func setHealthInTransaction(
        where condition: String, _ argument: String, _ health: HealthStatus, _ wallMillis: Int64
    )
        throws(PostgresError) -> Int
    {
        let r = try conn.query(
            """
            WITH u AS (
                UPDATE identities SET health = $1, health_at = $2, health_source = 'farectl'
                WHERE \(condition) RETURNING identity_id)
            INSERT INTO pending_changes(card_key)
            SELECT b.card_key FROM bindings b JOIN u ON u.identity_id = b.identity_id
            """, [String(health.rawValue), String(wallMillis), argument])
        return r.affected
    }

    /// Publishes every pending change under `data_version + 1` (see the type's comment for why this
    /// never lets a reader skip a version). Nothing pending: the version stays.
    @discardableResult
    public func publish(wallMillis: Int64) throws(CentralStoreError) -> PublishResult {
        try run("cannot publish") { () throws(PostgresError) in
            try conn.transaction { () throws(PostgresError) in
                try conn.query("SELECT pg_advisory_xact_lock(\(Self.publisherLock))")
                // Read after taking the lock: in READ COMMITTED each statement sees every commit made
                // before it started, including the previous publisher's.
                let v = try conn.query("SELECT value FROM meta WHERE key = 'data_version' FOR UPDATE")
                let current = UInt64(v.int64(0, 0) ?? 0)
                let next = String(current + 1)
                // One statement, one snapshot: the pending rows taken and the state the statuses are
                // computed from are consistent (a writer's pending rows and its state change commit
                // together). Pending rows committed after this snapshot stay for the next run.
                let ins = try conn.query(
                    """
                    WITH taken AS (DELETE FROM pending_changes RETURNING card_key)
                    INSERT INTO change_log(version, card_key, status, changed_at)
                    SELECT $1, c.card_key, \(Self.statusExpression), $2
                    \(Self.statusFrom)
                    WHERE c.card_key IN (SELECT card_key FROM taken)
                    """, [next, String(wallMillis)])
                guard ins.affected > 0 else { return PublishResult(version: current, cards: 0) }
                try conn.query("UPDATE meta SET value = $1 WHERE key = 'data_version'", [next])
                return PublishResult(version: current + 1, cards: ins.affected)
            }
        }
    }

    public func changes(after version: UInt64, maxChanges: Int) throws(CentralStoreError) -> ChangeSet? {
        try run("cannot read changes after \(version)") { () throws(PostgresError) -> ChangeSet? in
            // REPEATABLE READ: the version and the rows come from one snapshot, which holds a
            // gap-free prefix of publications.
            try conn.transaction("ISOLATION LEVEL REPEATABLE READ, READ ONLY") {
                () throws(PostgresError) -> ChangeSet? in
                let v = try conn.query("SELECT value FROM meta WHERE key = 'data_version'")
                let to = UInt64(v.int64(0, 0) ?? 0)
                guard to > version else { return ChangeSet(fromVersion: version, toVersion: to, changes: []) }
                let range = [String(version), String(to)]
                let n = try conn.query("SELECT count(*) FROM change_log WHERE version > $1 AND version <= $2", range)
                guard (n.int64(0, 0) ?? 0) <= Int64(maxChanges) else { return nil }
                let r = try conn.query(
                    "SELECT version, card_key, status FROM change_log WHERE version > $1 AND version <= $2 ORDER BY version, card_key",
                    range)
                var out: [CardChange] = []
                out.reserveCapacity(r.rows)
                for row in 0..<r.rows {
                    guard let ver = r.int64(row, 0), let k = r.int64(row, 1), let s = r.int64(row, 2) else { continue }
                    out.append(
                        CardChange(
                            version: UInt64(ver), key: CardKey(rawValue: UInt64(bitPattern: k)),
                            status: CardStatus(rawValue: UInt8(clamping: s))))
                }
                return ChangeSet(fromVersion: version, toVersion: to, changes: out)
            }
        }
    }

    public func recordSync(gate: String, dataVersion: UInt64, wallMillis: Int64) throws(CentralStoreError) {
        try run("cannot record sync of gate \(gate)") { () throws(PostgresError) in
            try conn.query(
                """
                INSERT INTO gates(gate_id, last_sync_at, data_version) VALUES ($1, $2, $3)
                ON CONFLICT (gate_id) DO UPDATE SET last_sync_at = excluded.last_sync_at, data_version = excluded.data_version
                """, [gate, String(wallMillis), String(dataVersion)])
        }
    }

    public func gateStates() throws(CentralStoreError) -> [GateSyncState] {
        try run("cannot read gates") { () throws(PostgresError) in
            let r = try conn.query(
                """
                SELECT g.gate_id, g.last_sync_at, g.data_version, g.acked_seq,
                       (SELECT count(*) FROM journal j WHERE j.gate_id = g.gate_id)
                FROM gates g ORDER BY g.gate_id
                """)
            return (0..<r.rows).map { row in
                GateSyncState(
                    gate: r.text(row, 0) ?? "", lastSyncMillis: r.int64(row, 1),
                    dataVersion: r.int64(row, 2).map { UInt64($0) },
                    acknowledgedSequence: UInt64(r.int64(row, 3) ?? 0), journalRecords: Int(r.int64(row, 4) ?? 0))
            }
        }
    }

    /// Counts for `farectl central stats` (same shape as the SQLite store's).
    public struct Stats: Sendable, Codable {
        public var cards: Int
        public var boundCards: Int
        public var identities: Int
        public var dataVersion: UInt64
        public var pendingChanges: Int
        public var journalRecords: Int
        public var gates: Int
    }

    public func stats() throws(CentralStoreError) -> Stats {
        let version = try dataVersion()
        return try run("cannot read statistics") { () throws(PostgresError) in
            let r = try conn.query(
                """
                SELECT (SELECT count(*) FROM cards), (SELECT count(*) FROM bindings), (SELECT count(*) FROM identities),
                       (SELECT count(*) FROM pending_changes), (SELECT count(*) FROM journal), (SELECT count(*) FROM gates)
                """)
            func n(_ c: Int) -> Int { Int(r.int64(0, c) ?? 0) }
            return Stats(
                cards: n(0), boundCards: n(1), identities: n(2), dataVersion: version, pendingChanges: n(3),
                journalRecords: n(4), gates: n(5))
        }
    }
}
