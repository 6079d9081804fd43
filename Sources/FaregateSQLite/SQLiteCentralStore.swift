import FaregateCore

/// The embedded default central store: one SQLite file.
///
/// Not thread-safe: one owner thread per instance (open one instance per thread).
public final class SQLiteCentralStore: CentralStore {
    public static let schemaVersion = SQLiteMigrations.all.count
    let db: SQLiteConnection

    /// Opens an existing store and checks its schema. A missing file is an error: stores are
    /// created explicitly (`create(at:)`), never by accident on a typo'd path.
    public init(path: String) throws(CentralStoreError) {
        do {
            db = try SQLiteConnection(path: path)
            try db.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON")
        } catch {
            throw Self.map(error, "cannot open central store \(path)")
        }
        let version = try schemaVersionOnDisk()
        guard version == Self.schemaVersion else {
            throw CentralStoreError(
                .schemaMismatch,
                "central store \(path) has schema version \(version), this build uses \(Self.schemaVersion); run `farectl central migrate`"
            )
        }
    }

    /// Creates a new store at `path` (or migrates an existing one) to the current schema.
    @discardableResult
    public static func create(at path: String) throws(CentralStoreError) -> SQLiteCentralStore {
        do {
            let db = try SQLiteConnection(path: path, create: true)
            try db.execute("PRAGMA journal_mode=WAL")
            try migrate(db)
        } catch let e as SQLiteError {
            throw map(e, "cannot create central store \(path)")
        } catch let e as CentralStoreError {
            throw e
        } catch {
            throw CentralStoreError(.unavailable, "cannot create central store \(path)", cause: "\(error)")
        }
        return try SQLiteCentralStore(path: path)
    }

