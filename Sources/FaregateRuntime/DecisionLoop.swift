import FaregateCore
import Synchronization

/// The gate's decision thread: takes taps off the readers' rings in batches, decides each with
/// `GateCore`, appends the batch to the journal with one `fdatasync`, and only then shows the
/// decisions on the lane (`GateCore.settle`: an entry that is not durable never opens).
///
/// Work that does not come through a ring — a tap refused on a full ring, a staff command or a
/// lane event to journal, new rules, a liveness probe, the stop — arrives through the methods below, each of
/// which wakes the thread.
///
/// What it says downstream of the journal — the lane, the tap reports behind `farectl tap` and
/// the metrics, the log — is each entry's `GateCore.Settlement`: what became of it, not what the
/// rules proposed. One log line per tap, at debug level only (`tap seq=…`, or `tap seq=-` for a
/// tap whose entry could not be journalled); a failed append is one error line per batch.
///
/// Threads: `run()` is the decision thread's body and the only user of `core`. The other
/// methods are safe from any thread.
final class DecisionLoop: @unchecked Sendable {
    // @unchecked Sendable: `core` and `entries` are touched only by the decision thread (`run`);
    // everything else shared is a Mutex, an Atomic, or immutable after init.
    private let gateID: String
    private let maxBatch: Int
    /// One ring per reader (same index); this thread is the only consumer of each.
    private let rings: [SPSCTapRing]
    /// One ring per ride-code scanner; this thread is the only consumer of each.
    private let scanRings: [SPSCScanRing]
    /// Ride-code checks 8 (the replay cache, owned by this thread) and its file.
    private let rideCodes: RideCodeSettings?
    private var replay: RideCodeReplayCache
    private var replayChanged = false
    private let journal: FileJournal
    private let barrier: any Barrier
    private let clock: any GateClock
    private let table: TableSlot
    private let telemetry: GateTelemetry
    private let observer: (@Sendable (GateTelemetry.TapReport) -> Void)?
    private var core: GateCore
    /// The batch's journal entries (reused from batch to batch).
    private var entries: [JournalEntry] = []

    /// The thread spins briefly, then parks, when it has nothing to do.
    private let parker = TapParker()
    /// Bumped (sequentially consistent) for work that does not go through a ring. The park
    /// condition watches it.
    private let pokes = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    /// Readers whose taps were refused on a full ring, to journal (one entry each).
    private let refusedTaps = Mutex<[UInt16]>([])
    /// Staff commands carried out, to journal (one entry each).
    private let staffCommands = Mutex<[StaffCommand]>([])
    /// Changes the lane made by itself, to journal (one entry each).
    private let laneEvents = Mutex<[LaneEvent]>([])
    /// New rules waiting to be taken over between two batches.
    private let pendingEngine = Mutex<DecisionEngine?>(nil)
    /// Outer iterations of the loop, for the liveness probe.
    private let loops = Atomic<Int>(0)
    private let lastProbe = Mutex<Int>(-1)

    init(
        gateID: String, maxBatch: Int, core: GateCore, rings: [SPSCTapRing], scanRings: [SPSCScanRing] = [],
        rideCodes: RideCodeSettings? = nil, replay: RideCodeReplayCache = RideCodeReplayCache(capacity: 8),
        journal: FileJournal, barrier: any Barrier, clock: any GateClock, table: TableSlot,
        telemetry: GateTelemetry, observer: (@Sendable (GateTelemetry.TapReport) -> Void)?
    ) {
        self.scanRings = scanRings
        self.rideCodes = rideCodes
        self.replay = replay
        self.gateID = gateID
        self.maxBatch = max(1, maxBatch)
        self.core = core
        self.rings = rings
        self.journal = journal
        self.barrier = barrier
        self.clock = clock
        self.table = table
        self.telemetry = telemetry
        self.observer = observer
    }

    // MARK: From other threads

