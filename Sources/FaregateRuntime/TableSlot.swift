import FaregateCore
import Synchronization

/// The status table in service and when it was last verified against central state.
///
/// The decision thread takes the current table with `current()` (a short critical section that
/// copies a reference: it never waits for a table being built, because tables are built outside
/// the lock and published with `publish`).
public final class TableSlot: Sendable {
    private let state = Mutex<(table: (any CardStatusLookup)?, verifiedAt: UInt64?)>((nil, nil))

    public init() {}

    /// The table in service (nil before the first successful load) and the monotonic time of its
    /// last verification.
    public func current() -> (table: (any CardStatusLookup)?, verifiedAt: UInt64?) { state.withLock { $0 } }

    /// Puts `table` in service, verified at monotonic `now`.
    public func publish(_ table: any CardStatusLookup, verifiedAt now: UInt64) {
        state.withLock { $0 = (table, now) }
    }

    /// Records that central state was checked at `now` and the table in service is still current.
    public func markVerified(at now: UInt64) {
        state.withLock { $0.verifiedAt = now }
    }
}
