import FaregateCore

/// The central store on PostgreSQL, over one libpq connection.
///
/// The connection string goes to libpq as-is (multi-host strings for failover work). A lost
/// connection is reported as `.unavailable` and re-established (`PQreset`) on the next call.
/// Not thread-safe: one owner thread per instance; open one instance per thread.
///
/// Versions never skip (see `publish`): writers only record which cards changed
/// (`pending_changes`); one publisher transaction at a time, serialized by a transaction-scoped
/// advisory lock, turns them into change rows under `data_version + 1` and commits before the
/// next publisher can start. So publication n+1 commits strictly after publication n, and every
/// snapshot that sees n+1 sees n: a reader that takes the version and the rows in one snapshot
/// gets a gap-free prefix. Sequence values are not used for versions because they become
/// visible out of commit order.
public final class PostgresCentralStore: CentralAdminStore {
    public static let schemaVersion = PostgresMigrations.all.count
    /// Advisory lock keys (arbitrary, fixed): the publisher and the migrator.
    static let publisherLock = "7046001"
    static let migrationLock = "7046002"

    let conn: PostgresConnection

    /// Connects and checks the schema version. The schema is created explicitly (`create`).
    public init(connecting conninfo: String) throws(CentralStoreError) {
        do {
            conn = try PostgresConnection(conninfo)
        } catch {
            throw Self.map(error, "cannot connect to the central store")
        }
        let version = try Self.schemaVersionOnServer(conn)
        guard version == Self.schemaVersion else {
            throw CentralStoreError(
                .schemaMismatch,
                "central store has schema version \(version), this build uses \(Self.schemaVersion); run `farectl central migrate`"
            )
        }
    }

