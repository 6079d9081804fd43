import CLibPQ
import FaregateCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One libpq connection (`PGconn*`), closed with `PQfinish` when the object goes away.
///
/// The connection string is passed to libpq as-is, so multi-host strings
/// (`host=a,b port=5432,5432 target_session_attrs=read-write`) fail over the way libpq does.
/// Not thread-safe: one owner thread at a time (libpq connections are not shareable).
public final class PostgresConnection {
    let handle: OpaquePointer

    /// libpq's `connect_timeout` (seconds) when neither the connection string nor
    /// `PGCONNECT_TIMEOUT` sets one: without it libpq waits for the kernel's TCP timeout (minutes)
    /// on a black-holed address, and the gate's sync thread (and its stop) with it.
    public static let defaultConnectTimeoutSeconds = 5

    /// Connects; wraps `PQconnectdbParams` (`expand_dbname`: `conninfo` is a connection string
    /// or URI as `PQconnectdb` takes it) and checks `PQstatus`. `connect_timeout` comes before
    /// the expanded string in the parameter arrays, so a value the string sets wins (libpq: "array
    /// entries appearing before an expanded dbname entry can be overridden by fields of the
    /// connection string").
    public init(_ conninfo: String) throws(PostgresError) {
        var keywords = ["dbname"]
        var values = [conninfo]
        if getenv("PGCONNECT_TIMEOUT") == nil {
            keywords.insert("connect_timeout", at: 0)
            values.insert(String(Self.defaultConnectTimeoutSeconds), at: 0)
        }
        let connection = Self.withCStrings(keywords) { k in
            Self.withCStrings(values) { v in PQconnectdbParams(k, v, 1) }
        }
        guard let conn = connection else {
            throw PostgresError(sqlstate: nil, message: "out of memory", connectionLost: true)
        }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(conn))
            PQfinish(conn)
            throw PostgresError(sqlstate: nil, message: message, connectionLost: true)
        }
        handle = conn
        // Notices (e.g. "relation already exists, skipping") would go to stderr; keep them out.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
    }

    deinit { PQfinish(handle) }

    /// Calls `body` with `strings` as a NULL-terminated array of C strings (valid only inside).
    static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
        let copies = strings.map { strdup($0) }
        defer { for c in copies { free(c) } }
        var pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } }
        pointers.append(nil)
        return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
    }

    /// Reconnects with the same parameters (after a server restart or failover); wraps `PQreset`.
    public func reset() throws(PostgresError) {
        PQreset(handle)
        guard PQstatus(handle) == CONNECTION_OK else {
            throw PostgresError(sqlstate: nil, message: Self.trimmed(PQerrorMessage(handle)), connectionLost: true)
        }
    }

    /// True while the connection is usable. Wraps `PQstatus`.
    public var isOpen: Bool { PQstatus(handle) == CONNECTION_OK }

    static func trimmed(_ p: UnsafePointer<CChar>?) -> String {
        guard let p else { return "" }
        var s = String(cString: p)
        while s.last == "\n" || s.last == " " { s.removeLast() }
        return s
    }

    /// Runs one statement with text parameters `$1…$n` (nil is SQL NULL); wraps `PQexecParams`.
    /// Results come back in text format.
    @discardableResult
    public func query(_ sql: String, _ params: [String?] = []) throws(PostgresError) -> PostgresResult {
        // libpq wants `const char* const*`: copy each parameter into a C string for the call.
        let cStrings: [UnsafeMutablePointer<CChar>?] = params.map { $0.flatMap { strdup($0) } }
        defer { for p in cStrings { free(p) } }
        let raw = cStrings.withUnsafeBufferPointer { buf -> OpaquePointer? in
            buf.withMemoryRebound(to: UnsafePointer<CChar>?.self) { values in
                PQexecParams(handle, sql, Int32(params.count), nil, values.baseAddress, nil, nil, 0)
            }
        }
        return try check(raw)
    }

    /// Runs one or more statements without parameters; wraps `PQexec`.
    public func execute(_ sql: String) throws(PostgresError) {
        _ = try check(PQexec(handle, sql))
    }

    func check(_ raw: OpaquePointer?) throws(PostgresError) -> PostgresResult {
        guard let raw else {
            throw PostgresError(
                sqlstate: nil, message: Self.trimmed(PQerrorMessage(handle)),
                connectionLost: PQstatus(handle) != CONNECTION_OK)
        }
        let result = PostgresResult(raw)
        switch PQresultStatus(raw) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return result
        default:
            let state = PQresultErrorField(raw, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            var message = Self.trimmed(PQresultErrorMessage(raw))
            if message.isEmpty { message = Self.trimmed(PQerrorMessage(handle)) }
            throw PostgresError(
                sqlstate: state.map(PostgresError.SQLState.init(rawValue:)), message: message,
                connectionLost: PQstatus(handle) != CONNECTION_OK)
        }
    }

    /// The SCRAM-SHA-256 verifier of `password` for role `user`, computed here so that the
    /// password itself never reaches the server (nor its statement log). Wraps
    /// `PQencryptPasswordConn`.
    public func scramVerifier(password: String, user: String) throws(PostgresError) -> String {
        guard let p = PQencryptPasswordConn(handle, password, user, "scram-sha-256") else {
            throw PostgresError(sqlstate: nil, message: Self.trimmed(PQerrorMessage(handle)))
        }
        defer { PQfreemem(p) }
        return String(cString: p)
    }

    /// Runs `body` in a transaction, rolling back if it throws. `isolation` is an SQL isolation
    /// clause such as "ISOLATION LEVEL REPEATABLE READ, READ ONLY".
    public func transaction<T>(_ isolation: String = "", _ body: () throws(PostgresError) -> T) throws(PostgresError)
        -> T
    {
        try execute("BEGIN " + isolation)
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }
}

