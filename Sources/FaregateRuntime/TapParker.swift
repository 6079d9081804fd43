import Dispatch
import Synchronization

/// Spin-then-park for the decision loop: when the ring is empty the consumer spins briefly
/// re-checking a condition, then blocks on a semaphore; producers wake it after a push.
///
/// Intended use (one consumer thread; one SPSC ring per producer, as `GateRuntime` runs it):
///
///     // decision thread
///     while running {
///         var took = 0
///         for ring in rings { took += ring.drain(limit: 64) { handle($0) } }
///         if took == 0 {
///             parker.park(until: { rings.contains { !$0.isEmpty } || stopping.load(ordering: .sequentiallyConsistent) })
///         }
///     }
///     // reader thread i, after a successful push into its own ring
///     if rings[i].tryPush(tap) { parker.wake() }
///     // stop(): change the flag, then wake
///     stopping.store(true, ordering: .releasing); parker.wake()
///
/// `park` returns when the condition held during the spin or after a wake-up; it may also return
/// with the condition false (the caller loops). `unpark()` costs one atomic load when nobody is
/// parked; `wake()` adds one full fence (`mfence` / `dmb ish`) before it.
///
/// No lost wake-up (a Dekker pairing): the consumer stores `parked = true` (sequentially
/// consistent), then evaluates the condition, which loads every ring's `tail` sequentially
/// consistently. A producer publishes its push (`SPSCRing.tryPush`: a releasing store of `tail`),
/// then `wake()` issues a sequentially consistent fence and loads `parked`. The consumer's store
/// and loads and the producer's fence are all in the single total order S: if the fence comes
/// before the consumer's `parked` store in S, the consumer's later `tail` load sees the push (it
/// does not block); otherwise the producer's `parked` load, after its fence, sees `true` (it
/// signals). This holds for each ring separately, so with several rings every producer either is
/// seen by the consumer's final check of all rings or wakes it. Producers whose push is itself a
/// sequentially consistent RMW (`BoundedRing.tryPush`'s CAS on `tail`, the `pokes` counter in
/// `GateRuntime`) may call `unpark()`, which skips the fence. The semaphore remembers a signal that
/// arrives before `wait()`. Exactly one producer signals per park (it wins the exchange of
/// `parked` from true to false), so the semaphore count never drifts.
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
