/// The link to a passage's I/O board as a pure state machine: counts failed transactions by kind,
/// takes the lane out of service after `failedPollsOutOfService` in a row (or when the board
/// cannot be reached at all), schedules reconnects with doubling backoff, and puts the lane back in
/// service by itself once the board answers and every zone reads clear.
///
/// The board adapter reports what happened (`connected`, `connectFailed`, `polled`, `failed`) with
/// the monotonic time, and performs the returned actions in order: hand inputs to the controller,
/// drop the connection, write every output again. Not thread-safe: owned by the adapter's I/O
/// thread.
public struct IOBoardLink: Sendable {
    public struct Settings: Hashable, Sendable {
        /// Failed transactions in a row that take the lane out of service.
        public var failedPollsOutOfService = 10
        /// First reconnect delay; doubles up to `backoffMax`, back to this after a good poll.
        public var backoffInitial: UInt64 = 100_000_000
        public var backoffMax: UInt64 = 5_000_000_000
        public init() {}
    }

    /// What went wrong with one transaction (libmodbus' errno, classified by the adapter).
    public enum Failure: UInt8, Sendable, Hashable, CaseIterable {
        /// No (complete) answer within the response timeout.
        case timeout
        /// An RTU frame whose CRC did not match.
        case crc
        /// The connection is gone (TCP reset or refused, serial device vanished).
        case disconnect
        /// The board answered with a Modbus exception (illegal address, device failure, …).
        case exception
        /// Anything else (a malformed answer).
        case other
    }

    public enum Action: Hashable, Sendable {
        /// An input for the barrier controller (an edge, or the board going or coming back).
        case deliver(GateInput)
        /// Close the connection; reconnect at `nextAttempt`.
        case disconnect
        /// The board may have lost its outputs (a new connection, a reset board): write them all.
        case rewriteOutputs
    }

    public var settings: Settings
    /// Whether a connection is open.
    public private(set) var connected = false
    /// What the controller was last told: the lane is in service.
    public private(set) var inService = true
    /// The last levels read (and handed on as edges).
    public private(set) var levels = IOBoardLevels()
    /// When to try to connect next (while not connected).
    public private(set) var nextAttempt: UInt64 = 0
    public private(set) var counters = IOBoardCounters()
    private var inARow = 0
    private var backoff: UInt64

    public init(settings: Settings = Settings()) {
        self.settings = settings
        backoff = settings.backoffInitial
    }

    public mutating func connected(now: UInt64) -> [Action] {
        connected = true
        counters.connects += 1
        return [.rewriteOutputs]
    }

    /// The board could not be reached at all: out of service at once (there is nothing to poll).
    public mutating func connectFailed(_ failure: Failure, now: UInt64) -> [Action] {
        count(failure)
        var a: [Action] = []
        goOutOfService(&a)
        scheduleReconnect(now)
        return a
    }

    /// A read of the inputs answered with `read`.
    public mutating func polled(_ read: IOBoardLevels, now: UInt64) -> [Action] {
        counters.polls += 1
        inARow = 0
        backoff = settings.backoffInitial
        var a = levels.edges(to: read).map(Action.deliver)
        levels = read
        if !inService && read.allClear {
            inService = true
            a.append(.deliver(.ioBoard(online: true)))
        }
        return a
    }

    /// A read or write failed.
    public mutating func failed(_ failure: Failure, now: UInt64) -> [Action] {
        counters.polls += 1
        count(failure)
        inARow += 1
        var a: [Action] = []
        if inARow >= settings.failedPollsOutOfService {
            goOutOfService(&a)
            scheduleReconnect(now)
        } else if failure == .disconnect {
            // The connection is gone but the lane may not be: reconnect at once (a failed
            // reconnect takes it out of service).
            nextAttempt = now
        } else {
            return a
        }
        a.append(.disconnect)
        connected = false
        return a
    }

    private mutating func count(_ failure: Failure) {
        counters.failedPolls += 1
        switch failure {
        case .timeout: counters.timeouts += 1
        case .crc: counters.crcErrors += 1
        case .disconnect: counters.disconnects += 1
        case .exception: counters.exceptions += 1
        case .other: counters.otherErrors += 1
        }
    }

    private mutating func goOutOfService(_ a: inout [Action]) {
        inARow = 0
        guard inService else { return }
        inService = false
        counters.losses += 1
        a.append(.deliver(.ioBoard(online: false)))
    }

    private mutating func scheduleReconnect(_ now: UInt64) {
        let (at, overflow) = now.addingReportingOverflow(backoff)
        nextAttempt = overflow ? .max : at
        backoff = min(backoff * 2, settings.backoffMax)
    }
}

/// Counters of one board link, for metrics and status.
public struct IOBoardCounters: Hashable, Sendable {
    /// Transactions tried (reads and writes).
    public var polls: UInt64 = 0
    public var failedPolls: UInt64 = 0
    public var timeouts: UInt64 = 0
    public var crcErrors: UInt64 = 0
    public var disconnects: UInt64 = 0
    public var exceptions: UInt64 = 0
    public var otherErrors: UInt64 = 0
    /// Connections opened (the first one included).
    public var connects: UInt64 = 0
    /// Times the lane went out of service because of the board.
    public var losses: UInt64 = 0
    public init() {}
}

/// A board adapter's link health, for metrics and `farectl status`: implemented by the Modbus
/// adapter and by `SimulatedGateIO` (whose board is lost and restored out of band).
public protocol IOBoardMonitor: AnyObject, Sendable {
    /// Whether the lane is in service as far as the board is concerned.
    var boardInService: Bool { get }
    var boardCounters: IOBoardCounters { get }
}