    /// A reader thread pushed a tap onto its ring.
    func tapQueued() {
        // Not unpark(): the push published `tail` with a releasing store, which needs a fence
        // before the parked check (TapParker's Dekker pairing; this thread re-checks every ring
        // after announcing parked).
        parker.wakeAfterPush()
    }

    /// A reader's ring was full: the rider was told to tap again; the refusal is journalled.
    func tapRefused(reader: UInt16) {
        refusedTaps.withLock { $0.append(reader) }
        poke()
    }

    /// Journals a staff command the barrier was given (mode, directions, enforcement, alarm
    /// reset): an entry in the next batch, logged once durable.
    func journalStaffCommand(_ command: StaffCommand) {
        staffCommands.withLock { $0.append(command) }
        poke()
    }

    /// Journals a change the lane made by itself (I/O board lost or back, free-open for the fire
    /// alarm or a power loss, its end): an entry in the next batch, logged once durable.
    func journalLaneEvent(_ event: LaneEvent) {
        laneEvents.withLock { $0.append(event) }
        poke()
    }

    /// Puts new rules in force from the next batch on (the journal sequence goes on).
    func replaceEngine(_ engine: DecisionEngine) {
        pendingEngine.withLock { $0 = engine }
        poke()
    }

    /// Whether the thread went round its loop since the last probe; each probe also wakes it, so
    /// an idle but healthy thread answers the next probe. A thread stuck in a tap (a hung disk, a
    /// deadlock) stops answering: the daemon then stops feeding systemd's watchdog.
    func answeredProbe() -> Bool {
        let now = loops.load(ordering: .relaxed)
        let answered = lastProbe.withLock { last in
            defer { last = now }
            return last == -1 || now != last
        }
        poke()
        return answered
    }

    /// Makes `run()` return once every ring is drained. Call after every reader thread has
    /// been joined, so that no tap arrives afterwards.
    func stop() {
        // Release: the thread that sees `stopping` also sees every push made before it.
        stopping.store(true, ordering: .releasing)
        parker.wake()
    }

    private func poke() {
        // Sequentially consistent RMW, then unpark: the same Dekker pairing as a ring push.
        pokes.wrappingAdd(1, ordering: .sequentiallyConsistent)
        parker.unpark()
    }

    // MARK: The decision thread

    private struct Handled {
        var output: GateCore.Output
        var tap: Tap?
        var dequeuedAt: UInt64
        /// `tap` came from a ride-code scanner's ring.
        var scan = false
    }

