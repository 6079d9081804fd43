import FaregateCore
import Foundation

/// One running gate, composed of one part per job:
///
/// ```
/// reader 0 ─▶ ReaderPump ─▶ ring 0 ─┐                   ┌─ FileJournal (durable first)
/// reader n ─▶ ReaderPump ─▶ ring n ─┴─▶ DecisionLoop ───┼─ Barrier (then the lane)
///                                       (GateCore)      └─ GateTelemetry, observer
///                                           ▲ TableSlot ◀── SyncService ◀──▶ central store
///                                                              └─▶ SnapshotStore
/// ```
///
/// Each reader thread is the only producer of its own `SPSCTapRing`; the decision thread drains
/// them round-robin (per-reader order kept; why no cross-reader order is needed: `SPSCRing`).
/// The gate's reader-to-end map is `Options.readerEnds`, given to the core and, per reader, to
/// its pump (which tells a rider refused on a full ring at the right end).
///
/// Start with `start()`, stop with `stop()` (drains the rings, makes a last upload), both from
/// the owner's thread. Everything else is thread-safe.
public final class GateRuntime: @unchecked Sendable {
    // @unchecked Sendable: `threads` is touched only by start/stop (the owner's thread); every
    // other stored property is immutable after init and thread-safe itself.

    public struct Options: Sendable {
        public var gateID: String
        /// Capacity of each reader's tap ring (a power of two).
        public var ringCapacity: Int = 1024
        public var policy: GatePolicy = .healthCheckEra
        /// Entry/exit control (anti-passback, exit without entry); nil: none.
        public var access: AccessRules?
        /// The end of the passage each reader serves (by reader index): the gate's one
        /// reader-to-end map (`GateCore.readerEnds`).
        public var readerEnds: [GateEnd] = []
        /// The decision engine built from policy files; when nil, one is built from `policy`.
        public var engine: DecisionEngine?
        public var utcOffsetSeconds: Int = 8 * 3600
        public var sync: GateConfig.Sync = .init()
        /// Seeds the sync schedule's jitter; nil draws one at random (so that gates started
        /// together drift apart). Tests set it to replay a schedule.
        public var syncSeed: UInt64?
        /// How the table is brought up to date (signed publications, or a trusted full reload).
        public var tableSync = GateSync(mode: .trusted)
        /// Where the gate keeps its last verified table (an mmap-able snapshot) so that a restart
        /// serves from it even while central state is unreachable; nil keeps none.
        public var snapshotPath: String?
        /// Largest number of taps decided and journalled as one batch (one fdatasync).
        public var maxBatch: Int = 64
        /// When the first sync runs (`FirstSync`).
        public var firstSync: FirstSync = .beforeServing
        /// Ride-code checking for the gate's scanners; nil: scanners refuse every code as
        /// `ride_code_unknown_key` (no issuer keys).
        public var rideCodes: RideCodeSettings?
        public init(gateID: String) { self.gateID = gateID }
    }

    /// When the first sync with central state runs.
    public enum FirstSync: Sendable {
        /// In `start()`, before the readers start: the first taps are decided on central data
        /// when it is reachable (tests that want a known table at once use this).
        case beforeServing
        /// On the sync thread, beside the readers: the gate serves from its local table (the
        /// snapshot) at once, whatever central does. What `faregated` uses (issue 14: with
        /// central locked the first tap waited 5 s for the start-time sync).
        case besideServing
    }

    public typealias TapReport = GateTelemetry.TapReport
    public typealias Counters = GateTelemetry.Counters

    public let options: Options
    public let journal: FileJournal
    public let table = TableSlot()
    public let telemetry = GateTelemetry()
    public let startedAt: UInt64
    /// The lane the gate's decisions are shown on (its mode is in the metrics).
    public let barrier: any Barrier
    private let readers: [any CardReader]
    private let pumps: [ReaderPump]
    private let scanners: [any RideCodeScanner]
    private let scannerPumps: [ScannerPump]
    private let loop: DecisionLoop
    private let snapshots: SnapshotStore
    /// Signed mode with `RideCodeSettings.keysFromCentral`: the synced issuer keys.
    private let issuerKeys: SyncedIssuerKeys?
    private let sync: SyncService?
    private var threads: (readers: [WorkerThread], decision: WorkerThread?, sync: WorkerThread?) = ([], nil, nil)
    private var scannerThreads: [WorkerThread] = []

