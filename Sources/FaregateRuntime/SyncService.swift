import FaregateCore
import Synchronization

/// The gate's sync with central state: on a schedule (`SyncSchedule`: interval with jitter, a
/// doubling backoff after failures, all in the injected clock's time), on request, and once at
/// start and stop. Each sync brings the table up to date (`GateSync`), saves the local snapshot
/// when the table changed, and uploads the journal.
///
/// Threads: `run()` is the sync thread's body. `syncOnce()` is serialised and may be called from
/// any thread (the sync thread, the control socket, start and stop); `syncNow()`, `stop()` and
/// `lastFailure` too.
final class SyncService: @unchecked Sendable {
    // @unchecked Sendable: `store` and `schedule` are touched only under `lock` (`schedule` by
    // the sync thread only, inside `run`); everything else is thread-safe or immutable.
    private let gateID: String
    private let settings: GateConfig.Sync
    private let tableSync: GateSync
    private let openStore: @Sendable () throws(CentralStoreError) -> any CentralStore
    private let journal: FileJournal
    private let table: TableSlot
    private let snapshots: SnapshotStore
    private let telemetry: GateTelemetry
    private let clock: any GateClock
    private let sleeper: ClockSleeper
    private let stopping = Atomic<Bool>(false)
    private let lastError = Mutex<String?>(nil)
    private let lock = Mutex<Void>(())
    /// The open connection to central state; nil after a failure (reconnect next time).
    private var store: (any CentralStore)?
    private var schedule: SyncSchedule

    /// - Parameter seed: the jitter sequence (the daemon draws it at random, so that gates
    ///   started together drift apart).
    init(
        gateID: String, settings: GateConfig.Sync, tableSync: GateSync,
        openStore: @escaping @Sendable () throws(CentralStoreError) -> any CentralStore, journal: FileJournal,
        table: TableSlot, snapshots: SnapshotStore, telemetry: GateTelemetry, clock: any GateClock, seed: UInt64
    ) {
        self.gateID = gateID
        self.settings = settings
        self.tableSync = tableSync
        self.openStore = openStore
        self.journal = journal
        self.table = table
        self.snapshots = snapshots
        self.telemetry = telemetry
        self.clock = clock
        sleeper = ClockSleeper(clock: clock)
        schedule = SyncSchedule(
            intervalSeconds: settings.intervalSeconds, jitterSeconds: settings.jitterSeconds,
            maxBackoffSeconds: settings.maxBackoffSeconds, seed: seed)
    }

    /// The last sync's error, nil after a success.
    var lastFailure: String? { lastError.withLock { $0 } }

    /// Ends the current or next wait of the sync thread: it syncs now, then follows the schedule.
    func syncNow() { sleeper.wake() }

    /// Makes `run()` return (after the sync in progress, if any).
    func stop() {
        // Release: pairs with the acquiring load after each wake in `run`.
        stopping.store(true, ordering: .releasing)
        sleeper.wake()
    }

    /// The sync thread's body: sleeps until the schedule's next deadline (or a wake), syncs,
    /// and reschedules from the outcome. Returns after `stop()`. With `syncFirst` it syncs at
    /// once before the first wait (the gate's first sync, beside the readers).
    func run(syncFirst: Bool = false) {
        var deadline: UInt64
        if syncFirst {
            if stopping.load(ordering: .acquiring) { return }
            deadline = schedule.next(after: syncOnce(), at: clock.monotonicNanos())
        } else {
            deadline = schedule.first(at: clock.monotonicNanos())
        }
        while true {
            sleeper.sleep(until: deadline)
            if stopping.load(ordering: .acquiring) { return }
            let ok = syncOnce()
            deadline = schedule.next(after: ok, at: clock.monotonicNanos())
        }
    }

    /// One sync: reload or patch the table if central data changed, upload the journal. Returns
    /// success; a failure is counted, and logged when its message differs from the last one.
    @discardableResult
    func syncOnce() -> Bool {
        lock.withLock { _ in
            do throws(CentralStoreError) {
                let store: any CentralStore
                if let open = self.store { store = open } else { store = try openStore() }
                self.store = store
                // The journal upload does not depend on the table update: a publication the gate
                // refuses (or one it cannot read) must not stop its records reaching central
                // (issue 16.6). A table failure is still the sync's failure, after the upload.
                var tableFailure: CentralStoreError?
                do throws(CentralStoreError) { try update(from: store) } catch { tableFailure = error }
                try upload(to: store)
                if let tableFailure { throw tableFailure }
                let wall = clock.wallMillis()
                telemetry.count {
                    $0.syncs += 1
                    $0.lastSyncSuccessWallMillis = wall
                }
                lastError.withLock { $0 = nil }
                return true
            } catch {
                store = nil
                telemetry.count { $0.syncFailures += 1 }
                let message = error.description
                let changed = lastError.withLock { last -> Bool in
                    defer { last = message }
                    return last != message
                }
                if changed { Log.warning("gate \(gateID): sync failed, serving from cache: \(message)") }
                return false
            }
        }
    }

    /// Brings the table up to date; a refused publication becomes a store-level error for the
    /// failure accounting (the table in service stays either way).
    private func update(from store: any CentralStore) throws(CentralStoreError) {
        let outcome: GateSync.Outcome
        do {
            outcome = try tableSync.update(from: store, inService: table.current().table)
        } catch {
            switch error {
            case .store(let e): throw e
            case .verification: throw CentralStoreError(.refused, error.description)
            }
        }
        switch outcome {
        case .current:
            table.markVerified(at: clock.monotonicNanos())
        case .replace(let fresh, let how):
            table.publish(fresh, verifiedAt: clock.monotonicNanos())
            Log.info("gate \(gateID): table version \(fresh.dataVersion) in service (\(how)), \(fresh.count) cards")
            snapshots.save()
        case .apply(let changes, let version, let how):
            table.apply(changes, dataVersion: version, verifiedAt: clock.monotonicNanos())
            Log.info("gate \(gateID): table version \(version) in service (\(how))")
            snapshots.save()
        }
    }

    /// Uploads the journal in batches until central holds all of it, recording each
    /// acknowledgement. Holes (sequences whose line is damaged or gone) go up as holes, so the
    /// acknowledgement moves past them; when it still stops short (a conflict central flagged for
    /// an operator), the later batches are uploaded all the same.
    private func upload(to store: any CentralStore) throws(CentralStoreError) {
        var after: UInt64? = nil
        while true {
            let batch: FileJournal.UploadBatch
            do {
                batch = try journal.pendingBatch(limit: settings.uploadBatch, after: after)
            } catch {
                throw CentralStoreError(.queryFailed, "cannot read local journal for upload", cause: error.description)
            }
            guard let last = batch.lastSequence else { return }
            if !batch.holes.isEmpty {
                let shown = batch.holes.map {
                    $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)...\($0.upperBound)"
                }
                Log.warning(
                    "gate \(gateID): journal sequence(s) \(shown.joined(separator: ",")) damaged or missing locally; uploading them as holes"
                )
                try store.recordHoles(
                    gate: gateID, ranges: batch.holes, reason: "damaged or missing in the gate's journal")
            }
            if !batch.entries.isEmpty { try store.uploadJournal(gate: gateID, entries: batch.entries) }
            let acked = try store.acknowledgedSequence(gate: gateID)
            do {
                try journal.acknowledge(acked)
            } catch {
                throw CentralStoreError(.queryFailed, "cannot record acknowledgement locally", cause: error.description)
            }
            telemetry.count { $0.uploaded += UInt64(batch.entries.count) }
            after = max(acked, last)
        }
    }
}
