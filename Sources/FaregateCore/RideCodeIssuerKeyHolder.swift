import Synchronization

/// The issuer keys in force at a gate: the scanner threads read them for every code, the sync
/// thread replaces them when central publishes a new list. A reader gets one whole list, the old
/// one or the new one, never a mix (the list is immutable; one pointer is exchanged).
///
/// The same read indicators as `StatusTableHolder` (Left-Right, Ramalhete & Correia): a reader
/// increments the counter `versionIndex` names, loads `current`, retains the list it points to,
/// decrements the counter; wait-free, no lock. The writer (serialised by a mutex readers never
/// touch) exchanges `current`, waits for both counters to drain in turn, then drops the old box.
/// Why that is safe is argued at `StatusTableHolder`; here a reader keeps a retained copy of the
/// list, so the wait only covers the retain itself (a few nanoseconds).
public final class RideCodeIssuerKeyHolder: @unchecked Sendable {
    // @unchecked Sendable: `current` holds a +1 retained `Box` managed only under `writerLock`;
    // readers use it without retaining the box itself, protected by the read indicators.

    final class Box {
        let keys: RideCodeIssuerKeyList
        init(_ keys: RideCodeIssuerKeyList) { self.keys = keys }
    }

    private let current: Atomic<UInt>
    private let writerLock = Mutex(())
    /// Three 128-byte blocks: indicator 0, indicator 1, versionIndex (no false sharing).
    private let words: UnsafeMutableRawPointer
    private static var block: Int { 128 }

    public init(_ initial: RideCodeIssuerKeyList = .empty) {
        current = Atomic(UInt(bitPattern: Unmanaged.passRetained(Box(initial)).toOpaque()))
        words = .allocate(byteCount: 3 * Self.block, alignment: Self.block)
        for i in 0..<3 {
            (words + i * Self.block).bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))
        }
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
    @inline(__always) private static func unmanaged(_ bits: UInt) -> Unmanaged<Box> {
        // The bits were produced by `passRetained(...).toOpaque()` and are never zero.
        Unmanaged.fromOpaque(UnsafeRawPointer(bitPattern: bits).unsafelyUnwrapped)
    }

    /// The list in force (a retained copy: valid after a later `replace`). Wait-free.
    public var keys: RideCodeIssuerKeyList {
        // sequentiallyConsistent: the increment must come before the load of `current` in the
        // total order that holds the writer's exchange and checks (StatusTableHolder.withCurrent).
        let vi = versionIndex.pointee.load(ordering: .sequentiallyConsistent)
        indicator(vi).pointee.wrappingAdd(1, ordering: .sequentiallyConsistent)
        // releasing: the copy (a retain of the list's storage) happens before the writer sees zero.
        defer { indicator(vi).pointee.wrappingSubtract(1, ordering: .releasing) }
        let bits = current.load(ordering: .sequentiallyConsistent)
        return Self.unmanaged(bits)._withUnsafeGuaranteedRef { $0.keys }
    }

    /// Puts `keys` in force; blocks the caller (never a reader) until no reader can still be
    /// copying the previous list, then releases it.
    public func replace(with keys: RideCodeIssuerKeyList) {
        let fresh = UInt(bitPattern: Unmanaged.passRetained(Box(keys)).toOpaque())
        writerLock.withLock { _ in
            let old = current.exchange(fresh, ordering: .sequentiallyConsistent)
            let previous = versionIndex.pointee.load(ordering: .sequentiallyConsistent)
            let next = previous ^ 1
            // acquiring: pairs with the readers' releasing decrement.
            while indicator(next).pointee.load(ordering: .acquiring) != 0 {}
            versionIndex.pointee.store(next, ordering: .sequentiallyConsistent)
            while indicator(previous).pointee.load(ordering: .acquiring) != 0 {}
            Self.unmanaged(old).release()
        }
    }
}
