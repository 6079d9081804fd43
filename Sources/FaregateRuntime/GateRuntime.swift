import Dispatch
import FaregateCore
import Foundation
import Synchronization

/// One running gate: reader threads → one tap ring per reader → decision thread → journal →
/// barrier, and a sync thread that refreshes the status table and uploads the journal.
///
/// ```
/// reader 0 ─▶ ring 0 ─┐                ┌─ journal (durable) ─ barrier
/// reader 1 ─▶ ring 1 ─┼─▶ decision     ┤
/// reader n ─▶ ring n ─┘   (GateCore)   └─ observer (metrics, simulation)
///                          ▲ table (TableSlot) ◀── sync thread ◀──▶ central store
/// ```
///
/// Each reader thread is the only producer of its own `SPSCTapRing`; the decision thread drains
/// them round-robin (per-reader order kept; why no cross-reader order is needed: `SPSCRing`).
///
/// Start with `start()`, stop with `stop()` (drains the rings, makes a last upload). Thread-safe.
public final class GateRuntime: @unchecked Sendable {
    // @unchecked Sendable: `core` is touched only by the decision thread; `syncStore` only by
    // the sync thread; `threads` only by start/stop (called from the owner's thread). Everything
    // else shared is a Mutex, an Atomic, or immutable after init.

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
        /// How the table is brought up to date (signed publications, or a trusted full reload).
        public var tableSync = GateSync(mode: .trusted)
        /// Where the gate keeps its last verified table (an mmap-able snapshot) so that a restart
        /// serves from it even while central state is unreachable; nil keeps none.
        public var snapshotPath: String?
        /// Largest number of taps decided and journalled as one batch (one fdatasync).
        public var maxBatch: Int = 64
        public init(gateID: String) { self.gateID = gateID }
    }

    /// Everything known about one handled tap, for metrics and simulations.
    public struct TapReport: Sendable {
        public var entry: JournalEntry
        public var tap: Tap?
        public var dequeuedAt: UInt64
        public var lookedUpAt: UInt64
        public var decidedAt: UInt64
        public var journaledAt: UInt64
        public var commandedAt: UInt64
        /// The entry could not be journalled: the barrier stayed closed.
        public var journalFailed: Bool
    }

    /// Counters since start.
    public struct Counters: Sendable, Codable, Equatable {
        public var taps: UInt64 = 0
        public var rejected: UInt64 = 0
        public var journalFailures: UInt64 = 0
        public var syncs: UInt64 = 0
        public var syncFailures: UInt64 = 0
        public var uploaded: UInt64 = 0
        public var readerLosses: UInt64 = 0
    }

    public let options: Options
    public let journal: FileJournal
    public let table = TableSlot()
    private let readers: [any CardReader]
    private let barrier: any Barrier
    private let clock: any GateClock
    private let storeFactory: (@Sendable () throws(CentralStoreError) -> any CentralStore)?
    private let observer: (@Sendable (TapReport) -> Void)?
    /// One ring per reader (same index): its reader thread is the only producer, the decision
    /// thread the only consumer.
    private let rings: [SPSCTapRing]
    /// The decision thread spins briefly, then parks, when it has nothing to do.
    private let parker = TapParker()
    /// Bumped (sequentially consistent) for work that does not go through the ring: refused
    /// taps, a new engine. The decision thread's park condition watches it.
    private let pokes = Atomic<Int>(0)
    /// Outer iterations of the decision loop, for the liveness probe (systemd's watchdog).
    private let loops = Atomic<Int>(0)
    private let lastProbe = Mutex<Int>(-1)
    private var core: GateCore

    private let syncWake = DispatchSemaphore(value: 0)
    private let stopping = Atomic<Bool>(false)
    private let readersDone = Atomic<Int>(0)
    private let counters = Mutex(Counters())
    private let pendingRejections = Mutex<[UInt16]>([])
    private let lastSyncError = Mutex<String?>(nil)
    private let syncLock = NSLock()
    /// A new decision engine waiting to be taken over by the decision thread between batches.
    private let pendingEngine = Mutex<DecisionEngine?>(nil)
    /// Journal entries by reason code (indexed by `Reason.rawValue`) and detected → commanded
    /// latency, for metrics.
    private let tallies = Mutex((reasons: [UInt64](repeating: 0, count: 64), total: LatencyHistogram()))
    /// The last reports, newest last, for the control socket's `tap` command.
    private let recent = Mutex<[TapReport]>([])
    private let reportArrived = DispatchSemaphore(value: 0)
    private let reportWaiters = Atomic<Int>(0)
    public let startedAt: UInt64
    private var threads: [(Thread, DispatchSemaphore)] = []
    private var syncStore: (any CentralStore)?

    /// - Parameters:
    ///   - storeFactory: opens a connection to central state, called on the sync thread (again
    ///     after a failure); nil runs the gate without central state.
    ///   - observer: called on the decision thread after each tap's barrier command.
    public init(
        options: Options, journal: FileJournal, readers: [any CardReader], barrier: any Barrier, clock: any GateClock,
        storeFactory: (@Sendable () throws(CentralStoreError) -> any CentralStore)?,
        observer: (@Sendable (TapReport) -> Void)? = nil
    ) {
        self.options = options
        self.journal = journal
        self.readers = readers
        self.barrier = barrier
        self.clock = clock
        self.storeFactory = storeFactory
        self.observer = observer
        rings = readers.map { _ in SPSCTapRing(capacity: options.ringCapacity) }
        core = GateCore(nextSequence: journal.nextSequence, policy: options.policy)
        if let engine = options.engine { core.engine = engine }
        if let access = options.access { core.ledger = PassageLedger(rules: access) }
        core.readerEnds = options.readerEnds
        core.utcOffsetSeconds = options.utcOffsetSeconds
        startedAt = clock.monotonicNanos()
    }

    public var currentCounters: Counters { counters.withLock { $0 } }

    /// Journal entries by reason since start, and the detected → commanded latency histogram.
    public var currentTallies: (reasons: [Reason: UInt64], total: LatencyHistogram) {
        tallies.withLock { t in
            var out: [Reason: UInt64] = [:]
            for r in Reason.allCases where t.reasons[Int(r.rawValue) & 63] > 0 {
                out[r] = t.reasons[Int(r.rawValue) & 63]
            }
            return (out, t.total)
        }
    }

    /// Puts new rules in force from the next tap on, without a restart: the decision thread
    /// takes the engine over between two batches (the journal sequence goes on).
    public func replaceEngine(_ engine: DecisionEngine) {
        pendingEngine.withLock { $0 = engine }
        poke()
    }

    /// Waits up to `timeout` seconds for the first report from `reader` with a sequence after
    /// `sequence` (the control socket's `tap` command uses it to answer with the decision).
    public func waitForReport(reader: UInt16, after sequence: UInt64, timeout: Double) -> TapReport? {
        reportWaiters.add(1, ordering: .relaxed)
        defer { reportWaiters.subtract(1, ordering: .relaxed) }
        let deadline = DispatchTime.now() + timeout
        while true {
            if let r = recent.withLock({ $0.last { $0.entry.reader == reader && $0.entry.sequence > sequence } }) {
                return r
            }
            if reportArrived.wait(timeout: deadline) == .timedOut {
                return recent.withLock { $0.last { $0.entry.reader == reader && $0.entry.sequence > sequence } }
            }
        }
    }
    public var lastSyncFailure: String? { lastSyncError.withLock { $0 } }

    /// Loads the table once (so the first taps are decided on data when central state is up),
    /// then starts the reader, decision and sync threads.
    public func start() {
        if let path = options.snapshotPath, FileManager.default.fileExists(atPath: path),
            case .failure(let e) = loadSnapshot(path)
        {
            Log.error("gate \(options.gateID): \(e); starting without it")
        }
        if storeFactory != nil { _ = syncOnce() }
        for (i, reader) in readers.enumerated() {
            spawn("reader-\(i)") { [self] in readerLoop(reader, ring: rings[i]) }
        }
        spawn("decision") { [self] in decisionLoop() }
        if storeFactory != nil { spawn("sync") { [self] in syncLoop() } }
    }

    /// Stops readers, drains the ring, makes a last upload, joins every thread.
    public func stop() {
        for r in readers { r.cancel() }
        let readerThreads = threads.prefix(readers.count)
        for (_, done) in readerThreads { done.wait() }
        // Release: the decision thread that sees `stopping` also sees every push made before it.
        stopping.store(true, ordering: .releasing)
        parker.wake()
        syncWake.signal()
        for (_, done) in threads.dropFirst(readers.count) { done.wait() }
        threads.removeAll()
        if storeFactory != nil { _ = syncOnce() }  // upload what the last taps journalled
    }

    /// Asks the sync thread to sync now instead of at its next scheduled time.
    public func syncNow() { syncWake.signal() }

    private func spawn(_ name: String, _ body: @escaping @Sendable () -> Void) {
        let done = DispatchSemaphore(value: 0)
        let t = Thread {
            body()
            done.signal()
        }
        t.name = "faregate-\(options.gateID)-\(name)"
        t.stackSize = 1 << 20
        threads.append((t, done))
        t.start()
    }

    // MARK: Reader threads

    private func readerLoop(_ reader: any CardReader, ring: SPSCTapRing) {
        while true {
            switch reader.nextEvent() {
            case .cancelled:
                return
            case .readerLost(let why):
                counters.withLock { $0.readerLosses += 1 }
                Log.warning("gate \(options.gateID): reader \(reader.name) lost: \(why)")
            case .readerRestored:
                Log.info("gate \(options.gateID): reader \(reader.name) restored")
            case .tap(var tap):
                tap.enqueuedAt = clock.monotonicNanos()
                if ring.tryPush(tap) {
                    // Not unpark(): the push published `tail` with a releasing store, which needs
                    // a fence before the parked check (TapParker's Dekker pairing; the decision
                    // thread re-checks every ring after announcing parked).
                    parker.wakeAfterPush()
                } else {
                    // Ring full: the rider is told to tap again now; the decision loop journals it.
                    pendingRejections.withLock { $0.append(tap.reader) }
                    barrier.decided(.deny(.tapAgain), at: GateCore.end(of: tap.reader, in: options.readerEnds))
                    poke()
                }
            }
        }
    }

    // MARK: Decision thread

    /// Whether the decision thread went round its loop since the last probe; each probe also
    /// wakes it, so an idle but healthy thread answers the next probe. A thread stuck in a tap
    /// (a hung disk, a deadlock) stops answering: the daemon then stops feeding systemd's
    /// watchdog and is restarted.
    public func decisionThreadAnswered() -> Bool {
        let now = loops.load(ordering: .relaxed)
        let answered = lastProbe.withLock { last in
            defer { last = now }
            return last == -1 || now != last
        }
        poke()
        return answered
    }

    /// Tells the decision thread about work outside the ring.
    private func poke() {
        // Sequentially consistent RMW, then unpark: the same Dekker pairing as a ring push.
        pokes.wrappingAdd(1, ordering: .sequentiallyConsistent)
        parker.unpark()
    }

    private struct Handled {
        var output: GateCore.Output
        var tap: Tap?
        var dequeuedAt: UInt64
    }

    private func decisionLoop() {
        var seenPokes = pokes.load(ordering: .sequentiallyConsistent)
        var batch: [Handled] = []
        batch.reserveCapacity(options.maxBatch)
        var entries: [JournalEntry] = []
        entries.reserveCapacity(options.maxBatch)
        while true {
            loops.wrappingAdd(1, ordering: .relaxed)
            if let engine = pendingEngine.withLock({ p -> DecisionEngine? in
                defer { p = nil }
                return p
            }) {
                core.engine = engine
                Log.info("gate \(options.gateID): rules \(engine.label.isEmpty ? "(inline)" : engine.label) in force")
            }
            // Take a batch: one fdatasync covers every tap that arrived while the last one ran.
            let (table, verifiedAt) = self.table.current()
            let dataAge = dataAgeSeconds(verifiedAt: verifiedAt)
            func take(_ tap: Tap) {
                let dequeuedAt = clock.monotonicNanos()
                let out = core.handle(tap, dequeuedAt: dequeuedAt, table: table, dataAgeSeconds: dataAge, clock: clock)
                batch.append(Handled(output: out, tap: tap, dequeuedAt: dequeuedAt))
            }
            takeRoundRobin(take)
            let rejected = pendingRejections.withLock { r -> [UInt16] in
                defer { r.removeAll(keepingCapacity: true) }
                return r
            }
            for reader in rejected {
                let entry = core.rejectedTap(
                    reader: reader, wallMillis: clock.wallMillis(), dataVersion: table?.dataVersion ?? 0)
                let now = clock.monotonicNanos()
                batch.append(
                    Handled(
                        output: GateCore.Output(
                            entry: entry, end: core.end(of: reader), lookedUpAt: now, decidedAt: now), tap: nil,
                        dequeuedAt: now))
            }
            if batch.isEmpty {
                // Acquire pairs with the release in stop(): every push made before it is visible,
                // and readers are joined, so an empty ring now stays empty.
                guard stopping.load(ordering: .acquiring) else {
                    parker.park(until: {
                        rings.contains { !$0.isEmpty } || stopping.load(ordering: .sequentiallyConsistent)
                            || pokes.load(ordering: .sequentiallyConsistent) != seenPokes
                    })
                    seenPokes = pokes.load(ordering: .sequentiallyConsistent)
                    continue
                }
                guard let tap = rings.lazy.compactMap({ $0.tryPop() }).first else { return }
                take(tap)
            }
            entries.removeAll(keepingCapacity: true)
            for h in batch { entries.append(h.output.entry) }
            var journalFailed = false
            do {
                try journal.append(entries)
            } catch {
                journalFailed = true
                Log.error("gate \(options.gateID): \(error); \(entries.count) tap(s) refused, barrier kept closed")
                core.rewind(to: journal.nextSequence)
            }
            let journaledAt = clock.monotonicNanos()
            for h in batch {
                // An entry that is not durable never opens the barrier.
                let command: Decision = journalFailed ? .deny(.gateOutOfService) : h.output.entry.decision
                if h.output.entry.kind != .rejected { barrier.decided(command, at: h.output.end) }
                let commandedAt = clock.monotonicNanos()
                observer?(
                    TapReport(
                        entry: h.output.entry, tap: h.tap, dequeuedAt: h.dequeuedAt, lookedUpAt: h.output.lookedUpAt,
                        decidedAt: h.output.decidedAt,
                        journaledAt: journaledAt, commandedAt: commandedAt, journalFailed: journalFailed))
            }
            tallies.withLock { t in
                for h in batch {
                    t.reasons[Int(h.output.entry.decision.reason.rawValue) & 63] += 1
                    if let tap = h.tap { t.total.record(clock.monotonicNanos() &- tap.detectedAt) }
                }
            }
            recent.withLock { r in
                for h in batch {
                    r.append(
                        TapReport(
                            entry: h.output.entry, tap: h.tap, dequeuedAt: h.dequeuedAt,
                            lookedUpAt: h.output.lookedUpAt,
                            decidedAt: h.output.decidedAt, journaledAt: journaledAt, commandedAt: journaledAt,
                            journalFailed: journalFailed))
                }
                if r.count > 512 { r.removeFirst(r.count - 256) }
            }
            // Only pay for a wake-up when a control request is waiting for a decision.
            let waiters = reportWaiters.load(ordering: .relaxed)
            for _ in 0..<waiters { reportArrived.signal() }
            counters.withLock {
                $0.taps += UInt64(batch.count - rejected.count)
                $0.rejected += UInt64(rejected.count)
                if journalFailed { $0.journalFailures += UInt64(batch.count) }
            }
            batch.removeAll(keepingCapacity: true)
        }
    }

    /// Takes up to `maxBatch` taps from the readers' rings, at most an equal share from each ring
    /// per round, so a busy reader cannot hold back another reader's rider for more than one round.
    private func takeRoundRobin(_ take: (Tap) -> Void) {
        guard !rings.isEmpty else { return }
        let share = max(1, options.maxBatch / rings.count)
        var room = options.maxBatch
        var progressed = true
        while room > 0 && progressed {
            progressed = false
            for ring in rings where room > 0 {
                let n = ring.drain(limit: min(share, room), take)
                room -= n
                progressed = progressed || n > 0
            }
        }
    }

    private func dataAgeSeconds(verifiedAt: UInt64?) -> Int? {
        guard let verifiedAt else { return nil }
        let now = clock.monotonicNanos()
        return now > verifiedAt ? Int((now - verifiedAt) / 1_000_000_000) : 0
    }

    // MARK: Sync thread

    private func syncLoop() {
        var backoff = 1.0
        var delay = nextInterval()
        while true {
            _ = syncWake.wait(timeout: .now() + delay)
            if stopping.load(ordering: .acquiring) { return }
            if syncOnce() {
                backoff = 1.0
                delay = nextInterval()
            } else {
                delay = backoff
                backoff = min(backoff * 2, options.sync.maxBackoffSeconds)
            }
        }
    }

    private func nextInterval() -> Double {
        options.sync.intervalSeconds + Double.random(in: 0...max(0, options.sync.jitterSeconds))
    }

    /// One sync: reload the table if central data changed, upload the journal. Returns success.
    /// Serialised: the sync thread, the control socket and tests may call it concurrently.
    @discardableResult
    public func syncOnce() -> Bool {
        guard let storeFactory else { return false }
        syncLock.lock()
        defer { syncLock.unlock() }
        do throws(CentralStoreError) {
            let store: any CentralStore
            if let open = syncStore { store = open } else { store = try storeFactory() }
            syncStore = store
            let (inService, _) = table.current()
            switch try sync(store, inService) {
            case .current:
                table.markVerified(at: clock.monotonicNanos())
            case .replace(let fresh, let how):
                table.publish(fresh, verifiedAt: clock.monotonicNanos())
                Log.info(
                    "gate \(options.gateID): table version \(fresh.dataVersion) in service (\(how)), \(fresh.count) cards"
                )
                saveSnapshot()
            case .apply(let changes, let version, let how):
                table.apply(changes, dataVersion: version, verifiedAt: clock.monotonicNanos())
                Log.info("gate \(options.gateID): table version \(version) in service (\(how))")
                saveSnapshot()
            }
            try upload(to: store)
            counters.withLock { $0.syncs += 1 }
            lastSyncError.withLock { $0 = nil }
            return true
        } catch {
            syncStore = nil  // reconnect next time
            counters.withLock { $0.syncFailures += 1 }
            let message = error.description
            let changed = lastSyncError.withLock { last -> Bool in
                defer { last = message }
                return last != message
            }
            if changed { Log.warning("gate \(options.gateID): sync failed, serving from cache: \(message)") }
            return false
        }
    }

    /// Writes the table in service as the local snapshot (temp file, fsync, rename, fsync of the
    /// directory), with the wall time it was verified beside it for the data age after a restart.
    private func saveSnapshot() {
        guard let path = options.snapshotPath else { return }
        do {
            try SnapshotFile.write(table.holder.currentTable(), to: path)
            try String(clock.wallMillis()).write(toFile: path + ".verified", atomically: true, encoding: .utf8)
        } catch {
            Log.warning("gate \(options.gateID): cannot save the local snapshot: \(error)")
        }
    }

    /// Puts the snapshot at `path` in service (at start, or handed over by an operator). A file
    /// that is truncated, corrupt or of another format is refused with an error naming it, and
    /// the table in service stays. Its age comes from `path.verified`; without that the data
    /// counts as never verified (the stale rule applies until the next sync).
    @discardableResult
    public func loadSnapshot(_ path: String) -> Result<UInt64, SnapshotFileError> {
        let loaded: CompactStatusTable
        // Read into the gate's own (huge-page) memory rather than served from a mapping: the
        // file may be an operator's, and a mapped file truncated in place by someone else would
        // fault (SIGBUS) on the next lookup; a copy cannot. The copy costs ~35 ms at 30M cards;
        // lookups are as fast as from the mapping on a quiet machine and up to ~10 % faster
        // under load (fewer page walks; BENCHMARKS.md).
        do { loaded = try SnapshotFile.load(path, placement: .hugePageCopy) } catch { return .failure(error) }
        if let current = table.current().table, current.dataVersion > loaded.dataVersion {
            return .failure(
                SnapshotFileError(path: path, problem: .olderThanInService(loaded.dataVersion, current.dataVersion)))
        }
        var verifiedAt: UInt64?
        if let text = try? String(contentsOfFile: path + ".verified", encoding: .utf8),
            let wall = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines))
        {
            let ageNanos = UInt64(max(0, clock.wallMillis() - wall)) * 1_000_000
            let now = clock.monotonicNanos()
            verifiedAt = now > ageNanos ? now - ageNanos : 1
        }
        table.publish(loaded, verifiedAt: verifiedAt)
        Log.info(
            "gate \(options.gateID): table version \(loaded.dataVersion) in service from snapshot \(path), \(loaded.count) cards"
        )
        return .success(loaded.dataVersion)
    }

    /// Runs the table update, turning a refused publication into a store-level error for the
    /// sync's failure accounting (the table in service stays either way).
    private func sync(_ store: any CentralStore, _ inService: (any CardStatusLookup)?) throws(CentralStoreError)
        -> GateSync.Outcome
    {
        do {
            return try options.tableSync.update(from: store, inService: inService)
        } catch {
            switch error {
            case .store(let e): throw e
            case .verification:
                throw CentralStoreError(.refused, error.description)
            }
        }
    }

    private func upload(to store: any CentralStore) throws(CentralStoreError) {
        while true {
            let pending: [JournalEntry]
            do {
                pending = try journal.pendingUpload(limit: options.sync.uploadBatch)
            } catch {
                throw CentralStoreError(.queryFailed, "cannot read local journal for upload", cause: error.description)
            }
            if pending.isEmpty { return }
            try store.uploadJournal(gate: options.gateID, entries: pending)
            let acked = try store.acknowledgedSequence(gate: options.gateID)
            do {
                try journal.acknowledge(acked)
            } catch {
                throw CentralStoreError(.queryFailed, "cannot record acknowledgement locally", cause: error.description)
            }
            counters.withLock { $0.uploaded += UInt64(pending.count) }
            if acked < pending[pending.count - 1].sequence { return }  // central holds a gap: retry later
        }
    }
}
