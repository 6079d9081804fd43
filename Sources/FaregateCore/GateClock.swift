import Dispatch
import Synchronization

/// A source of monotonic and wall time. Injected everywhere time matters so tests control it,
/// timers included: a thread that waits for a deadline sleeps on a `ClockSleeper` of this clock,
/// so the sync schedule and the barrier's deadlines run in simulated time under a `ManualClock`.
public protocol GateClock: Sendable {
    /// Monotonic nanoseconds since an arbitrary origin; never goes backwards.
    func monotonicNanos() -> UInt64
    /// Wall-clock Unix epoch milliseconds (for journals, validity dates and policy eras).
    func wallMillis() -> Int64

    /// How long, in host nanoseconds, a sleeper may block before it reads this clock again when
    /// it is `now` and the sleeper's deadline is `deadline`. Nil: until it is woken or nudged (a
    /// clock that only moves when told, and nudges its sleepers when it does).
    /// Default: `deadline - now` (a clock that runs at the host's speed).
    func hostWaitNanos(from now: UInt64, to deadline: UInt64) -> UInt64?
    /// Called as `sleeper` starts sleeping until `deadline` (nil: until woken); a simulated clock
    /// keeps the sleepers it must nudge when it moves. Default: nothing.
    func sleeperWillSleep(_ sleeper: ClockSleeper, until deadline: UInt64?)
    /// Called as `sleeper` returns from its sleep. Default: nothing.
    func sleeperDidWake(_ sleeper: ClockSleeper)
}

extension GateClock {
    public func hostWaitNanos(from now: UInt64, to deadline: UInt64) -> UInt64? { deadline &- now }
    public func sleeperWillSleep(_ sleeper: ClockSleeper, until deadline: UInt64?) {}
    public func sleeperDidWake(_ sleeper: ClockSleeper) {}
}

/// One thread's timed wait on a `GateClock`: until the clock reaches a deadline, or until another
/// thread calls `wake()`.
///
/// A wake is never lost: `wake()` before `sleep` makes that sleep return at once. Wakes coalesce:
/// several before one sleep end that one sleep only (the sleeper acts once, after all of them).
/// One thread sleeps on a sleeper; `wake()` and `nudge()` are safe from any thread.
///
/// Blocking lives here, in the core, so that every timer of the gate has one implementation
/// whatever the clock: the clock only says how long the host may block (`hostWaitNanos`).
public final class ClockSleeper: Sendable {
    private let clock: any GateClock
    /// Set by `wake()`, taken by the sleeping thread.
    private let pending = Atomic<Bool>(false)
    /// Counts wakes and nudges; the sleeping thread re-reads `pending` and the clock after each.
    private let semaphore = DispatchSemaphore(value: 0)

    public init(clock: any GateClock) { self.clock = clock }

    /// Ends the current or the next sleep with `true`.
    public func wake() {
        // Acquiring-and-releasing: what the waker wrote before waking is visible to the sleeper
        // that takes the flag. Only the waker that raises the flag signals, so a burst of wakes
        // costs one pass of the sleeper; the semaphore carries it if the sleeper is not yet blocked.
        if !pending.exchange(true, ordering: .acquiringAndReleasing) { semaphore.signal() }
    }

    /// Makes a blocked sleeper read its clock again (a simulated clock that moved).
    public func nudge() { semaphore.signal() }

    /// Blocks until `wake()` (returns true) or until the clock reads `deadline` or later (returns
    /// false). A nil deadline waits for a wake only.
    @discardableResult
    public func sleep(until deadline: UInt64?) -> Bool {
        clock.sleeperWillSleep(self, until: deadline)
        defer { clock.sleeperDidWake(self) }
        while true {
            if pending.exchange(false, ordering: .acquiringAndReleasing) {
                // Take the token the raising wake() left, if this pass never blocked on it, so
                // tokens do not pile up under steady wakes (each would cost the next idle sleep
                // a pass). Safe: a wake raised after the exchange sets the flag again, so taking
                // its token instead still ends the next sleep at once.
                _ = semaphore.wait(timeout: .now())
                return true
            }
            let now = clock.monotonicNanos()
            if let deadline, now >= deadline { return false }
            if let deadline, let host = clock.hostWaitNanos(from: now, to: deadline) {
                _ = semaphore.wait(timeout: .now() + .nanoseconds(Int(clamping: host)))
            } else {
                semaphore.wait()
            }
        }
    }
}
