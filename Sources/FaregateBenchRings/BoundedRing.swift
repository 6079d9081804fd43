import FaregateCore
import Synchronization

/// A bounded, lock-free multi-producer single-consumer queue (Dmitry Vyukov's bounded queue with
/// per-cell sequence numbers, specialised to one consumer).
///
/// The gate runs one `SPSCRing` per reader instead (see there: cheaper pushes, no shared
/// producer counter, and the decision loop needs order only per reader, not across readers).
/// This ring stays as the alternative for producers that are not known up front or are too many
/// to give each its own ring, and as a measured reference in `faregate-bench`. Note what order it
/// gives: the order in which producers won positions (push order), not the order in which cards
/// were detected, so even here a cross-reader order would only be approximate.
///
/// - Capacity is a power of two, fixed at init; cells (sequence number + element inline) live in
///   one allocation made at init. `tryPush` and `tryPop` never allocate and never block.
/// - A push onto a full ring returns false: the caller counts it and tells the rider to tap again
///   (the ring never drops silently and never overwrites).
/// - Producers and the consumer never read each other's index: each side learns whether a cell
///   is free or filled from that cell's sequence number, which it has to touch anyway. So the
///   "cached other index" of a classic SPSC ring is not needed, and the only shared counter is
///   `tail` among producers. `head` and `tail` sit on separate 128-byte blocks (adjacent-line
///   prefetch pairs lines on x86) so producers and consumer do not false-share.
///
/// Thread safety: `tryPush` from any number of threads; `tryPop`, `isEmpty` (exactly) and
/// `count` (approximately) from the single consumer thread only.
public final class BoundedRing<Element>: @unchecked Sendable {
    // @unchecked Sendable: a cell's element is written only by the producer that won the CAS on
    // `tail` for that position and read only by the consumer after it observed the cell's
    // sequence published with release ordering (acquire on the consumer side); the cell is
    // handed back to producers with a release store after the element was moved out. All other
    // stored properties are immutable after init.

    /// Keeps the fields below off the object header's cache lines (see `LinePairPadding`), as in
    /// `SPSCRing`, so the rings are compared on equal terms.
    @usableFromInline let headerPadding = LinePairPadding()
    public let capacity: Int
    // @inlinable hot paths with @usableFromInline storage: specialised in the client module (see
    // SPSCRing; unspecialised generic code copies each element through value witnesses).
    @usableFromInline let mask: Int
    /// Bytes from one cell to the next: an `Atomic<Int>` sequence followed by the element.
    @usableFromInline let cellStride: Int
    @usableFromInline let elementOffset: Int
    @usableFromInline let cells: UnsafeMutableRawPointer
    /// Two 128-byte blocks: `tail` (producers' claim counter) in the first, `head` (consumer's
    /// position) in the second.
    @usableFromInline let counters: UnsafeMutableRawPointer
    /// Keeps the next heap object's header off the fields' cache lines (see `LinePairPadding`).
    @usableFromInline let tailPadding = LinePairPadding()

    @inlinable static var padding: Int { 128 }

