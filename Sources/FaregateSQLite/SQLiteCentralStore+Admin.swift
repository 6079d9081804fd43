import FaregateCore

/// Administration of the embedded store: demo populations, health changes, statistics.
extension SQLiteCentralStore: CentralAdminStore {
    /// A card as the administration commands describe it (the core type, kept under its old name).
    public typealias CardRecord = CentralCardRecord

    /// Inserts cards (and their identities and bindings) in one transaction and bumps the data
    /// version once. Existing keys are refused: the whole batch is rolled back.
    public func insertCards(_ cards: some Sequence<CardRecord>, wallMillis: Int64) throws(CentralStoreError) {
        try run("cannot insert cards") { () throws(SQLiteError) in
            try db.transaction { () throws(SQLiteError) in
                let card = try db.prepare(
                    """
                    INSERT INTO cards(card_key, medium, number, card_type, blacklisted, suspended, issued_at, returned_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                let ident = try db.prepare(
                    """
                    INSERT INTO identities(id_hash, health, health_at, health_source) VALUES (?, ?, ?, 'demo')
                    ON CONFLICT(id_hash) DO UPDATE SET health = health RETURNING identity_id
                    """)
                let bind = try db.prepare("INSERT INTO bindings(card_key, identity_id, bound_at) VALUES (?, ?, ?)")
                let pending = try db.prepare("INSERT INTO pending_changes(card_key) VALUES (?)")
                for c in cards {
                    let key = Int64(bitPattern: c.key.rawValue)
                    try card.bind(
                        .integer(key), .integer(Int64(c.key.medium?.rawValue ?? 0)), .text(c.key.number),
                        .integer(Int64(c.cardType.rawValue)), .integer(c.blacklisted ? 1 : 0),
                        .integer(c.suspended ? 1 : 0), .integer(wallMillis), c.returned ? .integer(wallMillis) : .null)
                    try card.run()
                    if let hash = c.identityHash {
                        try ident.bind(.blob(hash), .integer(Int64(c.health.rawValue)), .integer(wallMillis))
                        guard try ident.step() else { throw SQLiteError(code: .error, message: "no identity id") }
                        let id = ident.int64(0)
                        try ident.run()
                        try bind.bind(.integer(key), .integer(id), .integer(wallMillis))
                        try bind.run()
                    }
                    try pending.bind(.integer(key))
                    try pending.run()
                }
                // SQLite has one writer at a time (BEGIN IMMEDIATE): publishing inside the writer's
                // transaction assigns versions in commit order.
                _ = try publishInTransaction(wallMillis: wallMillis)
            }
        }
    }

    /// Sets the health of the identity bound to `key`; every card bound to that identity changes.
    /// Returns how many cards changed.
    @discardableResult
    public func setHealth(of key: CardKey, to health: HealthStatus, wallMillis: Int64) throws(CentralStoreError) -> Int
    {
        let changed = try run("cannot set health of \(key)") { () throws(SQLiteError) -> Int in
            try db.transaction { () throws(SQLiteError) -> Int in
                let q = try db.prepare(
                    """
                    UPDATE identities SET health = ?, health_at = ?, health_source = 'farectl'
                    WHERE identity_id = (SELECT identity_id FROM bindings WHERE card_key = ?)
                    """)
                try q.bind(
                    .integer(Int64(health.rawValue)), .integer(wallMillis), .integer(Int64(bitPattern: key.rawValue)))
                try q.run()
                let n = db.changes
                guard n > 0 else { return 0 }
                let p = try db.prepare(
                    """
                    INSERT INTO pending_changes(card_key) SELECT card_key FROM bindings
                    WHERE identity_id = (SELECT identity_id FROM bindings WHERE card_key = ?)
                    """)
                try p.bind(.integer(Int64(bitPattern: key.rawValue)))
                try p.run()
                let cards = db.changes
                _ = try publishInTransaction(wallMillis: wallMillis)
                return cards
            }
        }
        guard changed > 0 else { throw CentralStoreError(.refused, "card \(key) is unknown or not bound to anyone") }
        return changed
    }

    func bumpDataVersion() throws(SQLiteError) {
        try db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'data_version'")
    }

    /// Counts for `farectl central stats`.
    public struct Stats: Sendable, Codable {
        public var cards: Int
        public var boundCards: Int
        public var identities: Int
        public var dataVersion: UInt64
        public var journalRecords: Int
        public var gates: Int
        public var cardsByMedium: [String: Int]
        public var identitiesByHealth: [String: Int]
    }

    public func stats() throws(CentralStoreError) -> Stats {
        let version = try dataVersion()
        return try run("cannot read statistics") { () throws(SQLiteError) -> Stats in
            func count(_ sql: String) throws(SQLiteError) -> Int {
                let q = try db.prepare(sql)
                return try q.step() ? Int(q.int64(0)) : 0
            }
            var byMedium: [String: Int] = [:]
            let m = try db.prepare("SELECT medium, count(*) FROM cards GROUP BY medium")
            while try m.step() {
                byMedium[Medium(rawValue: UInt8(clamping: m.int64(0)))?.description ?? "other", default: 0] += Int(
                    m.int64(1))
            }
            var byHealth: [String: Int] = [:]
            let h = try db.prepare("SELECT health, count(*) FROM identities GROUP BY health")
            while try h.step() {
                byHealth[HealthStatus(rawValue: UInt8(clamping: h.int64(0)))?.description ?? "other", default: 0] +=
                    Int(h.int64(1))
            }
            return Stats(
                cards: try count("SELECT count(*) FROM cards"), boundCards: try count("SELECT count(*) FROM bindings"),
                identities: try count("SELECT count(*) FROM identities"), dataVersion: version,
                journalRecords: try count("SELECT count(*) FROM journal"),
                gates: try count("SELECT count(*) FROM gates"), cardsByMedium: byMedium, identitiesByHealth: byHealth)
        }
    }

    /// Journal entries stored for `gate`, in sequence order (for checks and reports).
    public func journal(gate: String) throws(CentralStoreError) -> [JournalEntry] {
        try run("cannot read journal of \(gate)") { () throws(SQLiteError) -> [JournalEntry] in
            let q = try db.prepare("SELECT record FROM journal WHERE gate_id = ? ORDER BY seq")
            try q.bind(.text(gate))
            var out: [JournalEntry] = []
            while try q.step() {
                if let e = try? JournalCodec.decode(Substring(q.text(0))) { out.append(e) }
            }
            return out
        }
    }
}