    /// The decision thread's body; returns after `stop()` once the rings are empty.
    func run() {
        var seenPokes = pokes.load(ordering: .sequentiallyConsistent)
        var batch: [Handled] = []
        batch.reserveCapacity(maxBatch)
        var reports: [GateTelemetry.TapReport] = []
        reports.reserveCapacity(maxBatch)
        while true {
            loops.wrappingAdd(1, ordering: .relaxed)
            takeNewEngine()
            // What the lane does with taps now (a closed station refuses them): the journal says so.
            core.lane = barrier.effectiveMode
            // Take a batch: one fdatasync covers every tap that arrived while the last one ran.
            let (table, verifiedAt) = self.table.current()
            let dataAge = dataAgeSeconds(verifiedAt: verifiedAt)
            func take(_ tap: Tap) {
                let dequeuedAt = clock.monotonicNanos()
                let out = core.handle(tap, dequeuedAt: dequeuedAt, table: table, dataAgeSeconds: dataAge, clock: clock)
                batch.append(Handled(output: out, tap: tap, dequeuedAt: dequeuedAt))
            }
            // Staff commands first: the taps taken next are decided in the mode they set.
            for command in staffCommands.withLock({ c -> [StaffCommand] in
                defer { c.removeAll(keepingCapacity: true) }
                return c
            }) {
                let entry = core.staffCommand(
                    command, wallMillis: clock.wallMillis(), dataVersion: table?.dataVersion ?? 0)
                let now = clock.monotonicNanos()
                batch.append(
                    Handled(
                        output: GateCore.Output(entry: entry, end: .unpaid, lookedUpAt: now, decidedAt: now), tap: nil,
                        dequeuedAt: now))
            }
            for event in laneEvents.withLock({ e -> [LaneEvent] in
                defer { e.removeAll(keepingCapacity: true) }
                return e
            }) {
                let entry = core.laneEvent(event, wallMillis: clock.wallMillis(), dataVersion: table?.dataVersion ?? 0)
                let now = clock.monotonicNanos()
                batch.append(
                    Handled(
                        output: GateCore.Output(entry: entry, end: .unpaid, lookedUpAt: now, decidedAt: now), tap: nil,
                        dequeuedAt: now))
            }
            takeRoundRobin(take)
            func takeScan(_ scan: RideCodeScan) {
                let dequeuedAt = clock.monotonicNanos()
                let out = core.handle(
                    scan, replay: &replay, freshness: rideCodes?.freshness ?? .init(), dequeuedAt: dequeuedAt,
                    table: table, dataAgeSeconds: dataAge, clock: clock)
                // `handle` recorded the code exactly when it let it through in normal mode.
                if case .open = out.entry.decision, core.lane == .normal { replayChanged = true }
                batch.append(Handled(output: out, tap: scan.tap, dequeuedAt: dequeuedAt, scan: true))
            }
            for ring in scanRings where batch.count < maxBatch {
                ring.drain(limit: maxBatch - batch.count, takeScan)
            }
            let refused = refusedTaps.withLock { r -> [UInt16] in
                defer { r.removeAll(keepingCapacity: true) }
                return r
            }
            for reader in refused {
                let entry = core.rejectedTap(
                    reader: reader, wallMillis: clock.wallMillis(), dataVersion: table?.dataVersion ?? 0)
                let now = clock.monotonicNanos()
                let output = GateCore.Output(entry: entry, end: core.end(of: reader), lookedUpAt: now, decidedAt: now)
                batch.append(Handled(output: output, tap: nil, dequeuedAt: now))
            }
            if batch.isEmpty {
                // Acquire pairs with the release in stop(): every push made before it is visible,
                // and readers are joined, so an empty ring now stays empty.
                guard stopping.load(ordering: .acquiring) else {
                    parker.park(until: {
                        rings.contains { !$0.isEmpty } || scanRings.contains { !$0.isEmpty }
                            || stopping.load(ordering: .sequentiallyConsistent)
                            || pokes.load(ordering: .sequentiallyConsistent) != seenPokes
                    })
                    seenPokes = pokes.load(ordering: .sequentiallyConsistent)
                    continue
                }
                if let scan = scanRings.lazy.compactMap({ $0.tryPop() }).first {
                    takeScan(scan)
                } else if let tap = rings.lazy.compactMap({ $0.tryPop() }).first {
                    take(tap)
                } else {
                    // A tap refused just before the last reader was joined is journalled too.
                    if refusedTaps.withLock({ $0.isEmpty }) && staffCommands.withLock({ $0.isEmpty })
                        && laneEvents.withLock({ $0.isEmpty })
                    {
                        return
                    }
                    continue
                }
            }
            commit(batch, into: &reports)
            batch.removeAll(keepingCapacity: true)
        }
    }

    private func takeNewEngine() {
        guard
            let engine = pendingEngine.withLock({ p -> DecisionEngine? in
                defer { p = nil }
                return p
            })
        else { return }
        core.engine = engine
        let today = CalendarDate(wallMillis: clock.wallMillis(), utcOffsetSeconds: core.utcOffsetSeconds)
        Log.info("gate \(gateID): rules \(engine.inForce(on: today)) in force")
    }

