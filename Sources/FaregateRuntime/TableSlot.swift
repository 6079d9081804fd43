import FaregateCore
import Synchronization

/// The status table in service and when it was last verified against central state.
///
/// Lookups go through a `StatusTableHolder`: lock-free, never blocked by an update (a new version
/// is published with one atomic pointer swap, an old one reclaimed only when no reader holds it).
/// The verification time is an atomic too, so `current()` takes no lock.
public final class TableSlot: Sendable {
    public let holder = StatusTableHolder()
    /// Whether any table was put in service yet (before that every lookup would be a miss).
    private let loaded = Atomic<Bool>(false)
    /// Monotonic nanoseconds of the last verification; 0 = never.
    private let verified = Atomic<UInt64>(0)

    public init() {}

    /// The table in service (nil before the first load) and the monotonic time of its last
    /// verification (nil when it was never verified, e.g. a local snapshot of unknown age).
    public func current() -> (table: (any CardStatusLookup)?, verifiedAt: UInt64?) {
        // Acquire pairs with the release in publish: a reader that sees `loaded` sees the table.
        let isLoaded = loaded.load(ordering: .acquiring)
        let v = verified.load(ordering: .relaxed)
        return (isLoaded ? holder : nil, v == 0 ? nil : v)
    }

    /// Puts `table` in service, verified at monotonic `now` (nil: age unknown).
    public func publish(_ table: CompactStatusTable, verifiedAt now: UInt64?) {
        holder.publish(table)
        verified.store(now ?? 0, ordering: .relaxed)
        loaded.store(true, ordering: .releasing)
    }

    /// Applies changes as a new version (reusing the memory of the version retired last time).
    public func apply(_ changes: [StatusChange], dataVersion: UInt64, verifiedAt now: UInt64) {
        _ = holder.apply(changes, dataVersion: dataVersion)
        verified.store(now, ordering: .relaxed)
        loaded.store(true, ordering: .releasing)
    }

    /// Records that central state was checked at `now` and the table in service is still current.
    public func markVerified(at now: UInt64) {
        verified.store(now, ordering: .relaxed)
    }
}
