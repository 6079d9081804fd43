import Synchronization

/// A bounded, lock-free single-producer single-consumer ring: one per reader thread, drained by
/// the decision loop (`GateRuntime` round-robins over every reader's ring).
///
/// Why SPSC per reader rather than one multi-producer ring (`BoundedRing`): each reader thread is
/// the only writer of its ring, so a push is a plain store of the element plus one releasing
/// store of `tail` — no compare-and-swap, no per-cell sequence number, and no cache line that two
/// producers fight over. Each side keeps a private copy of the other side's index and reads the
/// shared one only when its copy says "full" (producer) or "empty" (consumer), so in the steady
/// state a push touches only the producer's own line and the element's slot, and a batch pop reads
/// `tail` once for the whole batch and publishes `head` once.
///
/// Order: per ring (per reader) strictly FIFO. Across readers there is no global order, and the
/// gate does not need one: the decision for a tap depends on other taps only through per-card
/// state (the passage ledger: entry/exit of the same card), and the same card cannot be presented
/// to two readers within the time the decision loop needs to go once round all rings (a batch of
/// microseconds; moving a card between antennas takes hundreds of milliseconds). Taps of different
/// cards are different riders and are decided independently.
///
/// - Capacity is a power of two, fixed at init; elements live inline in one allocation made at
///   init together with the two index blocks. Push and pop never allocate and never block.
/// - A push onto a full ring returns false: the caller counts it and tells the rider to tap again
///   (never a silent drop, never an overwrite).
/// - Layout: `[tail, cachedHead]` on the producer's 128-byte block, `[head, cachedTail]` on the
///   consumer's, then the elements. 128 bytes because x86's adjacent-line prefetcher pulls lines
///   in pairs, so 64-byte padding still false-shares.
///
/// Thread safety: `tryPush` from one producer thread at a time; `tryPop`, `drain`, `isEmpty` and
/// `count` from one consumer thread at a time. Handing a side to another thread needs a
/// happens-before edge (a thread join, a lock), as for any single-threaded object.
public final class SPSCRing<Element>: @unchecked Sendable {
    // @unchecked Sendable: the element slots between `head` and `tail` are written only by the
    // producer before it publishes `tail` (releasing) and read only by the consumer after it
    // loaded that `tail` (acquiring); slots are handed back by the consumer's releasing store of
    // `head`, which the producer loads (acquiring) before overwriting them. `cachedHead` is
    // touched only by the producer, `cachedTail` only by the consumer. Everything else is
    // immutable after init.

    // The hot paths are @inlinable (with @usableFromInline storage) so that a client's
    // `SPSCRing<Tap>` is specialised in the client module: unspecialised generic code would copy
    // each element through its type's value witness table and cost more than the ring itself.

    /// Keeps the fields below off the object header's cache lines (see `LinePairPadding`).
    @usableFromInline let headerPadding = LinePairPadding()
    public let capacity: Int
    @usableFromInline let mask: Int
    /// Producer block, consumer block, then `capacity` elements.
    @usableFromInline let base: UnsafeMutableRawPointer
    @usableFromInline let elements: UnsafeMutablePointer<Element>
    /// Keeps the next heap object's header off the fields' cache lines (see `LinePairPadding`).
    @usableFromInline let tailPadding = LinePairPadding()

    @inlinable static var block: Int { 128 }

