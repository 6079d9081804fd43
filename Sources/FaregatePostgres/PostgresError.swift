/// An error from libpq or the server: the SQLSTATE (when the server sent one) and its message.
///
/// `sqlstate` keeps the raw five-character code; named members cover the codes the store reacts to.
public struct PostgresError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct SQLState: RawRepresentable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let uniqueViolation = SQLState(rawValue: "23505")
        public static let foreignKeyViolation = SQLState(rawValue: "23503")
        public static let checkViolation = SQLState(rawValue: "23514")
        public static let serializationFailure = SQLState(rawValue: "40001")
        public static let deadlockDetected = SQLState(rawValue: "40P01")
        public static let undefinedTable = SQLState(rawValue: "42P01")
        /// Permission denied, including a row refused by a row-level security policy.
        public static let insufficientPrivilege = SQLState(rawValue: "42501")
        public static let raiseException = SQLState(rawValue: "P0001")
        public static let adminShutdown = SQLState(rawValue: "57P01")

        /// Class 08: connection exceptions.
        public var isConnectionError: Bool { rawValue.hasPrefix("08") }
        /// Class 23: integrity constraint violations.
        public var isConstraintViolation: Bool { rawValue.hasPrefix("23") }
    }

    /// Nil when the error never reached the server (connection refused, broken socket).
    public var sqlstate: SQLState?
    public var message: String
    /// True when the connection is unusable afterwards.
    public var connectionLost: Bool

    public init(sqlstate: SQLState?, message: String, connectionLost: Bool = false) {
        self.sqlstate = sqlstate
        self.message = message
        self.connectionLost = connectionLost
    }

    public var description: String {
        "PostgreSQL error" + (sqlstate.map { " \($0.rawValue)" } ?? "") + ": " + message
    }
}
