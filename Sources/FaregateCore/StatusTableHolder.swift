import Synchronization

/// The status table in service: lookups are lock-free and never wait for an update; a new version
/// is published with one atomic pointer exchange; a retired version is freed only when no reader
/// can still be using it.
///
/// Reclamation uses the read indicators of the Left-Right technique (Ramalhete & Correia): two
/// reader counters and a `versionIndex` that says which counter new readers join.
///
/// - Reader (`withCurrent`): load `versionIndex`, increment that counter, load `current`, use
///   the table, decrement the same counter. Wait-free: four atomic operations, no loop.
/// - Writer (`publish`, serialised by a mutex that readers never touch): exchange `current`,
///   wait until the *other* counter is zero, toggle `versionIndex`, wait until the old counter
///   is zero, then release the old table.
///
/// Why the old table is unused when it is released: a reader can hold the old table only if its
/// load of `current` came before the exchange in the sequentially consistent total order, so its
/// increment (earlier in its program order) did too. Both counters are observed at zero after
/// the exchange; the counter that reader incremented could only read zero once that reader had
/// decremented it, and the decrement is `releasing` while the writer's check is `acquiring`, so
/// all of that reader's table reads happen before the release. The toggle only keeps the writer
/// from starving: readers that start after it join the counter the writer waits on next time.
///
/// The writer spins while a reader is inside a lookup (~100 ns); only the sync thread writes.
public final class StatusTableHolder: CardStatusLookup, @unchecked Sendable {
    // @unchecked Sendable: `current` holds a +1 retained reference managed only under
    // `writerLock`; readers use it without retaining, protected by the read indicators (above).

    private let current: Atomic<UInt>
    private let writerLock = Mutex(())
    /// Three 128-byte blocks: indicator 0, indicator 1, versionIndex (no false sharing between
    /// readers' counters and the index they read).
    private let words: UnsafeMutableRawPointer
    private static var block: Int { 128 }

    public init(_ initial: CompactStatusTable) {
        current = Atomic(UInt(bitPattern: Unmanaged.passRetained(initial).toOpaque()))
        words = .allocate(byteCount: 3 * Self.block, alignment: Self.block)
        for i in 0..<3 {
            (words + i * Self.block).bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))
        }
    }

    /// A holder whose first version is an empty table of data version 0.
    public convenience init() {
        self.init(CompactStatusTable(dataVersion: 0, entries: [:]))
    }

    deinit {
        // No reader can exist: we hold the last reference.
        Self.unmanaged(current.load(ordering: .relaxed)).release()
        words.deallocate()
    }

    @inline(__always) private func indicator(_ i: Int) -> UnsafeMutablePointer<Atomic<Int>> {
        (words + i * Self.block).assumingMemoryBound(to: Atomic<Int>.self)
    }
    @inline(__always) private var versionIndex: UnsafeMutablePointer<Atomic<Int>> {
        (words + 2 * Self.block).assumingMemoryBound(to: Atomic<Int>.self)
    }
    @inline(__always) private static func unmanaged(_ bits: UInt) -> Unmanaged<CompactStatusTable> {
        // The bits were produced by `passRetained(...).toOpaque()` and are never zero.
        Unmanaged.fromOpaque(UnsafeRawPointer(bitPattern: bits).unsafelyUnwrapped)
    }

    /// Runs `body` with the table in service. Lock-free (wait-free); `body` should be short (a
    /// lookup or a batch of lookups), because a publish waits for it before freeing a version.
    /// Do not let the table escape `body` (use `currentTable()` for that).
    @inline(__always)
    public func withCurrent<R>(_ body: (CompactStatusTable) throws -> R) rethrows -> R {
        // sequentiallyConsistent (the three operations below): the argument above needs the
        // increment ordered before the load of `current` in the single total order that also
        // contains the writer's exchange and its checks; acquire/release alone would allow the
        // load to pass the increment (store-load reordering).
        let vi = versionIndex.pointee.load(ordering: .sequentiallyConsistent)
        indicator(vi).pointee.wrappingAdd(1, ordering: .sequentiallyConsistent)
        // releasing: every read of the table happens before the writer's acquiring check sees
        // the counter drop to zero.
        defer { indicator(vi).pointee.wrappingSubtract(1, ordering: .releasing) }
        let bits = current.load(ordering: .sequentiallyConsistent)
        return try Self.unmanaged(bits)._withUnsafeGuaranteedRef(body)
    }

    /// The table in service as a strong reference (retained while protected, so it stays valid
    /// after it is retired). For the sync thread's delta builds and for reports.
    public func currentTable() -> CompactStatusTable { withCurrent { $0 } }

    /// Puts `table` in service and frees the previous version once no reader uses it. Blocks
    /// the caller (never a reader) until then.
    public func publish(_ table: CompactStatusTable) {
        _ = publishReturningMemory(table)
    }

    /// Publishes, then returns the retired version's memory when nothing else uses it (no
    /// reader inside `withCurrent`, no strong reference from `currentTable()`), for reuse.
    private func publishReturningMemory(_ table: CompactStatusTable) -> TableMemory? {
        let fresh = UInt(bitPattern: Unmanaged.passRetained(table).toOpaque())
        let retired: CompactStatusTable = writerLock.withLock { _ in
            let old = current.exchange(fresh, ordering: .sequentiallyConsistent)
            let previous = versionIndex.pointee.load(ordering: .sequentiallyConsistent)
            let next = previous ^ 1
            // acquiring: pairs with the readers' releasing decrement (see the type comment).
            while indicator(next).pointee.load(ordering: .acquiring) != 0 {}
            versionIndex.pointee.store(next, ordering: .sequentiallyConsistent)
            while indicator(previous).pointee.load(ordering: .acquiring) != 0 {}
            return Self.unmanaged(old).takeRetainedValue()
        }
        guard var memory = retired.owner as? TableMemory else { return nil }
        _ = consume retired  // drop the holder's reference: the table is freed if it was the last
        return isKnownUniquelyReferenced(&memory) ? memory : nil
    }

    /// Builds the current version with `changes` applied and publishes it. Lookups continue on
    /// the current version during the build. Returns the new table.
    @discardableResult
    public func apply(_ changes: some Collection<StatusChange>, dataVersion: UInt64) -> CompactStatusTable {
        // Serialise whole read-modify-publish cycles so two concurrent appliers cannot lose a delta.
        applyLock.withLock { spare in
            let next = currentTable().applying(changes, dataVersion: dataVersion, reusing: spare.take())
            spare = publishReturningMemory(next)
            return next
        }
    }
    /// Serialises `apply` and keeps the memory of the version retired by the last apply.
    private let applyLock = Mutex<TableMemory?>(nil)

    // MARK: CardStatusLookup

    public func status(of key: CardKey) -> CardStatus? { withCurrent { $0.status(of: key) } }
    public var dataVersion: UInt64 { withCurrent { $0.dataVersion } }
    public var count: Int { withCurrent { $0.count } }
}