    /// - Precondition: `capacity` is a power of two ≥ 2 (a programmer error otherwise).
    public init(capacity: Int) {
        precondition(capacity >= 2 && capacity & (capacity - 1) == 0, "capacity must be a power of two ≥ 2")
        self.capacity = capacity
        mask = capacity - 1
        let alignment = max(Self.block, MemoryLayout<Element>.alignment)
        base = .allocate(byteCount: 2 * Self.block + capacity * MemoryLayout<Element>.stride, alignment: alignment)
        base.bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))  // tail
        (base + 8).bindMemory(to: Int.self, capacity: 1).initialize(to: 0)  // cachedHead
        (base + Self.block).bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))  // head
        (base + Self.block + 8).bindMemory(to: Int.self, capacity: 1).initialize(to: 0)  // cachedTail
        elements = (base + 2 * Self.block).bindMemory(to: Element.self, capacity: capacity)
    }

    deinit {
        // No other reference exists: deinitialize what is still queued. relaxed: the last release
        // of the object already ordered every push and pop before this point.
        let h = head.pointee.load(ordering: .relaxed)
        let t = tail.pointee.load(ordering: .relaxed)
        var p = h
        while p != t {
            (elements + (p & mask)).deinitialize(count: 1)
            p &+= 1
        }
        base.deallocate()
    }

    @inlinable @inline(__always) var tail: UnsafeMutablePointer<Atomic<Int>> {
        base.assumingMemoryBound(to: Atomic<Int>.self)
    }
    @inlinable @inline(__always) var cachedHead: UnsafeMutablePointer<Int> {
        (base + 8).assumingMemoryBound(to: Int.self)
    }
    @inlinable @inline(__always) var head: UnsafeMutablePointer<Atomic<Int>> {
        (base + Self.block).assumingMemoryBound(to: Atomic<Int>.self)
    }
    @inlinable @inline(__always) var cachedTail: UnsafeMutablePointer<Int> {
        (base + Self.block + 8).assumingMemoryBound(to: Int.self)
    }

    // MARK: Producer

    /// Appends `element`; false when the ring is full (the element is not stored). Producer only.
    ///
    /// Wait-free: a fixed number of steps, whatever the consumer does.
    @inlinable @inline(__always)
    @discardableResult
    public func tryPush(_ element: Element) -> Bool {
        // relaxed: only this (producer) thread writes `tail`.
        let t = tail.pointee.load(ordering: .relaxed)
        if t &- cachedHead.pointee == capacity {
            // Our copy of `head` says full: look at the real one. acquiring: pairs with the
            // consumer's releasing store of `head`, so its move-out of the slot we are about to
            // overwrite happens before our write.
            cachedHead.pointee = head.pointee.load(ordering: .acquiring)
            if t &- cachedHead.pointee == capacity { return false }
        }
        #if DEBUG
            checkInvariants(tail: t, head: cachedHead.pointee)
        #endif
        (elements + (t & mask)).initialize(to: element)
        // releasing: the element write above happens before any consumer that loads this `tail`
        // (acquiring) reads the slot. Not sequentially consistent: a consumer that may be parked
        // is woken by `TapParker.wake()`, whose full fence orders this store before the load of
        // the parked flag (see `TapParker`). Keeping the fence out of `tryPush` lets a burst of
        // pushes leave the store buffer in parallel.
        tail.pointee.store(t &+ 1, ordering: .releasing)
        return true
    }

    // MARK: Consumer

    /// Removes the oldest element; nil when empty. Consumer only.
    @inlinable @inline(__always)
    public func tryPop() -> Element? {
        // relaxed: only this (consumer) thread writes `head`.
        let h = head.pointee.load(ordering: .relaxed)
        if h == cachedTail.pointee {
            // acquiring: pairs with the producer's releasing store of `tail`; the elements below
            // the loaded `tail` are fully written and visible.
            cachedTail.pointee = tail.pointee.load(ordering: .acquiring)
            if h == cachedTail.pointee { return nil }
        }
        #if DEBUG
            checkInvariants(tail: cachedTail.pointee, head: h)
        #endif
        let value = (elements + (h & mask)).move()
        // releasing: our move-out of the slot happens before the producer, after loading this
        // `head` (acquiring), overwrites it.
        head.pointee.store(h &+ 1, ordering: .releasing)
        return value
    }

    /// Takes up to `limit` elements, oldest first, handing each to `body`; returns how many. Reads
    /// `tail` at most once and publishes `head` once for the whole batch. Consumer only; `body`
    /// must not call back into this ring's consumer side.
    ///
    /// The slots stay reserved until `head` is published after the last `body` call, so a
    /// producer cannot overwrite an element while it is being handed over.
    @inlinable @inline(__always)
    @discardableResult
    public func drain(limit: Int, _ body: (Element) throws -> Void) rethrows -> Int {
        let h = head.pointee.load(ordering: .relaxed)  // relaxed: only this thread writes `head`
        var available = cachedTail.pointee &- h
        if available < limit {
            // acquiring: pairs with the producer's releasing store of `tail` (see `tryPop`).
            cachedTail.pointee = tail.pointee.load(ordering: .acquiring)
            available = cachedTail.pointee &- h
        }
        #if DEBUG
            checkInvariants(tail: cachedTail.pointee, head: h)
        #endif
        let n = min(available, limit)
        if n <= 0 { return 0 }
        var taken = 0
        // Publish what was handed over even if `body` throws (the thrown-on element is consumed).
        defer {
            // releasing: the move-outs happen before the producer reuses these slots.
            head.pointee.store(h &+ taken, ordering: .releasing)
        }
        while taken < n {
            let value = (elements + ((h &+ taken) & mask)).move()
            taken += 1
            try body(value)
        }
        return n
    }

    /// True when the consumer has taken everything the producer published. Consumer only (exact
    /// there, up to pushes in flight).
    ///
    /// The load of `tail` is sequentially consistent: it is the consumer's half of the Dekker
    /// pairing with `TapParker` (announce parked, then check every ring), so it must be in the
    /// single total order with the parked flag (see `TapParker`).
    @inlinable @inline(__always)
    public var isEmpty: Bool {
        // head: relaxed, only this (consumer) thread writes it.
        tail.pointee.load(ordering: .sequentiallyConsistent) == head.pointee.load(ordering: .relaxed)
    }

    /// Elements published and not yet taken. Exact on the consumer thread when the producer is idle.
    public var count: Int {
        // head: relaxed (the consumer's own index); tail: acquiring like every consumer read of it,
        // so a caller that goes on to pop sees the counted elements.
        let h = head.pointee.load(ordering: .relaxed)
        return max(0, min(capacity, tail.pointee.load(ordering: .acquiring) &- h))
    }

    #if DEBUG
        /// Test builds: the producer is never more than one lap ahead of the consumer, and the
        /// consumer never passes the producer. (`t` and `h` may be stale copies of the other side's
        /// index; staleness only moves them in the safe direction, so the checks still hold.)
        @usableFromInline @inline(never)
        func checkInvariants(tail t: Int, head h: Int) {
            let used = t &- h
            precondition(used >= 0 && used <= capacity, "SPSC ring invariant: tail \(t) head \(h) capacity \(capacity)")
        }
    #endif
}

/// The per-reader tap ring between one reader thread and the decision loop (see `SPSCRing`).
public typealias SPSCTapRing = SPSCRing<Tap>