    /// - Precondition: `capacity` is a power of two ≥ 2 (a programmer error otherwise).
    public init(capacity: Int) {
        precondition(capacity >= 2 && capacity & (capacity - 1) == 0, "capacity must be a power of two ≥ 2")
        self.capacity = capacity
        mask = capacity - 1
        let align = max(MemoryLayout<Atomic<Int>>.alignment, MemoryLayout<Element>.alignment)
        let seqSize = MemoryLayout<Atomic<Int>>.size
        elementOffset = (seqSize + MemoryLayout<Element>.alignment - 1) & ~(MemoryLayout<Element>.alignment - 1)
        cellStride = (elementOffset + MemoryLayout<Element>.size + align - 1) & ~(align - 1)
        cells = .allocate(byteCount: cellStride * capacity, alignment: max(align, 64))
        for i in 0..<capacity {
            // Cell i is free for the producer that claims position i.
            (cells + i * cellStride).bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(i))
        }
        counters = .allocate(byteCount: 2 * Self.padding, alignment: Self.padding)
        counters.bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))
        (counters + Self.padding).bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))
    }

    deinit {
        // No other reference exists: drain the remaining elements so they are deinitialized.
        while tryPop() != nil {}
        cells.deallocate()
        counters.deallocate()
    }

    @inlinable @inline(__always) var tail: UnsafeMutablePointer<Atomic<Int>> {
        counters.assumingMemoryBound(to: Atomic<Int>.self)
    }
    @inlinable @inline(__always) var head: UnsafeMutablePointer<Atomic<Int>> {
        (counters + Self.padding).assumingMemoryBound(to: Atomic<Int>.self)
    }
    @inlinable @inline(__always) func sequence(_ position: Int) -> UnsafeMutablePointer<Atomic<Int>> {
        (cells + (position & mask) * cellStride).assumingMemoryBound(to: Atomic<Int>.self)
    }
    @inlinable @inline(__always) func slot(_ position: Int) -> UnsafeMutablePointer<Element> {
        (cells + (position & mask) * cellStride + elementOffset).assumingMemoryBound(to: Element.self)
    }

    /// Appends `element`; false when the ring is full (the element is not stored).
    ///
    /// Lock-free: a producer retries only when another producer won the same position.
    @discardableResult
    @inlinable
    public func tryPush(_ element: Element) -> Bool {
        // relaxed: `tail` is only a hint of which position to try; the cell's sequence decides.
        var position = tail.pointee.load(ordering: .relaxed)
        while true {
            // acquiring: pairs with the consumer's releasing store in `tryPop` that freed this
            // cell, so the consumer's move-out of the previous element happens before we write.
            let seq = sequence(position).pointee.load(ordering: .acquiring)
            let diff = seq &- position
            if diff == 0 {
                // sequentiallyConsistent: the claim is ordered in the single total order with the
                // consumer's `isEmpty` load and `TapParker`'s `parked` flag (a Dekker pattern:
                // push-then-check-parked vs. announce-parked-then-check-empty), which is what
                // rules out a lost wake-up. On x86 and ARMv8.1 the RMW costs the same as relaxed.
                let (won, current) = tail.pointee.compareExchange(
                    expected: position, desired: position &+ 1, ordering: .sequentiallyConsistent)
                if won {
                    slot(position).initialize(to: element)
                    // releasing: publishes the element write to the consumer's acquiring load.
                    sequence(position).pointee.store(position &+ 1, ordering: .releasing)
                    return true
                }
                position = current
            } else if diff < 0 {
                // The cell still holds the element from one lap ago: the ring is full.
                return false
            } else {
                // Another producer took this position; try the current tail.
                position = tail.pointee.load(ordering: .relaxed)
            }
        }
    }

    /// Removes the oldest element; nil when empty (or when the oldest claimed position is still
    /// being written by its producer). Single consumer only.
    @inlinable
    public func tryPop() -> Element? {
        // relaxed: only this (consumer) thread writes `head`.
        let position = head.pointee.load(ordering: .relaxed)
        // acquiring: pairs with the producer's releasing store, making its element write visible.
        let seq = sequence(position).pointee.load(ordering: .acquiring)
        guard seq == position &+ 1 else {
            #if DEBUG
                // Invariant: the consumer's cell is either published for this lap or still free
                // from the previous lap (sequence == position); anything else is corruption.
                precondition(seq == position, "ring invariant: cell sequence \(seq) at head \(position)")
            #endif
            return nil
        }
        #if DEBUG
            // Invariant: the position was claimed (tail is past it: we acquired the sequence its
            // producer released after the claim), and no producer is more than one lap ahead
            // (this cell is not free yet, so tail ≤ position + capacity).
            let t = tail.pointee.load(ordering: .relaxed)
            precondition(t &- (position &+ 1) >= 0 && t &- position <= capacity, "ring invariant: head passed tail")
        #endif
        let value = slot(position).move()
        head.pointee.store(position &+ 1, ordering: .relaxed)
        // releasing: our move-out happens before a producer one lap later reuses the cell.
        sequence(position).pointee.store(position &+ capacity, ordering: .releasing)
        return value
    }

    /// True when no producer has claimed a position the consumer has not taken yet. Exact on the
    /// consumer thread. A claimed-but-still-being-written element counts as not empty.
    ///
    /// The load is sequentially consistent: see `tryPush` and `TapParker` (no lost wake-up).
    @inlinable
    public var isEmpty: Bool {
        tail.pointee.load(ordering: .sequentiallyConsistent) == head.pointee.load(ordering: .relaxed)
    }

    /// Elements claimed and not yet popped; exact on the consumer thread when producers are idle.
    public var count: Int {
        let h = head.pointee.load(ordering: .relaxed)
        return max(0, min(capacity, tail.pointee.load(ordering: .acquiring) &- h))
    }
}

/// The lock-free tap ring between reader threads and the decision loop (see `BoundedRing`).
public typealias LockFreeTapRing = BoundedRing<Tap>

extension BoundedRing: TapRing where Element == Tap {}
