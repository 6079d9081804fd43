import CFaregateLinux
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
///     if rings[i].tryPush(tap) { parker.wakeAfterPush() }
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
///
/// Asymmetric fence (`wakeAfterPush()`, Linux): the full fence on every push is what limits a
/// producer (it waits until the element's cache lines are owned before going on). Pushes happen
/// per tap, parks only after a spin on an idle ring, so the fence is moved to the consumer: when
/// the process could register for membarrier(2) `MEMBARRIER_CMD_PRIVATE_EXPEDITED`, `park()`
/// calls it between announcing `parked` and the final check, and a producer's `wakeAfterPush()`
/// is only a compiler barrier (no instruction on x86) before its load of `parked`. membarrier
/// guarantees that every running thread of the process passes a full barrier before the call
/// returns (a thread that is not running has already passed one when it was switched out). Take
/// the point where the producer passes it: if its `parked` load comes after that point, it sees
/// `true` (the consumer stored it before the call); if the load comes before, so does its `tail`
/// store (program order, kept by the compiler barrier), which is then visible to the consumer's
/// final check after the call. This argument is outside the language memory model (it is the one
/// liburcu and folly's asymmetric fences rest on); where membarrier is not available (older
/// kernels, a seccomp filter) `wakeAfterPush()` falls back to `wake()`'s full fence.
public final class TapParker: Sendable {
    // `parked`, `asymmetric` and the producer-side fast paths are inlinable so a reader thread's
    // push + wake-up check compiles to a few instructions in the caller's module.
    @usableFromInline let parked = Atomic<Bool>(false)
    private let semaphore = DispatchSemaphore(value: 0)
    private let spinLimit: Int
    private let parks = Atomic<Int>(0)
    /// The consumer fences with membarrier, producers with a compiler barrier (type comment).
    @usableFromInline let asymmetric: Bool

    /// Whether this process registered for membarrier(2)'s private expedited command (done once,
    /// on first use). False on kernels before 4.14 or where a seccomp filter refuses it.
    public static let asymmetricFenceAvailable: Bool = CFaregateLinux_membarrier_register() == 0

    /// - Parameters:
    ///   - spinIterations: condition checks before blocking (~5 ns each on a ring).
    ///   - asymmetricFence: use membarrier for `wakeAfterPush()` when available; false forces the
    ///     portable full fence on every push (tests exercise both).
    public init(spinIterations: Int = 4096, asymmetricFence: Bool = true) {
        spinLimit = spinIterations
        asymmetric = asymmetricFence && Self.asymmetricFenceAvailable
    }

    /// Whether `wakeAfterPush()` skips the per-push fence (the consumer calls membarrier instead).
    public var usesAsymmetricFence: Bool { asymmetric }

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
        // Asymmetric mode: the heavy half of the fence, for producers that only use a compiler
        // barrier. Should it fail (it does not after a successful registration), do not block:
        // the caller loops and spins, which costs CPU but never loses a tap.
        let fenced = !asymmetric || CFaregateLinux_membarrier() == 0
        if !fenced || ready() {
            // Withdraw the announcement. If a producer already took it (exchange saw false), it
            // has signalled or is about to: consume that signal so the count stays balanced.
            if !parked.exchange(false, ordering: .sequentiallyConsistent) { semaphore.wait() }
            return
        }
        parks.wrappingAdd(1, ordering: .relaxed)
        semaphore.wait()
    }

    /// Wakes the consumer if it is parked. Call after every successful push. Any thread.
    @inlinable @inline(__always)
    public func unpark() {
        // sequentiallyConsistent load: the other half of the Dekker pattern; on x86 and ARMv8
        // this is a plain load (`mov` / `ldar`), so an idle-free consumer costs producers nothing.
        if parked.load(ordering: .sequentiallyConsistent) { signalIfParked() }
    }

    /// The slow path of `unpark()`: only the producer that flips true → false signals.
    @usableFromInline func signalIfParked() {
        if parked.exchange(false, ordering: .sequentiallyConsistent) { semaphore.signal() }
    }

    /// Like `unpark()`, after a full fence: for conditions changed with a weaker store (the stop
    /// flag), so that store is ordered before the check of `parked`.
    public func wake() {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        unpark()
    }

    /// Call after every successful push into an `SPSCRing` (a releasing store of `tail`), from
    /// the producer thread. With the asymmetric fence only a compiler barrier separates the push
    /// from the `parked` check; otherwise this is `wake()`.
    @inlinable @inline(__always)
    public func wakeAfterPush() {
        if asymmetric {
            // acquiringAndReleasing: no instruction on x86 (a `dmb ish` on ARMv8), but the
            // compiler may not move the `parked` load above the ring's `tail` store; the hardware
            // reordering is covered by the consumer's membarrier (type comment).
            atomicMemoryFence(ordering: .acquiringAndReleasing)
            unpark()
        } else {
            wake()
        }
    }
}
