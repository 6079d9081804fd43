import FaregateCore
import Synchronization

/// A fixed-capacity ring guarded by a `Mutex`: the simple, obviously correct baseline the
/// lock-free ring is measured against, and a ring for hosts where contention does not matter.
///
/// Storage is allocated once at init; push and pop never allocate.
public final class MutexTapRing: TapRing, @unchecked Sendable {
    // @unchecked Sendable: `storage` is only touched while `state` is locked; the pointer itself
    // never changes after init and is freed in deinit when no other reference exists.
    private struct State {
        var head = 0  // index of the oldest element
        var count = 0
    }

    /// Keeps the fields below off the object header's cache lines (see `LinePairPadding`), as in
    /// `SPSCRing`, so the rings are compared on equal terms.
    @usableFromInline let headerPadding = LinePairPadding()
    public let capacity: Int
    private let storage: UnsafeMutablePointer<Tap>
    private let state = Mutex(State())
    /// Keeps the next heap object's header off the fields' cache lines (see `LinePairPadding`).
    @usableFromInline let tailPadding = LinePairPadding()

    public init(capacity: Int) {
        precondition(capacity > 0 && capacity & (capacity - 1) == 0, "capacity must be a power of two")
        self.capacity = capacity
        // Line-aligned like `SPSCRing`'s slots, so each 64-byte tap sits in one cache line here too
        // and the comparison between the rings is about synchronisation, not layout.
        storage = UnsafeMutableRawPointer.allocate(
            byteCount: capacity * MemoryLayout<Tap>.stride, alignment: max(64, MemoryLayout<Tap>.alignment)
        ).bindMemory(to: Tap.self, capacity: capacity)
    }

    deinit {
        state.withLock { s in
            var i = 0
            while i < s.count {
                (storage + ((s.head + i) & (capacity - 1))).deinitialize(count: 1)
                i += 1
            }
        }
        storage.deallocate()
    }

    public func tryPush(_ tap: Tap) -> Bool {
        state.withLock { s in
            guard s.count < capacity else { return false }
            (storage + ((s.head + s.count) & (capacity - 1))).initialize(to: tap)
            s.count += 1
            return true
        }
    }

    public func tryPop() -> Tap? {
        state.withLock { s in
            guard s.count > 0 else { return nil }
            let tap = (storage + s.head).move()
            s.head = (s.head + 1) & (capacity - 1)
            s.count -= 1
            return tap
        }
    }

    /// Takes up to `limit` taps, oldest first, under one lock acquisition, handing each to `body`
    /// while the lock is held (so `body` must be short: copy the tap out and return); returns how
    /// many. The batched counterpart of `SPSCRing.drain`, so benchmarks can compare like with like.
    @discardableResult
    public func drain(limit: Int, _ body: (Tap) -> Void) -> Int {
        state.withLock { s in
            let n = min(s.count, limit)
            var i = 0
            while i < n {
                body((storage + ((s.head + i) & (capacity - 1))).move())
                i += 1
            }
            s.head = (s.head + n) & (capacity - 1)
            s.count -= n
            return n
        }
    }

    /// True when the ring holds no tap. Takes the lock like every other operation; the lock's
    /// atomic RMW orders it against `TapParker`'s flag on x86 and ARMv8 (see `TapParker`).
    public var isEmpty: Bool { state.withLock { $0.count == 0 } }
}
