import CSQLite

#if canImport(Glibc)
    import Glibc
#endif

/// One SQLite connection (`sqlite3*`), closed when the object goes away.
///
/// Not thread-safe: use from one thread at a time (the store's owner).
public final class SQLiteConnection {
    let handle: OpaquePointer
    public let path: String

    /// Opens (and with `create`, creates) the database at `path`. Wraps `sqlite3_open_v2`.
    public init(path: String, create: Bool = false, readOnly: Bool = false) throws(SQLiteError) {
        var db: OpaquePointer?
        var flags = readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE
        if create && !readOnly {
            flags |= SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW
            // Central state (identity hashes, the card table) is the owner's alone: a new file is
            // created 0600 here, before SQLite opens it (SQLite would create it 0644 less the
            // umask; its -wal and -shm files take the database file's mode). O_EXCL: an existing
            // file is left as it is; O_NOFOLLOW: a dangling symlink planted at the path is not
            // followed to create a file elsewhere.
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fd >= 0 {
                _ = fchmod(fd, 0o600)
                close(fd)
            }
        }
        flags |= SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(code: .init(rawValue: rc), message: message)
        }
        handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, 5000)
    }

    deinit { sqlite3_close_v2(handle) }

    func error(_ rc: Int32) -> SQLiteError {
        SQLiteError(code: .init(rawValue: rc), message: String(cString: sqlite3_errmsg(handle)))
    }

    /// Runs one or more statements that return no rows. Wraps `sqlite3_exec`.
    public func execute(_ sql: String) throws(SQLiteError) {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc) }
    }

    /// Compiles one statement. Wraps `sqlite3_prepare_v2`.
    public func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc) }
        return SQLiteStatement(connection: self, handle: stmt)
    }

    /// Runs `body` in a transaction (BEGIN IMMEDIATE … COMMIT), rolling back if it throws.
    public func transaction<T>(_ body: () throws(SQLiteError) -> T) throws(SQLiteError) -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Rows changed by the last statement. Wraps `sqlite3_changes`.
    public var changes: Int { Int(sqlite3_changes(handle)) }
}

/// A compiled statement (`sqlite3_stmt*`), finalized when the object goes away.
public final class SQLiteStatement {
    let connection: SQLiteConnection
    let handle: OpaquePointer

    init(connection: SQLiteConnection, handle: OpaquePointer) {
        self.connection = connection
        self.handle = handle
    }

    deinit { sqlite3_finalize(handle) }

    /// Binds parameters 1…n in order; wraps `sqlite3_bind_*`. Resets the statement first.
    public func bind(_ values: SQLiteValue...) throws(SQLiteError) {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (i, v) in values.enumerated() {
            let idx = Int32(i + 1)
            let rc: Int32
            switch v {
            case .null: rc = sqlite3_bind_null(handle, idx)
            case .integer(let n): rc = sqlite3_bind_int64(handle, idx, n)
            case .text(let s): rc = sqlite3_bind_text(handle, idx, s, -1, SQLITE_TRANSIENT_PTR)
            case .blob(let b):
                rc = b.withUnsafeBytes {
                    sqlite3_bind_blob(handle, idx, $0.baseAddress, Int32($0.count), SQLITE_TRANSIENT_PTR)
                }
            }
            guard rc == SQLITE_OK else { throw connection.error(rc) }
        }
    }

    /// Advances to the next row; false when done. Wraps `sqlite3_step`.
    public func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw connection.error(rc)
        }
    }

    /// Runs the statement to completion, ignoring rows.
    public func run() throws(SQLiteError) {
        while try step() {}
    }

    public func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }
    /// The bytes of a BLOB column (empty for NULL). Wraps `sqlite3_column_blob` / `sqlite3_column_bytes`.
    public func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let p = sqlite3_column_blob(handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: count))
    }

    public func text(_ column: Int32) -> String {
        guard let p = sqlite3_column_text(handle, column) else { return "" }
        return String(cString: p)
    }
}

/// A value bound to a statement parameter.
public enum SQLiteValue: Sendable {
    case null
    case integer(Int64)
    case text(String)
    case blob([UInt8])
}

/// SQLITE_TRANSIENT: SQLite copies the bound value before the call returns.
let SQLITE_TRANSIENT_PTR = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
