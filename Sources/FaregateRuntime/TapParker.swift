import Dispatch
import Synchronization

/// Spin-then-park for the decision loop: when the ring is empty the consumer spins briefly
/// re-checking a condition, then blocks on a semaphore; producers wake it after a push.
///
/// Intended use (one consumer thread, any number of producers):
///
///     // decision thread
///     while running {
///         if let tap = ring.tryPop() { handle(tap) }
///         else { parker.park(until: { !ring.isEmpty || stopping.load(ordering: .sequentiallyConsistent) }) }
///     }
///     // reader thread, after a successful push
///     if ring.tryPush(tap) { parker.unpark() }
///     // stop(): change the flag, then wake unconditionally
///     stopping.store(true, ordering: .releasing); parker.wake()
///
/// `park` returns when the condition held during the spin or after a wake-up; it may also return
/// with the condition false (the caller loops). `unpark()` costs one atomic load when nobody is
/// parked (the common case under load, since the consumer then spins or works).
///
/// No lost wake-up: the consumer stores `parked = true`, then evaluates the condition; the
/// producer makes the condition true with a sequentially consistent RMW (`BoundedRing.tryPush`'s
/// CAS on `tail`, read by `isEmpty` with a sequentially consistent load), then loads `parked`.
/// All four are in the single total order, so either the consumer's condition check sees the
/// push (and it does not block), or the producer's load comes after `parked = true` (and it
/// signals). The semaphore remembers a signal that arrives before `wait()`. Exactly one producer
/// signals per park (it wins the exchange of `parked` from true to false), so the semaphore count
/// never drifts. For a condition changed by a plain or releasing store (the stop flag), call
/// `wake()`, which adds the missing full fence.
public final class TapParker: Sendable {
    private let parked = Atomic<Bool>(false)
    private let semaphore = DispatchSemaphore(value: 0)
    private let spinLimit: Int
    private let parks = Atomic<Int>(0)

    /// - Parameter spinIterations: condition checks before blocking (~5 ns each on a ring).
    public init(spinIterations: Int = 4096) {
        spinLimit = spinIterations
    }

    /// Number of times the consumer actually blocked (for tests and stats).
    public var parkCount: Int { parks.load(ordering: .relaxed) }

    /// Spins up to `spinIterations` times on `ready`, then blocks until a producer calls
    /// `unpark()` or `wake()`. Consumer thread only. `ready` must read what producers change
    /// with sequentially consistent loads (see the type comment).
    public func park(until ready: () -> Bool) {
        var i = 0
        while i < spinLimit {
            if ready() { return }
            i += 1
        }
        // sequentiallyConsistent: announce before the final check (the Dekker pattern above).
        parked.store(true, ordering: .sequentiallyConsistent)
        if ready() {
            // Withdraw the announcement. If a producer already took it (exchange saw false), it
            // has signalled or is about to: consume that signal so the count stays balanced.
            if !parked.exchange(false, ordering: .sequentiallyConsistent) { semaphore.wait() }
            return
        }
        parks.wrappingAdd(1, ordering: .relaxed)
        semaphore.wait()
    }

    /// Wakes the consumer if it is parked. Call after every successful push. Any thread.
    @inline(__always)
    public func unpark() {
        // sequentiallyConsistent load: the other half of the Dekker pattern; on x86 and ARMv8
        // this is a plain load (`mov` / `ldar`), so an idle-free consumer costs producers nothing.
        if parked.load(ordering: .sequentiallyConsistent) {
            // Only the producer that flips true → false signals.
            if parked.exchange(false, ordering: .sequentiallyConsistent) { semaphore.signal() }
        }
    }

    /// Like `unpark()`, after a full fence: for conditions changed with a weaker store (the stop
    /// flag), so that store is ordered before the check of `parked`.
    public func wake() {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        unpark()
    }
}
