import Dispatch
import FaregateCore
import Synchronization

/// A clock that moves only when a test advances it.
///
/// Thread-safe: readers on any thread see the value the last `advance`/`set` stored. Threads that
/// sleep on it (`ClockSleeper`) wake only when it is advanced past their deadline or they are
/// woken; a test sees where they sleep with `sleepDeadlines` and waits for them to get there with
/// `waitForSleepers`, so timers are tested without any real waiting.
public final class ManualClock: GateClock {
    private struct State {
        var mono: UInt64
        var wall: Int64
        /// Sleepers now blocked, with their deadlines (nil: until woken).
        var sleepers: [(sleeper: ClockSleeper, deadline: UInt64?)] = []
        /// Sleeps begun since start, so a test can wait for the next one.
        var sleepsBegun = 0
    }
    /// `Locked` rather than `Mutex`, so that ThreadSanitizer suites on this clock see its lock
    /// (scripts/tsan-suites.txt).
    private let state: Locked<State>
    /// Signalled as each sleep begins (`waitForSleeps`).
    private let sleepBegan = DispatchSemaphore(value: 0)

    /// Starts at monotonic `monotonicNanos` and wall-clock `wallMillis` (default 2022-06-01 08:00 Beijing).
    public init(monotonicNanos: UInt64 = 1_000_000_000, wallMillis: Int64 = 1_654_041_600_000) {
        state = Locked(State(mono: monotonicNanos, wall: wallMillis))
    }

    public func monotonicNanos() -> UInt64 { state.withLock { $0.mono } }
    public func wallMillis() -> Int64 { state.withLock { $0.wall } }

    /// Moves both clocks forward by `nanos`; sleepers whose deadline passed wake.
    public func advance(nanos: UInt64) {
        let sleepers = state.withLock { s -> [ClockSleeper] in
            s.mono += nanos
            s.wall += Int64(nanos / 1_000_000)
            return s.sleepers.map(\.sleeper)
        }
        for s in sleepers { s.nudge() }
    }

    public func advance(seconds: Int) { advance(nanos: UInt64(seconds) * 1_000_000_000) }

    /// Sets the wall clock (the monotonic clock is untouched, as on a real host when NTP steps).
    public func setWall(millis: Int64) { state.withLock { $0.wall = millis } }

    // MARK: Sleepers

    /// Never block on the host's time: only `advance` (which nudges) or a wake moves a sleeper.
    public func hostWaitNanos(from now: UInt64, to deadline: UInt64) -> UInt64? { nil }

    public func sleeperWillSleep(_ sleeper: ClockSleeper, until deadline: UInt64?) {
        state.withLock {
            $0.sleepers.append((sleeper, deadline))
            $0.sleepsBegun += 1
        }
        sleepBegan.signal()
    }

    public func sleeperDidWake(_ sleeper: ClockSleeper) {
        state.withLock { $0.sleepers.removeAll { $0.sleeper === sleeper } }
    }

    /// The deadlines the blocked sleepers wait for (nil: until woken), in the order they began.
    public var sleepDeadlines: [UInt64?] { state.withLock { $0.sleepers.map(\.deadline) } }

    /// Number of sleeps begun since the clock was made (a test reads it, acts, then waits for the
    /// next sleep with `waitForSleeps(beyond:)`).
    public var sleepsBegun: Int { state.withLock { $0.sleepsBegun } }

    /// Blocks until more than `count` sleeps have begun and a sleeper is blocked, or until
    /// `timeoutSeconds` of host time passed (a safety net for a broken test, not a timing).
    /// Returns whether the sleep began.
    @discardableResult
    public func waitForSleeps(beyond count: Int, timeoutSeconds: Double = 10) -> Bool {
        let deadline = DispatchTime.now() + timeoutSeconds
        while true {
            if state.withLock({ $0.sleepsBegun > count && !$0.sleepers.isEmpty }) { return true }
            if sleepBegan.wait(timeout: deadline) == .timedOut { return false }
        }
    }
}
