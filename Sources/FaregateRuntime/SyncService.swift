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
    /// Signed mode with ride codes: central's issuer keys, brought up to date at every sync.
    private let issuerKeys: SyncedIssuerKeys?
    private let telemetry: GateTelemetry
    private let clock: any GateClock
    private let sleeper: ClockSleeper
    private let stopping = Atomic<Bool>(false)
    private let lastError = Mutex<String?>(nil)
    /// Why the last sync did not refresh the data age (signed mode), to log each reason once.
    private let freshness = Mutex<String?>(nil)
    private let lock = Mutex<Void>(())
    /// The open connection to central state; nil after a failure (reconnect next time).
    private var store: (any CentralStore)?
    private var schedule: SyncSchedule

    /// - Parameter seed: the jitter sequence (the daemon draws it at random, so that gates
    ///   started together drift apart).
    init(
        gateID: String, settings: GateConfig.Sync, tableSync: GateSync,
        openStore: @escaping @Sendable () throws(CentralStoreError) -> any CentralStore, journal: FileJournal,
        table: TableSlot, snapshots: SnapshotStore, issuerKeys: SyncedIssuerKeys? = nil, telemetry: GateTelemetry,
        clock: any GateClock, seed: UInt64
    ) {
        self.issuerKeys = issuerKeys
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
                // Issuer keys do not depend on the table either: a revocation reaches the scanners
                // even while a table publication is refused (and the other way round).
                var keysFailure: CentralStoreError?
                do throws(CentralStoreError) { try issuerKeys?.update(from: store) } catch { keysFailure = error }
                try upload(to: store)
                if let tableFailure { throw tableFailure }
                if let keysFailure { throw keysFailure }
                let wall = clock.wallMillis()
                try store.recordSync(
                    gate: gateID, dataVersion: table.current().table?.dataVersion ?? 0, wallMillis: wall)
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
    ///
    /// Data age. Trusted mode: the table counts as verified now. Signed mode: only central's signed
    /// timestamp statement vouches for freshness (`SyncTimestamp`): the table counts as verified
    /// at the statement's `issuedAt` (on this gate's clock) when the statement verifies and names
    /// a version the table holds; otherwise the age is not refreshed, so a frozen central, a
    /// replayed old state or a stopped timestamp signer make the gate stale after
    /// `max_data_age_seconds`.
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
        let now = clock.monotonicNanos()
        let target: UInt64? =
            switch outcome {
            case .current: table.current().table?.dataVersion
            case .replace(let fresh, _, _): fresh.dataVersion
            case .apply(_, let version, _, _): version
            }
        var vouched: (at: UInt64, sealed: [UInt8])?
        if case .signed(let verifier) = tableSync.mode {
            vouched = vouchedAt(store, verifier, version: target ?? 0)
        }
        let signed = if case .signed = tableSync.mode { true } else { false }
        let previous = table.current().verifiedAt
        switch outcome {
        case .current:
            if !signed { table.markVerified(at: now) } else if let vouched { table.markVerified(at: vouched.at) }
        case .replace(let fresh, let how, let basis):
            table.publish(fresh, verifiedAt: signed ? vouched?.at : now)
            Log.info("gate \(gateID): table version \(fresh.dataVersion) in service (\(how)), \(fresh.count) cards")
            snapshots.save(basis: basis)
        case .apply(let changes, let version, let how, let deltas):
            table.apply(changes, dataVersion: version, verifiedAt: signed ? (vouched?.at ?? previous ?? 0) : now)
            Log.info("gate \(gateID): table version \(version) in service (\(how))")
            snapshots.append(deltas)
        }
        if let vouched { snapshots.saveTimestamp(vouched.sealed) }
    }

    /// The monotonic time central's timestamp statement vouches for a table at `version`, and
    /// the statement; nil (logged when the reason changes) when there is none, it does not
    /// verify, it is out of date, or it names a version newer than `version`.
    private func vouchedAt(_ store: any CentralStore, _ verifier: SyncVerifier, version: UInt64) -> (
        at: UInt64, sealed: [UInt8]
    )? {
        let wall = clock.wallMillis()
        let problem: String
        do {
            guard let sealed = try (store as? any PublicationStore)?.latestTimestamp() else {
                throw SyncVerificationError(.malformed, "central has signed no timestamp statement")
            }
            let t = try verifier.verifyTimestamp(sealed, nowMillis: wall)
            guard t.version <= version else {
                throw SyncVerificationError(
                    .notApplicable, "central's timestamp names version \(t.version), the gate holds \(version)")
            }
            freshness.withLock { $0 = nil }
            return (SyncService.monotonic(ofWall: t.issuedAtMillis, clock: clock), sealed)
        } catch {
            problem = "\(error)"
        }
        let changed = freshness.withLock { last -> Bool in
            defer { last = problem }
            return last != problem
        }
        if changed { Log.warning("gate \(gateID): data age not refreshed: \(problem)") }
        return nil
    }

    /// The monotonic time that was wall time `wallMillis` on `clock` (at least 1: 0 means never).
    static func monotonic(ofWall wallMillis: Int64, clock: any GateClock) -> UInt64 {
        let (age, overflow) = clock.wallMillis().subtractingReportingOverflow(wallMillis)
        let (ageNanos, tooOld) = UInt64(max(0, age)).multipliedReportingOverflow(by: 1_000_000)
        let now = clock.monotonicNanos()
        guard !overflow, !tooOld, now > ageNanos else { return 1 }
        return now - ageNanos
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
