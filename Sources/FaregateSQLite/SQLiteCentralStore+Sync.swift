import FaregateCore

/// Publication and the change feed of the embedded store.
///
/// Why versions never skip here: SQLite admits one writer at a time (every write runs in
/// `BEGIN IMMEDIATE`), and the publisher runs inside that transaction, so version n+1 is assigned
/// and committed strictly after version n is committed; a reader's transaction sees a prefix.
extension SQLiteCentralStore {
    /// The status byte of a card as the gate sees it, in SQL over `cards c`, `bindings b`,
    /// `identities i` (the same packing as `CardStatus`).
    static let statusExpression = """
        ((CASE WHEN b.identity_id IS NOT NULL THEN COALESCE(i.health, 0) | 4 ELSE 0 END)
         | (CASE WHEN c.blacklisted <> 0 THEN 8 ELSE 0 END)
         | (CASE WHEN c.returned_at IS NOT NULL THEN 16 ELSE 0 END)
         | (CASE WHEN c.suspended <> 0 THEN 32 ELSE 0 END))
        """

    /// Turns pending changes into change rows under the next version. Call inside a write transaction.
    func publishInTransaction(wallMillis: Int64) throws(SQLiteError) -> PublishResult {
        let next = try dataVersionInTransaction() + 1
        let ins = try db.prepare(
            """
            INSERT INTO change_log(version, card_key, status, changed_at)
            SELECT ?, c.card_key, \(Self.statusExpression), ?
            FROM cards c LEFT JOIN bindings b ON b.card_key = c.card_key
                         LEFT JOIN identities i ON i.identity_id = b.identity_id
            WHERE c.card_key IN (SELECT card_key FROM pending_changes)
            """)
        try ins.bind(.integer(Int64(next)), .integer(wallMillis))
        try ins.run()
        let cards = db.changes
        try db.execute("DELETE FROM pending_changes")
        guard cards > 0 else { return PublishResult(version: next - 1, cards: 0) }
        let set = try db.prepare("UPDATE meta SET value = ? WHERE key = 'data_version'")
        try set.bind(.text(String(next)))
        try set.run()
        return PublishResult(version: next, cards: cards)
    }

    @discardableResult
    public func publish(wallMillis: Int64) throws(CentralStoreError) -> PublishResult {
        try run("cannot publish") { () throws(SQLiteError) in
            try db.transaction { () throws(SQLiteError) in try publishInTransaction(wallMillis: wallMillis) }
        }
    }

    public func changes(after version: UInt64, maxChanges: Int) throws(CentralStoreError) -> ChangeSet? {
        try run("cannot read changes after \(version)") { () throws(SQLiteError) -> ChangeSet? in
            // One read transaction: the version and the rows come from the same snapshot.
            try db.execute("BEGIN")
            defer { try? db.execute("COMMIT") }
            let to = try dataVersionInTransaction()
            guard to > version else { return ChangeSet(fromVersion: version, toVersion: to, changes: []) }
            let count = try db.prepare("SELECT count(*) FROM change_log WHERE version > ? AND version <= ?")
            try count.bind(.integer(Int64(version)), .integer(Int64(to)))
            guard try count.step(), count.int64(0) <= Int64(maxChanges) else { return nil }
            let q = try db.prepare(
                "SELECT version, card_key, status FROM change_log WHERE version > ? AND version <= ? ORDER BY version, card_key"
            )
            try q.bind(.integer(Int64(version)), .integer(Int64(to)))
            var out: [CardChange] = []
            while try q.step() {
                out.append(
                    CardChange(
                        version: UInt64(q.int64(0)), key: CardKey(rawValue: UInt64(bitPattern: q.int64(1))),
                        status: CardStatus(rawValue: UInt8(clamping: q.int64(2)))))
            }
            return ChangeSet(fromVersion: version, toVersion: to, changes: out)
        }
    }

    public func bind(_ key: CardKey, identityHash: [UInt8], wallMillis: Int64) throws(CentralStoreError) {
        try run("cannot bind \(key)") { () throws(SQLiteError) in
            try db.transaction { () throws(SQLiteError) in
                let k = Int64(bitPattern: key.rawValue)
                let known = try db.prepare(
                    "SELECT (SELECT count(*) FROM cards WHERE card_key = ?), (SELECT count(*) FROM bindings WHERE card_key = ?)"
                )
                try known.bind(.integer(k), .integer(k))
                _ = try known.step()
                guard known.int64(0) == 1 else {
                    throw SQLiteError(code: .constraint, message: "card \(key) is unknown")
                }
                guard known.int64(1) == 0 else {
                    throw SQLiteError(
                        code: .constraint, message: "card \(key) is already bound (bindings are permanent)")
                }
                try bindInTransaction(k, identityHash, wallMillis)
                let p = try db.prepare("INSERT INTO pending_changes(card_key) VALUES (?)")
                try p.bind(.integer(k))
                try p.run()
                _ = try publishInTransaction(wallMillis: wallMillis)
            }
        }
    }

    @discardableResult
    public func setHealth(identityHash: [UInt8], to health: HealthStatus, wallMillis: Int64) throws(CentralStoreError)
        -> Int
    {
        let cards = try run("cannot set health") { () throws(SQLiteError) -> Int? in
            try db.transaction { () throws(SQLiteError) -> Int? in
                let q = try db.prepare(
                    "UPDATE identities SET health = ?, health_at = ?, health_source = 'farectl' WHERE id_hash = ?")
                try q.bind(.integer(Int64(health.rawValue)), .integer(wallMillis), .blob(identityHash))
                try q.run()
                guard db.changes > 0 else { return nil }
                let p = try db.prepare(
                    """
                    INSERT INTO pending_changes(card_key) SELECT b.card_key FROM bindings b
                    JOIN identities i ON i.identity_id = b.identity_id WHERE i.id_hash = ?
                    """)
                try p.bind(.blob(identityHash))
                try p.run()
                let n = db.changes
                _ = try publishInTransaction(wallMillis: wallMillis)
                return n
            }
        }
        guard let cards else { throw CentralStoreError(.refused, "no identity with that ID number") }
        return cards
    }

    public func gateStates() throws(CentralStoreError) -> [GateSyncState] {
        try run("cannot read gates") { () throws(SQLiteError) in
            let q = try db.prepare(
                """
                SELECT g.gate_id, g.last_sync_at, g.data_version, g.acked_seq,
                       (SELECT count(*) FROM journal j WHERE j.gate_id = g.gate_id)
                FROM gates g ORDER BY g.gate_id
                """)
            var out: [GateSyncState] = []
            while try q.step() {
                out.append(
                    GateSyncState(
                        gate: q.text(0), lastSyncMillis: q.isNull(1) ? nil : q.int64(1),
                        dataVersion: q.isNull(2) ? nil : UInt64(q.int64(2)), acknowledgedSequence: UInt64(q.int64(3)),
                        journalRecords: Int(q.int64(4))))
            }
            return out
        }
    }
}
