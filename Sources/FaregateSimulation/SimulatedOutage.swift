import FaregateCore
import Synchronization

/// An out-of-band switch that takes the link to the central store down and brings it back.
public final class SimulatedOutage: Sendable {
    private let down = Atomic<Bool>(false)
    public init() {}
    /// Sets the link down (true) or up (false); any thread.
    public func set(down isDown: Bool) { down.store(isDown, ordering: .relaxed) }
    public var isDown: Bool { down.load(ordering: .relaxed) }
}

/// A real central store behind a `SimulatedOutage`: while the outage is on, every call fails as a
/// dropped network would (`unavailable`); otherwise calls go to the real store.
public final class SimulatedOutageCentralStore: CentralStore {
    let inner: any CentralStore
    let outage: SimulatedOutage

    public init(_ inner: any CentralStore, outage: SimulatedOutage) {
        self.inner = inner
        self.outage = outage
    }

    func check() throws(CentralStoreError) {
        if outage.isDown { throw CentralStoreError(.unavailable, "simulated network outage") }
    }

    public func dataVersion() throws(CentralStoreError) -> UInt64 {
        try check()
        return try inner.dataVersion()
    }

    public func forEachStatus(_ body: (CardKey, CardStatus) -> Void) throws(CentralStoreError) -> UInt64 {
        try check()
        return try inner.forEachStatus(body)
    }

    public func uploadJournal(gate: String, entries: [JournalEntry]) throws(CentralStoreError) {
        try check()
        try inner.uploadJournal(gate: gate, entries: entries)
    }

    public func uploadSignedJournal(_ batch: SignedJournalBatch) throws(CentralStoreError) {
        try check()
        try inner.uploadSignedJournal(batch)
    }

    public func recordHoles(gate: String, ranges: [ClosedRange<UInt64>], reason: String) throws(CentralStoreError) {
        try check()
        try inner.recordHoles(gate: gate, ranges: ranges, reason: reason)
    }

    public func acknowledgedSequence(gate: String) throws(CentralStoreError) -> UInt64 {
        try check()
        return try inner.acknowledgedSequence(gate: gate)
    }

    public func recordSync(gate: String, dataVersion: UInt64, wallMillis: Int64) throws(CentralStoreError) {
        try check()
        try inner.recordSync(gate: gate, dataVersion: dataVersion, wallMillis: wallMillis)
    }

    public func highestSequence(gate: String) throws(CentralStoreError) -> UInt64 {
        try check()
        return try inner.highestSequence(gate: gate)
    }
}