    /// Journals the batch, then shows each decision on the lane as `GateCore.settle` says.
    private func commit(_ batch: [Handled], into reports: inout [GateTelemetry.TapReport]) {
        // The replay cache first: a code let through in this batch is on disk as used before the
        // barrier opens for it, so a crash and restart cannot admit it again.
        if replayChanged {
            replayChanged = false
            saveReplayCache()
        }
        entries.removeAll(keepingCapacity: true)
        for h in batch { entries.append(h.output.entry) }
        let append: GateCore.Append
        var failure: String?
        do {
            try journal.append(entries)
            append = .durable
        } catch {
            append = .failed(nextSequence: journal.nextSequence)
            failure = "\(error)"
        }
        let journaledAt = clock.monotonicNanos()
        var i = 0
        var taps: UInt64 = 0
        var rejected: UInt64 = 0
        var commands: UInt64 = 0
        var events: UInt64 = 0
        reports.removeAll(keepingCapacity: true)
        core.settle(entries, after: append) { settled in
            let h = batch[i]
            i += 1
            if let show = settled.show { barrier.decided(show, at: h.output.end) }
            guard let told = settled.told else {
                if let event = settled.entry.event {
                    if settled.durable {
                        events += 1
                        Log.info("gate \(gateID): lane event \(event.token) journalled, seq \(settled.entry.sequence)")
                    } else {
                        Log.error("gate \(gateID): lane event \(event.token) not journalled")
                    }
                } else if settled.durable {
                    commands += 1
                    Log.info(
                        "gate \(gateID): staff command \(settled.entry.command?.token ?? "-") journalled, seq \(settled.entry.sequence)"
                    )
                } else {
                    Log.error(
                        "gate \(gateID): staff command \(settled.entry.command?.token ?? "-") carried out but not journalled"
                    )
                }
                return
            }
            if settled.entry.kind == .rejected { rejected += 1 } else { taps += 1 }
            var report = GateTelemetry.TapReport(
                entry: settled.entry, durable: settled.durable, told: told, tap: h.tap, dequeuedAt: h.dequeuedAt,
                lookedUpAt: h.output.lookedUpAt, decidedAt: h.output.decidedAt, journaledAt: journaledAt,
                commandedAt: clock.monotonicNanos())
            report.fromScanner = h.scan
            Log.debug("tap seq=\(report.textLine)")
            reports.append(report)
        }
        if let failure {
            Log.error(
                "gate \(gateID): journal append failed: \(failure); \(taps) tap(s) told gate_out_of_service, "
                    + "barrier kept closed; nothing of the batch (\(batch.count) entries) journalled, "
                    + "next seq stays \(core.nextSequence)")
        }
        // Counted before `record` wakes whoever waits for these reports (a control-socket tap):
        // a `status` asked right after the answer already counts the tap.
        telemetry.count {
            $0.taps += taps
            $0.rejected += rejected
            $0.staffCommands += commands
            $0.laneEvents += events
            if append != .durable { $0.journalFailures += taps }
        }
        telemetry.record(&reports, now: clock.monotonicNanos)
        // After `record`: an observer sees its report numbered and already in the metrics.
        if let observer { for r in reports { observer(r) } }
    }

    /// Takes up to `maxBatch` taps from the readers' rings, at most an equal share from each ring
    /// per round, so a busy reader cannot hold back another reader's rider for more than one round.
    private func takeRoundRobin(_ take: (Tap) -> Void) {
        guard !rings.isEmpty else { return }
        let share = max(1, maxBatch / rings.count)
        var room = maxBatch
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

    private func saveReplayCache() {
        guard let path = rideCodes?.replayPath else { return }
        do {
            try SafeFile.replace(path, with: replay.serialized(), mode: 0o600)
        } catch {
            telemetry.count { $0.replayCacheWriteFailures += 1 }
            Log.error("gate \(gateID): ride-code replay cache not saved: \(error)")
        }
    }

    private func dataAgeSeconds(verifiedAt: UInt64?) -> Int? {
        guard let verifiedAt else { return nil }
        let now = clock.monotonicNanos()
        return now > verifiedAt ? Int((now - verifiedAt) / 1_000_000_000) : 0
    }
}