    /// - Parameters:
    ///   - storeFactory: opens a connection to central state, called on the sync thread (again
    ///     after a failure); nil runs the gate without central state.
    ///   - scanners: ride-code scanners; reader indices after the card readers' (scanner `i` is
    ///     reader `readers.count + i`, its end from `readerEnds` like a card reader's).
    ///   - observer: called on the decision thread after each tap's lane decision.
    public init(
        options: Options, journal: FileJournal, readers: [any CardReader], scanners: [any RideCodeScanner] = [],
        barrier: any Barrier, clock: any GateClock,
        storeFactory: (@Sendable () throws(CentralStoreError) -> any CentralStore)?,
        observer: (@Sendable (TapReport) -> Void)? = nil
    ) {
        self.options = options
        self.journal = journal
        self.readers = readers
        self.barrier = barrier
        self.scanners = scanners
        telemetry.setReaders(readers.map(\.name) + scanners.map(\.name))
        startedAt = clock.monotonicNanos()
        var core = GateCore(nextSequence: journal.nextSequence, policy: options.policy)
        if let engine = options.engine { core.engine = engine }
        if let access = options.access { core.ledger = PassageLedger(rules: access) }
        core.readerEnds = options.readerEnds
        core.utcOffsetSeconds = options.utcOffsetSeconds
        let rings = readers.map { _ in SPSCTapRing(capacity: options.ringCapacity) }
        let scanRings = scanners.map { _ in SPSCScanRing(capacity: options.ringCapacity) }
        let rideCodes =
            options.rideCodes
            ?? RideCodeSettings(
                verifier: RideCodeVerifier(signatures: RefusingSignatures(), digest: NoDigest()), keys: .empty)
        let replay = Self.loadReplayCache(rideCodes, gateID: options.gateID, now: clock.wallMillis() / 1000)
        loop = DecisionLoop(
            gateID: options.gateID, maxBatch: options.maxBatch, core: core, rings: rings, scanRings: scanRings,
            rideCodes: rideCodes, replay: replay, journal: journal, barrier: barrier, clock: clock, table: table,
            telemetry: telemetry, observer: observer)
        pumps = readers.indices.map { [loop, telemetry] i in
            ReaderPump(
                gateID: options.gateID, reader: readers[i], ring: rings[i], end: core.end(of: UInt16(i)), clock: clock,
                barrier: barrier, loop: loop, telemetry: telemetry, index: i)
        }
        scannerPumps = scanners.indices.map { [loop, telemetry] i in
            let index = readers.count + i
            return ScannerPump(
                gateID: options.gateID, scanner: scanners[i], ring: scanRings[i], settings: rideCodes,
                end: core.end(of: UInt16(index)), clock: clock, barrier: barrier, loop: loop, telemetry: telemetry,
                index: index)
        }
        let verifier: SyncVerifier? =
            switch options.tableSync.mode {
            case .signed(let v): v
            case .trusted: nil
            }
        snapshots = SnapshotStore(
            gateID: options.gateID, path: options.snapshotPath, table: table, verifier: verifier, clock: clock)
        // Central's issuer keys need the pinned key that verifies them: without it (trusted mode)
        // nothing could vouch for a synced key, so the set stays empty and says why.
        if let rc = options.rideCodes, rc.keysFromCentral {
            if let verifier {
                issuerKeys = SyncedIssuerKeys(
                    gateID: options.gateID, path: options.snapshotPath.map { $0 + ".issuer-keys" }, verifier: verifier,
                    holder: rc.issuerKeys, clock: clock)
            } else {
                issuerKeys = nil
                Log.error("gate \(options.gateID): issuer keys from central need a pinned central key; none in force")
            }
        } else {
            issuerKeys = nil
        }
        sync = storeFactory.map { [journal, table, snapshots, issuerKeys, telemetry] open in
            SyncService(
                gateID: options.gateID, settings: options.sync, tableSync: options.tableSync, openStore: open,
                journal: journal, table: table, snapshots: snapshots, issuerKeys: issuerKeys, telemetry: telemetry,
                clock: clock,
                seed: options.syncSeed ?? UInt64.random(in: .min ... .max))
        }
    }

    /// Loads the local snapshot, then starts the reader, decision and sync threads; the first
    /// sync runs before them or beside them (`Options.firstSync`).
    public func start() {
        if let path = options.snapshotPath, FileManager.default.fileExists(atPath: path),
            case .failure(let e) = loadSnapshot(path)
        {
            Log.error("gate \(options.gateID): \(e); starting without it")
        }
        issuerKeys?.load()
        let syncFirst = options.firstSync == .besideServing
        if !syncFirst { sync?.syncOnce() }
        let name = "faregate-\(options.gateID)"
        threads.readers = pumps.enumerated().map { i, pump in WorkerThread(name: "\(name)-reader-\(i)") { pump.run() } }
        scannerThreads = scannerPumps.enumerated().map { i, pump in
            WorkerThread(name: "\(name)-scanner-\(i)") { pump.run() }
        }
        threads.decision = WorkerThread(name: "\(name)-decision") { [loop] in loop.run() }
        if let sync { threads.sync = WorkerThread(name: "\(name)-sync") { sync.run(syncFirst: syncFirst) } }
    }