    /// Migrates the database to the current schema (safe to run concurrently) and opens it.
    @discardableResult
    public static func create(connecting conninfo: String) throws(CentralStoreError) -> PostgresCentralStore {
        do {
            let c = try PostgresConnection(conninfo)
            try c.transaction { () throws(PostgresError) in
                try c.query("SELECT pg_advisory_xact_lock(\(migrationLock))")
                try c.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                )
                let r = try c.query("SELECT COALESCE(max(version), 0) FROM schema_migrations")
                let current = Int(r.int64(0, 0) ?? 0)
                guard current <= PostgresMigrations.all.count else {
                    throw PostgresError(
                        sqlstate: nil,
                        message: "schema version \(current) is newer than this build (\(PostgresMigrations.all.count))")
                }
                for v in current..<PostgresMigrations.all.count {
                    try c.execute(PostgresMigrations.all[v])
                    try c.query("INSERT INTO schema_migrations(version) VALUES ($1)", [String(v + 1)])
                }
            }
        } catch {
            throw map(error, "cannot migrate the central store")
        }
        return try PostgresCentralStore(connecting: conninfo)
    }

    static func schemaVersionOnServer(_ c: PostgresConnection) throws(CentralStoreError) -> Int {
        do {
            let r = try c.query("SELECT COALESCE(max(version), 0) FROM schema_migrations")
            return Int(r.int64(0, 0) ?? 0)
        } catch {
            if error.sqlstate == .undefinedTable {
                throw CentralStoreError(
                    .schemaMismatch, "the database has no faregate schema; run `farectl central migrate`")
            }
            throw map(error, "cannot read the schema version")
        }
    }

    static func map(_ e: PostgresError, _ what: String) -> CentralStoreError {
        if e.connectionLost || e.sqlstate?.isConnectionError == true || e.sqlstate == .adminShutdown {
            return CentralStoreError(.unavailable, what + ": the server cannot be reached", cause: e.description)
        }
        if e.sqlstate?.isConstraintViolation == true || e.sqlstate == .raiseException {
            return CentralStoreError(.refused, what, cause: e.message)
        }
        if e.sqlstate == .undefinedTable {
            return CentralStoreError(.schemaMismatch, what, cause: e.message)
        }
        if e.sqlstate == .insufficientPrivilege {
            return CentralStoreError(
                .refused, what + ": this database role may not do that (README \"Central store on PostgreSQL\")",
                cause: e.message)
        }
        return CentralStoreError(.queryFailed, what, cause: e.description)
    }

    /// Runs `body`, reconnecting first if the connection was lost, mapping errors to store errors.
    func run<T>(_ what: String, _ body: () throws(PostgresError) -> T) throws(CentralStoreError) -> T {
        do {
            if !conn.isOpen { try conn.reset() }
            return try body()
        } catch {
            throw Self.map(error, what)
        }
    }

    static func key(_ k: CardKey) -> String { String(Int64(bitPattern: k.rawValue)) }

    // MARK: CentralStore

    public func dataVersion() throws(CentralStoreError) -> UInt64 {
        try run("cannot read data version") { () throws(PostgresError) in
            let r = try conn.query("SELECT value FROM meta WHERE key = 'data_version'")
            return UInt64(r.int64(0, 0) ?? 0)
        }
    }

    static let statusExpression = """
        ((CASE WHEN b.identity_id IS NOT NULL THEN COALESCE(i.health, 0) | 4 ELSE 0 END)
         | (CASE WHEN c.blacklisted THEN 8 ELSE 0 END)
         | (CASE WHEN c.returned_at IS NOT NULL THEN 16 ELSE 0 END)
         | (CASE WHEN c.suspended THEN 32 ELSE 0 END))
        """

    static let statusFrom = """
        FROM cards c LEFT JOIN bindings b ON b.card_key = c.card_key
                     LEFT JOIN identities i ON i.identity_id = b.identity_id
        """

    /// Streams every card's status from one REPEATABLE READ snapshot, fetching through a cursor.
    public func forEachStatus(_ body: (CardKey, CardStatus) -> Void) throws(CentralStoreError) -> UInt64 {
        try run("cannot read card statuses") { () throws(PostgresError) in
            try conn.transaction("ISOLATION LEVEL REPEATABLE READ, READ ONLY") { () throws(PostgresError) in
                let v = try conn.query("SELECT value FROM meta WHERE key = 'data_version'")
                let version = UInt64(v.int64(0, 0) ?? 0)
                try conn.execute(
                    "DECLARE statuses NO SCROLL CURSOR FOR SELECT c.card_key, \(Self.statusExpression) \(Self.statusFrom)"
                )
                while true {
                    let r = try conn.query("FETCH 50000 FROM statuses")
                    if r.rows == 0 { break }
                    for row in 0..<r.rows {
                        guard let k = r.int64(row, 0), let s = r.int64(row, 1) else { continue }
                        body(CardKey(rawValue: UInt64(bitPattern: k)), CardStatus(rawValue: UInt8(clamping: s)))
                    }
                }
                return version
            }
        }
    }

    static let nowMillis = "(extract(epoch FROM now()) * 1000)::bigint"

    public func uploadJournal(gate: String, entries: [JournalEntry]) throws(CentralStoreError) {
        try refuseUnsignedForKeyedGate(
            gate, entries.first.map { "\($0.sequence)-\(entries.last?.sequence ?? 0)" } ?? "")
        try run("cannot store journal of gate \(gate)") { () throws(PostgresError) in
            try conn.transaction { () throws(PostgresError) in
                try lockGateInTransaction(gate)
                try storeRecordsInTransaction(
                    gate: gate, entries: entries, records: entries.map { JournalCodec.encode($0) }, batchID: nil)
            }
        }
    }

    /// Creates and locks the gate's row: uploads of one gate are serialised, so the checks of a
    /// record see every record stored before.
    func lockGateInTransaction(_ gate: String) throws(PostgresError) {
        try conn.query("INSERT INTO gates(gate_id) VALUES ($1) ON CONFLICT DO NOTHING", [gate])
        try conn.query("SELECT 1 FROM gates WHERE gate_id = $1 FOR UPDATE", [gate])
    }

    /// Inserts records of `gate` (`records[i]`: the stored bytes of `entries[i]`); the same bytes
    /// held already are a repeated upload, other bytes (or a hole) a conflict kept for an operator
    /// (never dropped, never acknowledged). Inside a transaction that holds the gate's row lock.
    func storeRecordsInTransaction(
        gate: String, entries: [JournalEntry], records: [String], batchID: Int64?
    ) throws(PostgresError) {
        for (e, record) in zip(entries, records) {
            let held = try conn.query(
                """
                SELECT record FROM journal WHERE gate_id = $1 AND seq = $2
                UNION ALL SELECT 'hole' FROM journal_holes WHERE gate_id = $1 AND seq = $2
                """, [gate, String(e.sequence)])
            if held.rows > 0 {
                let stored = held.text(0, 0) ?? ""
                if stored != record {
                    try conn.query(
                        """
                        INSERT INTO journal_conflicts(gate_id, seq, stored_record, offered_record, seen_at)
                        VALUES ($1, $2, $3, $4, \(Self.nowMillis))
                        ON CONFLICT (gate_id, seq, offered_record) DO UPDATE SET seen_at = excluded.seen_at
                        """, [gate, String(e.sequence), stored, record])
                }
                continue
            }
            try conn.query(
                """
                INSERT INTO journal(gate_id, seq, wall_ms, card_key, kind, outcome, reason, record, batch_id)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                """,
                [
                    gate, String(e.sequence), String(e.wallMillis), Self.key(e.key), e.kind.description,
                    e.decision.outcome.description, e.decision.reason.code, record, batchID.map { String($0) },
                ])
            if let evidence = e.rideCode { try storeEvidence(gate: gate, entry: e, evidence) }
        }
        // `gates.acked_seq` moves up over every contiguous stored sequence by itself: the
        // `journal_stored` trigger (migration 4) runs as the table owner, so a gate's own
        // login, which may not write `gates`, uploads with the same statements as the admin.
    }

    public func recordHoles(gate: String, ranges: [ClosedRange<UInt64>], reason: String) throws(CentralStoreError) {
        try refuseUnsignedForKeyedGate(gate, ranges.map { "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ","))
        try run("cannot store holes of gate \(gate)") { () throws(PostgresError) in
            try conn.transaction { () throws(PostgresError) in
                try lockGateInTransaction(gate)
                try storeHolesInTransaction(gate: gate, ranges: ranges, reason: reason)
            }
        }
    }

    /// Inserts holes; a sequence held as a record or a hole stays as it is. The acknowledgement
    /// moves by itself: the trigger (migrations 4 and 5) fires on holes too.
    func storeHolesInTransaction(gate: String, ranges: [ClosedRange<UInt64>], reason: String) throws(PostgresError) {
        for range in ranges where range.upperBound <= JournalEntry.maxSequence {
            try conn.query(
                """
                INSERT INTO journal_holes(gate_id, seq, reason, noted_at)
                SELECT $1, s, $4, \(Self.nowMillis) FROM generate_series($2::bigint, $3::bigint) AS s
                WHERE NOT EXISTS (SELECT 1 FROM journal j WHERE j.gate_id = $1 AND j.seq = s)
                  AND NOT EXISTS (SELECT 1 FROM journal_holes h WHERE h.gate_id = $1 AND h.seq = s)
                """, [gate, String(range.lowerBound), String(range.upperBound), reason])
        }
    }

    public func highestSequence(gate: String) throws(CentralStoreError) -> UInt64 {
        try run("cannot read highest sequence of gate \(gate)") { () throws(PostgresError) in
            let r = try conn.query(
                """
                SELECT GREATEST((SELECT max(seq) FROM journal WHERE gate_id = $1),
                                (SELECT max(seq) FROM journal_holes WHERE gate_id = $1))
                """, [gate])
            return UInt64(r.int64(0, 0) ?? 0)
        }
    }

    public func acknowledgedSequence(gate: String) throws(CentralStoreError) -> UInt64 {
        try run("cannot read acknowledged sequence of gate \(gate)") { () throws(PostgresError) in
            let r = try conn.query("SELECT acked_seq FROM gates WHERE gate_id = $1", [gate])
            return UInt64(r.int64(0, 0) ?? 0)
        }
    }

    /// Journal entries stored for `gate`, in sequence order (for checks and reports).
    public func journal(gate: String) throws(CentralStoreError) -> [JournalEntry] {
        try run("cannot read journal of \(gate)") { () throws(PostgresError) in
            let r = try conn.query("SELECT record FROM journal WHERE gate_id = $1 ORDER BY seq", [gate])
            return (0..<r.rows).compactMap { row in r.text(row, 0).flatMap { try? JournalCodec.decode(Substring($0)) } }
        }
    }
}

extension PostgresCentralStore: JournalReviewStore {
    public func journalHoles(gate: String?) throws(CentralStoreError) -> [JournalHole] {
        try run("cannot read journal holes") { () throws(PostgresError) in
            let r = try conn.query(
                """
                SELECT gate_id, seq, reason, noted_at FROM journal_holes WHERE $1::text IS NULL OR gate_id = $1
                ORDER BY gate_id, seq
                """, [gate])
            return (0..<r.rows).map { row in
                JournalHole(
                    gate: r.text(row, 0) ?? "", sequence: UInt64(r.int64(row, 1) ?? 0), reason: r.text(row, 2) ?? "",
                    notedMillis: r.int64(row, 3) ?? 0)
            }
        }
    }

    public func journalConflicts(gate: String?) throws(CentralStoreError) -> [JournalConflict] {
        try run("cannot read journal conflicts") { () throws(PostgresError) in
            let r = try conn.query(
                """
                SELECT gate_id, seq, stored_record, offered_record, seen_at FROM journal_conflicts
                WHERE $1::text IS NULL OR gate_id = $1 ORDER BY gate_id, seq, id
                """, [gate])
            return (0..<r.rows).map { row in
                JournalConflict(
                    gate: r.text(row, 0) ?? "", sequence: UInt64(r.int64(row, 1) ?? 0),
                    storedRecord: r.text(row, 2) ?? "", offeredRecord: r.text(row, 3) ?? "",
                    seenMillis: r.int64(row, 4) ?? 0)
            }
        }
    }
}
