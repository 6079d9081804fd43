/// When a gate next syncs with central state: the interval with jitter after a success, a
/// doubling backoff after a failure. A pure state machine: time is an argument and the jitter
/// comes from the schedule's own seeded generator, so a test replays any sequence of outcomes in
/// simulated time.
///
/// - After a success (and at start), the next sync is `interval + U(0, jitter)` later: gates
///   that started together drift apart instead of calling central in step.
/// - After the n-th failure in a row, it is `1 s · 2^(n-1)` later, and never more than
///   `maxBackoff` (itself at least 1 s): a central outage costs a few calls a minute per
///   gate, and the gate is back within `maxBackoff` of central returning.
public struct SyncSchedule: Sendable {
    public var intervalNanos: UInt64
    public var jitterNanos: UInt64
    public var maxBackoffNanos: UInt64
    /// The wait after the next failure.
    public private(set) var backoffNanos: UInt64 = Self.firstBackoff
    /// Failures since the last success.
    public private(set) var failuresInARow = 0
    private var random: SplitMix64

    static let firstBackoff: UInt64 = 1_000_000_000

    /// Durations in seconds, as the gate's configuration gives them; negative ones count as 0.
    /// `seed` picks the jitter sequence (the daemon seeds it at random, tests with a constant).
    public init(intervalSeconds: Double, jitterSeconds: Double, maxBackoffSeconds: Double, seed: UInt64) {
        intervalNanos = Self.nanos(intervalSeconds)
        jitterNanos = Self.nanos(jitterSeconds)
        // Never below the first retry's 1 s: a cap under it would retry a store that fails at
        // once (connection refused) in a tight loop.
        maxBackoffNanos = max(Self.nanos(maxBackoffSeconds), Self.firstBackoff)
        random = SplitMix64(seed: seed)
    }

    /// The deadline of the first scheduled sync, for a gate that starts at `now`.
    public mutating func first(at now: UInt64) -> UInt64 { Self.later(now, by: regularWait()) }

    /// The deadline of the next sync after one that ended at `now` and `succeeded` or not.
    public mutating func next(after succeeded: Bool, at now: UInt64) -> UInt64 {
        if succeeded {
            failuresInARow = 0
            backoffNanos = Self.firstBackoff
            return Self.later(now, by: regularWait())
        }
        failuresInARow += 1
        let wait = backoffNanos
        let (doubled, overflow) = backoffNanos.multipliedReportingOverflow(by: 2)
        backoffNanos = min(overflow ? .max : doubled, maxBackoffNanos)
        return Self.later(now, by: wait)
    }

    /// `now + wait`, where a sum past the end of time is the end of time.
    private static func later(_ now: UInt64, by wait: UInt64) -> UInt64 {
        let (deadline, overflow) = now.addingReportingOverflow(wait)
        return overflow ? .max : deadline
    }

    private mutating func regularWait() -> UInt64 {
        let jitter = jitterNanos == 0 ? 0 : UInt64.random(in: 0...jitterNanos, using: &random)
        let (wait, overflow) = intervalNanos.addingReportingOverflow(jitter)
        return overflow ? .max : wait
    }

    private static func nanos(_ seconds: Double) -> UInt64 {
        guard seconds > 0 else { return 0 }
        // Beyond ~584 years the clamp is as good as forever.
        return seconds >= Double(UInt64.max) / 1e9 ? .max : UInt64(seconds * 1e9)
    }
}