/// A query result (`PGresult*`), freed with `PQclear`. Values are read in text format.
public final class PostgresResult {
    let handle: OpaquePointer

    init(_ handle: OpaquePointer) { self.handle = handle }
    deinit { PQclear(handle) }

    /// Rows returned. Wraps `PQntuples`.
    public var rows: Int { Int(PQntuples(handle)) }
    /// Rows affected by INSERT/UPDATE/DELETE. Wraps `PQcmdTuples`.
    public var affected: Int { PQcmdTuples(handle).flatMap { Int(String(cString: $0)) } ?? 0 }

    public func isNull(_ row: Int, _ column: Int) -> Bool { PQgetisnull(handle, Int32(row), Int32(column)) != 0 }

    /// The text value, nil for NULL. Wraps `PQgetvalue`.
    public func text(_ row: Int, _ column: Int) -> String? {
        guard row < rows, !isNull(row, column), let p = PQgetvalue(handle, Int32(row), Int32(column)) else {
            return nil
        }
        return String(cString: p)
    }

    public func int64(_ row: Int, _ column: Int) -> Int64? { text(row, column).flatMap { Int64($0) } }

    /// A `bytea` column in hex output format (`\x0a1b…`).
    public func bytes(_ row: Int, _ column: Int) -> [UInt8]? {
        guard let t = text(row, column), t.hasPrefix("\\x") else { return nil }
        return PostgresHex.decode(t.dropFirst(2))
    }
}

/// `bytea` hex format, for parameters and results.
public enum PostgresHex {
    static let digits = Array("0123456789abcdef".utf8)

    /// `\x…` literal of `bytes`, usable as a text parameter for a `bytea` column.
    public static func literal(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = [UInt8(ascii: "\\"), UInt8(ascii: "x")]
        out.reserveCapacity(2 + bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ s: Substring) -> [UInt8]? { Hex.bytes(exact: s) }
}
