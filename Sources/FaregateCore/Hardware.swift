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

/// A bench gate's out-of-band "a rider presents this card", for the control socket's `tap`
/// command: simulated readers provide it (`SimulatedTapPresenter`); a gate on real readers has
/// none, and `tap` is refused there.
public protocol TapPresenter: Sendable {
    /// How many readers a card can be presented at (indices `0 ..< readerCount`).
    var readerCount: Int { get }
    /// Presents `card` at reader `reader` (below `readerCount`), read with `fault` if one is
    /// given. Returns at once; the tap is decided and journalled as any other.
    func present(_ card: CardKey, fault: CardFault?, at reader: Int)
}

/// The lane side of a gate (flaps, indicators, display, buzzer): where decisions are shown.
///
/// `decided(_:at:)` must not block for long: it hands the decision to the barrier's own thread.
/// Implementations: `BarrierDriver` (a `BarrierController` over the I/O board), `SimulatedBarrier`.
public protocol Barrier: AnyObject, Sendable {
    /// Shows `decision` for a tap made at `end` of the passage: open for one passage, stay
    /// closed, or stay closed and call staff, with the reason's message. Called after the tap's
    /// journal entry is durable (or, for an entry that is not, with the deny that replaces it).
    func decided(_ decision: Decision, at end: GateEnd)

    /// The mode the lane acts in now: the staff mode once it applies (a passage in progress ends
    /// first), `emergencyOpen` while a fire alarm or power loss holds the flaps open. The decision
    /// loop reads it before each batch so that the journal says what the lane does with the tap
    /// (`GateCore.lane`). Safe from any thread.
    var effectiveMode: GateMode { get }
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