    static func migrate(_ db: SQLiteConnection) throws {
        // Read the version in a function of its own so its statements are finalized before the
        // migrations run: an unfinished SELECT makes DROP TABLE fail with SQLITE_LOCKED.
        func versionOnDisk() throws -> Int {
            let hasMeta = try db.prepare("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='meta'")
            guard try hasMeta.step(), hasMeta.int64(0) == 1 else { return 0 }
            let q = try db.prepare("SELECT value FROM meta WHERE key='schema_version'")
            return try q.step() ? Int(q.text(0)) ?? 0 : 0
        }
        let current = try versionOnDisk()
        guard current <= all.count else {
            throw CentralStoreError(
                .schemaMismatch, "store schema version \(current) is newer than this build (\(all.count))")
        }
        for v in current..<all.count {
            try db.transaction { () throws(SQLiteError) in
                try db.execute(all[v])
                let set = try db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)")
                try set.bind(.text(String(v + 1)))
                try set.run()
            }
        }
    }

    private static var all: [String] { SQLiteMigrations.all }

    func schemaVersionOnDisk() throws(CentralStoreError) -> Int {
        do {
            let q = try db.prepare("SELECT value FROM meta WHERE key='schema_version'")
            guard try q.step(), let v = Int(q.text(0)) else {
                throw CentralStoreError(.corrupt, "central store \(db.path) has no schema version")
            }
            return v
        } catch let e as SQLiteError {
            if e.primary == .error {  // no such table: not a faregate store
                throw CentralStoreError(.corrupt, "\(db.path) is not a faregate central store", cause: e.message)
            }
            throw Self.map(e, "cannot read schema version of \(db.path)")
        } catch let e as CentralStoreError {
            throw e
        } catch {
            throw CentralStoreError(.queryFailed, "cannot read schema version", cause: "\(error)")
        }
    }

    static func map(_ e: SQLiteError, _ what: String) -> CentralStoreError {
        switch e.primary {
        case .corrupt, .notADatabase:
            CentralStoreError(.corrupt, what + ": the file is damaged or not a database", cause: e.message)
        case .cantOpen: CentralStoreError(.unavailable, what + ": cannot open the file", cause: e.message)
        case .constraint: CentralStoreError(.refused, what, cause: e.message)
        default: CentralStoreError(.queryFailed, what, cause: e.description)
        }
    }

    /// Runs `body`, turning SQLite errors into store errors that name `what`.
    func run<T>(_ what: String, _ body: () throws(SQLiteError) -> T) throws(CentralStoreError) -> T {
        do { return try body() } catch { throw Self.map(error, what) }
    }

    // MARK: CentralStore

    public func dataVersion() throws(CentralStoreError) -> UInt64 {
        try run("cannot read data version") { () throws(SQLiteError) in
            let q = try db.prepare("SELECT value FROM meta WHERE key='data_version'")
            return try q.step() ? UInt64(q.text(0)) ?? 0 : 0
        }
    }

    static let statusQuery = """
        SELECT c.card_key, c.blacklisted, c.suspended, c.returned_at IS NOT NULL, b.identity_id IS NOT NULL,
               COALESCE(i.health, 0)
        FROM cards c LEFT JOIN bindings b ON b.card_key = c.card_key
                     LEFT JOIN identities i ON i.identity_id = b.identity_id
        """

    public func forEachStatus(_ body: (CardKey, CardStatus) -> Void) throws(CentralStoreError) -> UInt64 {
        try run("cannot read card statuses") { () throws(SQLiteError) in
            try db.execute("BEGIN")
            defer { try? db.execute("COMMIT") }
            let version = try dataVersionInTransaction()
            let q = try db.prepare(Self.statusQuery)
            while try q.step() {
                let key = CardKey(rawValue: UInt64(bitPattern: q.int64(0)))
                let bound = q.int64(4) != 0
                let health = HealthStatus(rawValue: UInt8(clamping: q.int64(5))) ?? .unknown
                let status = CardStatus(
                    health: bound ? health : .unknown, binding: bound ? .bound : .unbound,
                    blacklisted: q.int64(1) != 0, returned: q.int64(3) != 0, suspended: q.int64(2) != 0)
                body(key, status)
            }
            return version
        }
    }

    func dataVersionInTransaction() throws(SQLiteError) -> UInt64 {
        let q = try db.prepare("SELECT value FROM meta WHERE key='data_version'")
        return try q.step() ? UInt64(q.text(0)) ?? 0 : 0
    }

    static let nowMillis = "CAST(strftime('%s','now') AS INTEGER) * 1000"

    public func uploadJournal(gate: String, entries: [JournalEntry]) throws(CentralStoreError) {
        try refuseUnsignedForKeyedGate(
            gate, entries.first.map { "\($0.sequence)-\(entries.last?.sequence ?? 0)" } ?? "")
        try run("cannot store journal of gate \(gate)") { () throws(SQLiteError) in
            try db.transaction { () throws(SQLiteError) in
                try storeRecordsInTransaction(
                    gate: gate, entries: entries, records: entries.map { JournalCodec.encode($0) }, batchID: nil)
                try advanceAcknowledged(gate: gate)
            }
        }
    }

    /// Inserts records of `gate` (`records[i]`: the stored bytes of `entries[i]`); a record held
    /// with the same bytes is a repeated upload, one with other bytes (or a hole) a conflict kept
    /// for an operator. Call inside a write transaction.
    func storeRecordsInTransaction(
        gate: String, entries: [JournalEntry], records: [String], batchID: Int64?
    ) throws(SQLiteError) {
        let ins = try db.prepare(
            """
            INSERT INTO journal(gate_id, seq, wall_ms, card_key, kind, outcome, reason, record, batch_id)
            SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9
            WHERE NOT EXISTS (SELECT 1 FROM journal_holes WHERE gate_id = ?1 AND seq = ?2)
            ON CONFLICT(gate_id, seq) DO NOTHING
            """)
        let held = try db.prepare(
            """
            SELECT record FROM journal WHERE gate_id = ?1 AND seq = ?2
            UNION ALL SELECT 'hole' FROM journal_holes WHERE gate_id = ?1 AND seq = ?2
            """)
        let flag = try db.prepare(
            """
            INSERT OR IGNORE INTO journal_conflicts(gate_id, seq, stored_record, offered_record, seen_at)
            VALUES (?, ?, ?, ?, \(Self.nowMillis))
            """)
        let ev = try db.prepare(Self.insertEvidence)
        for (e, record) in zip(entries, records) {
            try ins.bind(
                .text(gate), .integer(Int64(e.sequence)), .integer(e.wallMillis),
                .integer(Int64(bitPattern: e.key.rawValue)), .text(e.kind.description),
                .text(e.decision.outcome.description), .text(e.decision.reason.code), .text(record),
                batchID.map { .integer($0) } ?? .null)
            try ins.run()
            if db.changes > 0 {
                if let evidence = e.rideCode { try storeEvidence(ev, gate: gate, entry: e, evidence) }
                continue
            }
            // Held already: the same bytes are a repeated upload; other bytes a conflict,
            // kept for an operator (never dropped, never acknowledged).
            try held.bind(.text(gate), .integer(Int64(e.sequence)))
            let stored = try held.step() ? held.text(0) : "hole"
            if stored != record {
                try flag.bind(.text(gate), .integer(Int64(e.sequence)), .text(stored), .text(record))
                try flag.run()
            }
        }
    }

    public func recordHoles(gate: String, ranges: [ClosedRange<UInt64>], reason: String) throws(CentralStoreError) {
        try refuseUnsignedForKeyedGate(gate, ranges.map { "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ","))
        try run("cannot store holes of gate \(gate)") { () throws(SQLiteError) in
            try db.transaction { () throws(SQLiteError) in
                try storeHolesInTransaction(gate: gate, ranges: ranges, reason: reason)
                try advanceAcknowledged(gate: gate)
            }
        }
    }

    /// Inserts holes of `gate` (a sequence held as a record or a hole stays as it is). Call inside
    /// a write transaction.
    func storeHolesInTransaction(gate: String, ranges: [ClosedRange<UInt64>], reason: String) throws(SQLiteError) {
        let ins = try db.prepare(
            """
            INSERT OR IGNORE INTO journal_holes(gate_id, seq, reason, noted_at)
            SELECT ?1, ?2, ?3, \(Self.nowMillis)
            WHERE NOT EXISTS (SELECT 1 FROM journal WHERE gate_id = ?1 AND seq = ?2)
            """)
        for range in ranges where range.upperBound <= JournalEntry.maxSequence {
            for seq in range {
                try ins.bind(.text(gate), .integer(Int64(seq)), .text(reason))
                try ins.run()
            }
        }
    }

    /// Moves `gates.acked_seq` up over every contiguous stored sequence (records and holes), and
    /// never to or past a conflicting record.
    func advanceAcknowledged(gate: String) throws(SQLiteError) {
        let up = try db.prepare("INSERT OR IGNORE INTO gates(gate_id, acked_seq) VALUES (?, 0)")
        try up.bind(.text(gate))
        try up.run()
        let c = try db.prepare("SELECT min(seq) FROM journal_conflicts WHERE gate_id = ?")
        try c.bind(.text(gate))
        let conflict: UInt64? = try c.step() && !c.isNull(0) ? UInt64(c.int64(0)) : nil
        var acked = try ackedInTransaction(gate: gate)
        if let conflict, acked >= conflict { acked = conflict - 1 }
        let next = try db.prepare(
            """
            SELECT seq FROM journal WHERE gate_id = ?1 AND seq > ?2
            UNION SELECT seq FROM journal_holes WHERE gate_id = ?1 AND seq > ?2 ORDER BY seq
            """)
        try next.bind(.text(gate), .integer(Int64(acked)))
        while try next.step() {
            let s = UInt64(next.int64(0))
            guard s == acked + 1, s != conflict else { break }
            acked = s
        }
        let set = try db.prepare("UPDATE gates SET acked_seq = ? WHERE gate_id = ?")
        try set.bind(.integer(Int64(acked)), .text(gate))
        try set.run()
    }

    public func highestSequence(gate: String) throws(CentralStoreError) -> UInt64 {
        try run("cannot read highest sequence of gate \(gate)") { () throws(SQLiteError) in
            let q = try db.prepare(
                """
                SELECT max(m) FROM (SELECT max(seq) AS m FROM journal WHERE gate_id = ?1
                                    UNION ALL SELECT max(seq) FROM journal_holes WHERE gate_id = ?1)
                """)
            try q.bind(.text(gate))
            return try q.step() && !q.isNull(0) ? UInt64(q.int64(0)) : 0
        }
    }

    func ackedInTransaction(gate: String) throws(SQLiteError) -> UInt64 {
        let q = try db.prepare("SELECT acked_seq FROM gates WHERE gate_id = ?")
        try q.bind(.text(gate))
        return try q.step() ? UInt64(q.int64(0)) : 0
    }

    public func acknowledgedSequence(gate: String) throws(CentralStoreError) -> UInt64 {
        try run("cannot read acknowledged sequence of gate \(gate)") { () throws(SQLiteError) in
            try ackedInTransaction(gate: gate)
        }
    }

    /// Records that `gate` synced at `wallMillis` to `dataVersion`.
    public func recordSync(gate: String, dataVersion: UInt64, wallMillis: Int64) throws(CentralStoreError) {
        try run("cannot record sync of gate \(gate)") { () throws(SQLiteError) in
            let q = try db.prepare(
                """
                INSERT INTO gates(gate_id, last_sync_at, data_version) VALUES (?, ?, ?)
                ON CONFLICT(gate_id) DO UPDATE SET last_sync_at = excluded.last_sync_at,
                                                    data_version = excluded.data_version
                """)
            try q.bind(.text(gate), .integer(wallMillis), .integer(Int64(dataVersion)))
            try q.run()
        }
    }
}

extension SQLiteCentralStore: JournalReviewStore {
    public func journalHoles(gate: String?) throws(CentralStoreError) -> [JournalHole] {
        try run("cannot read journal holes") { () throws(SQLiteError) in
            let q = try db.prepare(
                """
                SELECT gate_id, seq, reason, noted_at FROM journal_holes WHERE ?1 IS NULL OR gate_id = ?1
                ORDER BY gate_id, seq
                """)
            try q.bind(gate.map { .text($0) } ?? .null)
            var out: [JournalHole] = []
            while try q.step() {
                out.append(
                    JournalHole(
                        gate: q.text(0), sequence: UInt64(q.int64(1)), reason: q.text(2), notedMillis: q.int64(3)))
            }
            return out
        }
    }

    public func journalConflicts(gate: String?) throws(CentralStoreError) -> [JournalConflict] {
        try run("cannot read journal conflicts") { () throws(SQLiteError) in
            let q = try db.prepare(
                """
                SELECT gate_id, seq, stored_record, offered_record, seen_at FROM journal_conflicts
                WHERE ?1 IS NULL OR gate_id = ?1 ORDER BY gate_id, seq, id
                """)
            try q.bind(gate.map { .text($0) } ?? .null)
            var out: [JournalConflict] = []
            while try q.step() {
                out.append(
                    JournalConflict(
                        gate: q.text(0), sequence: UInt64(q.int64(1)), storedRecord: q.text(2),
                        offeredRecord: q.text(3), seenMillis: q.int64(4)))
            }
            return out
        }
    }
}
