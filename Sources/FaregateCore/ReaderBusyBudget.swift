/// How long one tap may wait for another application to let go of the card (a PC/SC sharing
/// violation on connect: someone holds the card with an exclusive connection), as a pure state
/// machine with time as an argument.
///
/// The budget starts at the tap's first sharing violation. Each later violation waits for the
/// reader's state to change, at most one step: 5 ms doubling to 80 ms, never past the deadline
/// (an exclusive holder that lets go wakes that wait at once, so the step only bounds a holder
/// that never does). Once the deadline has passed the tap is journalled `reader_busy`: the whole
/// tap must be decided well inside 300 ms, so the budget stays well below that.
public struct ReaderBusyBudget: Hashable, Sendable {
    public enum Step: Hashable, Sendable {
        /// Wait up to `millis` for the reader's state to change, then connect again (or give up
        /// with `cardRemoved` when the card left meanwhile).
        case wait(millis: UInt32)
        /// The budget is spent: the tap is `readerBusy`.
        case exhausted
    }

    public let millis: Int
    /// Monotonic nanoseconds of the first sharing violation; nil before it.
    public private(set) var startedAt: UInt64?
    /// Sharing violations seen in this tap.
    public private(set) var attempts = 0
    private var stepMillis: UInt32 = 0

    public init(millis: Int) { self.millis = max(0, millis) }

    /// True when the last `sharingViolation(at:)` was the tap's first (the adapter logs it).
    public var isFirst: Bool { attempts == 1 }

    /// A sharing violation at `now` (monotonic nanoseconds): what to do next.
    public mutating func sharingViolation(at now: UInt64) -> Step {
        let start = startedAt ?? now
        startedAt = start
        attempts += 1
        let deadline = start &+ UInt64(millis) * 1_000_000
        guard now < deadline else { return .exhausted }
        stepMillis = min(max(5, stepMillis * 2), 80)
        let left = UInt32(clamping: (deadline - now + 999_999) / 1_000_000)
        return .wait(millis: min(stepMillis, left))
    }

    /// Milliseconds waited since the first violation, at `now`.
    public func waitedMillis(at now: UInt64) -> UInt64 { (now &- (startedAt ?? now)) / 1_000_000 }
}
