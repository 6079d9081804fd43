/// An error from the central store: a stable code, a message an operator understands, and the
/// underlying cause (the database's own message) when there is one.
public struct CentralStoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The store cannot be opened or reached.
        public static let unavailable = Code(rawValue: "unavailable")
        /// The store's content is damaged or not a faregate store.
        public static let corrupt = Code(rawValue: "corrupt")
        /// The store's schema is newer or older than this build understands.
        public static let schemaMismatch = Code(rawValue: "schema_mismatch")
        /// A query failed.
        public static let queryFailed = Code(rawValue: "query_failed")
        /// A request broke a rule of the data (duplicate binding, unknown card, …).
        public static let refused = Code(rawValue: "refused")
    }

    public var code: Code
    public var message: String
    public var cause: String?

    public init(_ code: Code, _ message: String, cause: String? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        "central store \(code.rawValue): \(message)" + (cause.map { " (\($0))" } ?? "")
    }
}

/// What the gate needs from central state: the status table and a place for its journal.
///
/// Implementations (SQLite file, PostgreSQL) are not required to be thread-safe: the gate's sync
/// thread owns its store connection.
public protocol CentralStore: AnyObject {
    /// The latest published data version.
    func dataVersion() throws(CentralStoreError) -> UInt64

    /// Streams every card key and its status to `body`; returns the data version they form.
    func forEachStatus(_ body: (CardKey, CardStatus) -> Void) throws(CentralStoreError) -> UInt64

    /// Stores journal entries of `gate`; entries already stored are ignored (idempotent upload).
    func uploadJournal(gate: String, entries: [JournalEntry]) throws(CentralStoreError)

    /// The highest sequence of `gate` such that every entry 1...n is stored centrally.
    func acknowledgedSequence(gate: String) throws(CentralStoreError) -> UInt64

    /// Records that `gate` synced at `wallMillis` and has `dataVersion` in service, so that
    /// `farectl central gates` shows each gate's last sync and data lag.
    func recordSync(gate: String, dataVersion: UInt64, wallMillis: Int64) throws(CentralStoreError)
}
