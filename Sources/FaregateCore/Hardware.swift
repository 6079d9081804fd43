/// A source of monotonic and wall time. Injected everywhere time matters so tests control it.
public protocol GateClock: Sendable {
    /// Monotonic nanoseconds since an arbitrary origin; never goes backwards.
    func monotonicNanos() -> UInt64
    /// Wall-clock Unix epoch milliseconds (for journals, validity dates and policy eras).
    func wallMillis() -> Int64
}

/// What a reader thread gets back when it waits for the next presentation.
public enum ReaderEvent: Sendable, Equatable {
    /// A medium was presented and read (or its read failed).
    case tap(Tap)
    /// The reader is gone (unplugged, driver lost); the reader itself retries, this is a notice.
    case readerLost(String)
    /// The reader is back after a loss.
    case readerRestored
    /// `cancel()` was called: the reader thread should exit.
    case cancelled
}

/// A contactless reader (or code scanner) that a gate reads media through.
///
/// `nextEvent()` blocks the calling thread (one dedicated thread per reader) until something
/// happens; `cancel()` may be called from any thread and makes a blocked or later `nextEvent()`
/// return `.cancelled`. Cards are read by `TransportCardReader` over a `CardTransport` (PC/SC or
/// simulated); a future code scanner would be another implementation.
public protocol CardReader: AnyObject, Sendable {
    var name: String { get }
    func nextEvent() -> ReaderEvent
    func cancel()
}

/// A command to the barrier and its display.
public enum BarrierCommand: Hashable, Sendable {
    /// Open for one passage, showing the reason's message.
    case open(Reason)
    /// Stay closed and show the reason's message.
    case deny(Reason)
    /// Stay closed, show the reason and call staff.
    case callStaff(Reason)

    public init(_ decision: Decision) {
        switch decision {
        case .open(let r): self = .open(r)
        case .deny(let r): self = .deny(r)
        case .staff(let r): self = .callStaff(r)
        }
    }
}

/// The barrier (flaps, indicators, display, buzzer) of one gate.
///
/// `command(_:)` must not block for long: it hands the command to the I/O board.
public protocol Barrier: AnyObject, Sendable {
    func command(_ command: BarrierCommand)
    /// The command for a tap at reader `reader` (a passage with a reader at each end needs to
    /// know which end the decision is for).
    func command(_ command: BarrierCommand, reader: UInt16)
}

extension Barrier {
    public func command(_ command: BarrierCommand, reader: UInt16) { self.command(command) }
}

/// Lookup side of the binding and health-status table, as the decision loop sees it.
///
/// Thread-safe; lookups never wait for an update in progress.
public protocol CardStatusLookup: Sendable {
    /// The status of `key`, or nil when the key is not in the table.
    func status(of key: CardKey) -> CardStatus?
    /// The central data version the table was built from.
    var dataVersion: UInt64 { get }
    /// Number of keys in the table.
    var count: Int { get }
}

/// A bounded queue of taps between reader threads and the decision loop.
///
/// Fixed capacity; a push onto a full ring fails and the caller counts and reports it (the rider
/// sees "tap again"): a tap is never dropped silently. Safe for several producers and one consumer.
public protocol TapRing: Sendable {
    var capacity: Int { get }
    /// Appends `tap`; false when the ring is full.
    func tryPush(_ tap: Tap) -> Bool
    /// Removes the oldest tap; nil when empty. Called by the single consumer only.
    func tryPop() -> Tap?
}