    /// Stops readers, drains the rings, makes a last upload, joins every thread.
    ///
    /// With `uploadWithin`, the wait for the sync thread (which may be in a sync against an
    /// unreachable central) and the last upload together take at most that long: past it the
    /// upload is abandoned (logged; the journal is durable and the upload idempotent, so the
    /// next start uploads what is left) and false is returned. The drain of the taps in the rings
    /// is local work (decide, journal) and is always waited for.
    @discardableResult
    public func stop(uploadWithin: Duration? = nil) -> Bool {
        for r in readers { r.cancel() }
        for s in scanners { s.cancel() }
        for t in threads.readers { t.join() }
        for t in scannerThreads { t.join() }
        scannerThreads = []
        // Readers are joined: no tap arrives after this, so the loop drains what is queued.
        loop.stop()
        sync?.stop()
        threads.decision?.join()
        let syncThread = threads.sync
        threads = ([], nil, nil)
        guard let sync else { return true }
        // Upload what the last taps journalled, after the sync thread is done.
        let upload = WorkerThread(name: "faregate-\(options.gateID)-last-upload") {
            syncThread?.join()
            sync.syncOnce()
        }
        guard let uploadWithin else {
            upload.join()
            return true
        }
        if upload.join(timeout: uploadWithin) { return true }
        Log.warning(
            "gate \(options.gateID): the last upload did not finish within \(uploadWithin); journal entries after \(journal.acknowledged) are uploaded at the next start"
        )
        return false
    }

    /// The replay cache kept at `settings.replayPath`, or an empty one. A file that cannot be
    /// used is set aside (`.damaged`) and logged; the gate then starts with a cache whose floor
    /// refuses every code made up to now (fail closed: a screenshot from before the restart stays
    /// refused until it is past its age anyway).
    static func loadReplayCache(_ settings: RideCodeSettings, gateID: String, now: Int64) -> RideCodeReplayCache {
        var empty = RideCodeReplayCache(capacity: settings.replayCapacity)
        guard let path = settings.replayPath, FileManager.default.fileExists(atPath: path) else { return empty }
        do {
            let bytes = try FileBytes.read(path, maxBytes: 64 << 20) ?? []
            return try RideCodeReplayCache(serialized: bytes, capacity: settings.replayCapacity)
        } catch {
            Log.error(
                "gate \(gateID): ride-code replay cache \(path) unusable (\(error)); refusing codes made before now")
            _ = rename(path, path + ".damaged")
            empty.refuseMadeUntil(now: now)
            return empty
        }
    }

    /// Whether a sync with central state has succeeded since start.
    public var hasSynced: Bool { telemetry.currentCounters.syncs > 0 }

    // MARK: For the control socket, metrics and tests

    public var currentCounters: Counters { telemetry.currentCounters }

    /// Taps since start by the decision the rider was told, the detected → commanded latency
    /// histogram and the sum of its samples in nanoseconds.
    public var currentTallies: (told: [Decision: UInt64], total: LatencyHistogram, totalSumNanos: UInt64) {
        telemetry.currentTallies
    }

    /// Waits up to `timeout` seconds for the first report from `reader` recorded after the one
    /// numbered `serial` (`telemetry.lastReportSerial` before presenting the card).
    public func waitForReport(reader: UInt16, afterSerial serial: UInt64, timeout: Double) -> TapReport? {
        telemetry.waitForReport(reader: reader, afterSerial: serial, timeout: timeout)
    }

    /// Puts new rules in force from the next tap on, without a restart: the decision thread
    /// takes the engine over between two batches (the journal sequence goes on).
    public func replaceEngine(_ engine: DecisionEngine) { loop.replaceEngine(engine) }

    /// Journals a staff command the barrier was given (`DecisionLoop.journalStaffCommand`).
    public func journalStaffCommand(_ command: StaffCommand) { loop.journalStaffCommand(command) }

    /// Journals a change the lane made by itself (`DecisionLoop.journalLaneEvent`).
    public func journalLaneEvent(_ event: LaneEvent) { loop.journalLaneEvent(event) }

    /// Whether the decision thread went round its loop since the last probe (systemd's watchdog
    /// is fed only while it does; `DecisionLoop.answeredProbe`).
    public func decisionThreadAnswered() -> Bool { loop.answeredProbe() }

    /// The last sync's error, nil after a success or without central state.
    public var lastSyncFailure: String? { sync?.lastFailure }

    /// Asks the sync thread to sync now instead of at its next scheduled time.
    public func syncNow() { sync?.syncNow() }

    /// One sync now, on the calling thread; false when it failed or the gate has no central state.
    @discardableResult
    public func syncOnce() -> Bool { sync?.syncOnce() ?? false }

    /// Puts the snapshot at `path` in service (`SnapshotStore.load`: a bad file is refused with
    /// an error naming it, and the table in service stays).
    @discardableResult
    public func loadSnapshot(_ path: String) -> Result<UInt64, SnapshotFileError> { snapshots.load(path) }
}

/// Signatures of a gate without issuer keys: nothing verifies (check 3 refuses first anyway).
struct RefusingSignatures: RideCodeSignatureVerifier {
    func verify(_ algorithm: RideCodeAlgorithm, publicKey: [UInt8], message: [UInt8], signature: [UInt8]) -> Bool {
        false
    }
}

/// The digest of a gate without issuer keys (never reached: no code passes check 3 there).
struct NoDigest: BodyDigest {
    func sha256(_ bytes: UnsafeRawBufferPointer) -> [UInt8] { [UInt8](repeating: 0, count: 32) }
}
