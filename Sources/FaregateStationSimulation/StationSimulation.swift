import Dispatch
import FaregateCore
import FaregateRuntime
import FaregateSimulation
import Foundation
import Synchronization

/// A whole station at rush hour: riders arrive along a morning-peak profile, queue at the
/// shortest open line of entry or exit gates, tap, and pass or are turned away; the gates are
/// real `GateRuntime`s (threads, ring, journal with fdatasync, central store) deciding every tap.
///
/// Rider movement runs in simulated seconds (a discrete-event loop, one tap at a time, so the
/// run is deterministic for a seed); gate latency is measured in real time and reported, but never
/// moves simulated time (a load spike on the host must not change the station). Each gate also has
/// a real `BarrierController` driven in simulated nanoseconds: it gets the gate's decision at the
/// tap's time plus `decisionSeconds` (the 300 ms budget by default, so the queues are those of gates
/// at their allowed worst; every tap whose measured latency exceeded it is counted in
/// `StationReport.overBudget`) and passage-sensor scripts of the rider walking through
/// (a child in front of an adult, close and ordinary tailgaters, someone stepping back, a reverse
/// intruder at an exit gate); alarms and passage times are what the controller does. Faults are
/// scheduled in simulated time: a reader unplugged (its gate leaves service, its queue
/// re-chooses) and the central store down (syncs fail, gates decide from cache, then catch up).
public struct StationSimulation {
    public struct Options: Sendable {
        public var entryGates = 10
        public var exitGates = 10
        public var riders = 50_000
        public var seed: UInt64 = 1
        /// Share of riders entering (a residential station in the morning sends most riders in).
        public var entryShare = 0.6
        public var profile = ArrivalProfile.morningPeak
        public var populationSize = 100_000
        public var populationSeed: UInt64 = 1
        public var mix = DemoPopulation.Mix.beijing2022
        /// Rules from policy files (station rules apply to every gate); nil: the 2022 defaults.
        public var engine: DecisionEngine?
        public var journalRoot: String
        public var fsync = true
        /// Simulated seconds between syncs of every gate.
        public var syncEverySeconds = 60.0
        public var faults: [Fault] = []
        /// Chance that a rider let through is followed by the next rider in line without a tap
        /// (the gap drawn from 50–550 ms, so some are close tailgaters, some ordinary ones).
        public var tailgateChance = 0.004
        /// Chance that, before an exit gate's next rider taps, someone walks in against the flow.
        public var reverseChance = 0.0005
        /// Chance that a rider let through walks with a child in front (one tap for both).
        public var childChance = 0.02
        /// Chance that a rider let through steps back instead of walking in (the opening lapses).
        public var stepBackChance = 0.002
        public var timings = BarrierTimings()
        /// Simulated time from a tap to the controller hearing the gate's decision: the decision
        /// budget. The measured latency is reported beside it, never fed into simulated time.
        public var decisionSeconds = 0.3
        /// How long the simulation waits, in real time, for a gate's answer before it counts the
        /// tap unanswered (a host stalled for seconds must not make a tap look lost).
        public var answerTimeoutSeconds = 60.0
        /// Riders who show a ride code on each gate's scanner instead of tapping a card, with
        /// frauds (`StationRideCodes`); nil: every rider taps a card.
        public var rideCodes: StationRideCodes?

        public init(journalRoot: String) { self.journalRoot = journalRoot }
    }

    public enum Fault: Sendable, Equatable {
        case readerUnplugged(gate: Int, from: Double, to: Double)
        case centralDown(from: Double, to: Double)
    }

    public let options: Options
    public let storeFactory: @Sendable () throws(CentralStoreError) -> any CentralStore

    public init(options: Options, storeFactory: @escaping @Sendable () throws(CentralStoreError) -> any CentralStore) {
        self.options = options
        self.storeFactory = storeFactory
    }

    struct Gate {
        var id: String
        var entry: Bool
        var runtime: GateRuntime
        var reader: SimulatedCardReader
        var recorder: TapRecorder
        /// The gate's ride-code scanner (reader index 1), when the run has ride-code riders.
        var scanner: SimulatedRideCodeScanner?
        /// The last code this gate let through: what a screenshot fraud shows again here.
        var lastAccepted: String?
        var controller: BarrierController
        /// The controller's clock: simulated nanoseconds, never going back.
        var nanos: UInt64 = 0
        var queue: [Int] = []
        var queueHead = 0
        var busyUntil = 0.0
        var inService = true
        var served = 0
        var maxQueue = 0
        var queueLength: Int { queue.count - queueHead }
    }

    enum EventKind: Int { case fault = 0, sync = 1, free = 2, arrival = 3, sample = 4 }

    struct Event: Comparable {
        var time: Double
        var kind: EventKind
        var id: Int
        static func < (a: Event, b: Event) -> Bool { (a.time, a.kind.rawValue, a.id) < (b.time, b.kind.rawValue, b.id) }
    }

    /// Runs the station; `progress` is called now and then with a one-line status.
    public func run(progress: (String) -> Void = { _ in }) throws -> StationReport {
        let o = options
        let clock = SystemClock()
        let outage = SimulatedOutage()
        let factory = storeFactory
        var gates: [Gate] = []
        for g in 0..<(o.entryGates + o.exitGates) {
            let entry = g < o.entryGates
            let id = String(format: "%@%02d", entry ? "IN-" : "OUT-", entry ? g + 1 : g - o.entryGates + 1)
            let journal = try FileJournal(directory: o.journalRoot + "/" + id, fsync: o.fsync)
            let reader = SimulatedCardReader.precomputed(name: id + "-sim-reader", index: 0, clock: clock)
            let recorder = TapRecorder(readers: 2)
            var ro = GateRuntime.Options(gateID: id)
            ro.sync.intervalSeconds = 86400  // the simulation drives syncs in simulated time
            ro.engine = o.engine
            var scanner: SimulatedRideCodeScanner?
            if let rc = o.rideCodes {
                scanner = SimulatedRideCodeScanner(name: id + "-scanner", clock: clock)
                ro.rideCodes = RideCodeSettings(verifier: rc.verifier, keys: try rc.keys)
            }
            let runtime = GateRuntime(
                options: ro, journal: journal, readers: [reader], scanners: scanner.map { [$0] } ?? [],
                barrier: SimulatedBarrier(keepLog: false),
                clock: clock,
                storeFactory: { () throws(CentralStoreError) -> any CentralStore in
                    SimulatedOutageCentralStore(try factory(), outage: outage)
                },
                observer: { recorder.record($0) })
            var controller = BarrierController(directions: entry ? .entryOnly : .exitOnly, timings: o.timings)
            _ = controller.start(now: Self.nanos(0))
            gates.append(
                Gate(
                    id: id, entry: entry, runtime: runtime, reader: reader, recorder: recorder, scanner: scanner,
                    controller: controller,
                    nanos: Self.nanos(0)))
        }
        for g in gates { g.runtime.start() }

        var rng = SplitMix64(seed: o.seed)
        let arrivals = o.profile.arrivals(count: o.riders, seed: o.seed ^ 0xA11)
        var generator = TapGenerator(
            populationSize: o.populationSize, populationSeed: o.populationSeed, seed: o.seed ^ 0x7A9, mix: o.mix)
        var riderEntry = [Bool](repeating: true, count: o.riders)
        var riderWait = [Double](repeating: 0, count: o.riders)
        for i in 0..<o.riders { riderEntry[i] = Double(rng.next() >> 11) / Double(1 << 53) < o.entryShare }

        var events = EventHeap()
        for (i, t) in arrivals.enumerated() { events.push(Event(time: t, kind: .arrival, id: i)) }
        for (i, f) in o.faults.enumerated() {
            switch f {
            case .readerUnplugged(_, let from, let to), .centralDown(let from, let to):
                events.push(Event(time: from, kind: .fault, id: 2 * i))
                events.push(Event(time: to, kind: .fault, id: 2 * i + 1))
            }
        }
        let window = o.profile.windowSeconds
        var t = 0.0
        while t <= window {
            events.push(Event(time: t, kind: .sample, id: 0))
            t += 10
        }
        t = o.syncEverySeconds
        while t <= window {
            events.push(Event(time: t, kind: .sync, id: 0))
            t += o.syncEverySeconds
        }

        var report = StationReport(options: o, gateIDs: gates.map(\.id))
        // Ride-code riders draw from their own generator, so the card riders' draws stay as they were.
        var codeRng = SplitMix64(seed: o.seed ^ 0xC0DE)
        var maker = o.rideCodes.map { RideCodeMaker($0) }
        var tally = RideCodeTally()
        var waits = LatencyHistogram()
        var passageTimes = LatencyHistogram()
        var actions: [BarrierAction] = []
        var answered = 0
        let started = clock.monotonicNanos()
        var lastProgress = started

        /// The shortest line of the direction; ties broken from a seeded draw, so that idle gates
        /// share the riders instead of the first gate taking them all.
        func chooseGate(entry: Bool) -> Int? {
            var best: Int?
            var bestLoad = Int.max
            let start = Int(rng.next() % UInt64(gates.count))
            for k in 0..<gates.count {
                let i = (start + k) % gates.count
                let g = gates[i]
                guard g.entry == entry && g.inService else { continue }
                if g.queueLength < bestLoad {
                    best = i
                    bestLoad = g.queueLength
                }
            }
            return best
        }

        /// Hands `event` to the gate's controller at simulated `t` and books what it does.
        func feed(_ gi: Int, _ event: BarrierEvent, at t: UInt64) {
            let t = max(t, gates[gi].nanos)
            gates[gi].nanos = t
            actions.removeAll(keepingCapacity: true)
            gates[gi].controller.handle(event, now: t, into: &actions)
            for a in actions {
                switch a {
                case .alarmRaised(let kind, _):
                    report.alarms.append(.init(time: Self.seconds(t), gate: gates[gi].id, kind: kind.description))
                case .bodyEntered(let d, let role):
                    report.bodies[String(describing: role), default: 0] += 1
                    if role != .tailgater { report.passages[d == .entry ? 0 : 1].add(at: Self.seconds(t)) }
                case .openingCancelled: report.cancelledOpenings += 1
                default: break
                }
            }
        }

        /// Plays a sensor script through the gate's controller, sending `.tick` whenever its
        /// deadline comes first, until the script is done and the controller is at rest. An alarm
        /// that outlives the people who caused it is reset by staff. Returns when the gate is free.
        func play(_ gi: Int, _ script: [TimedGateInput]) -> UInt64 {
            var i = 0
            var resets = 0
            for _ in 0..<10_000 {
                let next = i < script.count ? script[i].at : nil
                if let due = gates[gi].controller.deadline, next.map({ due <= $0 }) ?? true {
                    feed(gi, .tick, at: due)
                    continue
                }
                if let at = next {
                    feed(gi, script[i].input.barrierEvent, at: at)
                    i += 1
                    continue
                }
                guard case .alarm = gates[gi].controller.state, resets == 0 else { break }
                resets += 1
                report.staffResets += 1
                feed(gi, .staff(.resetAlarm), at: gates[gi].nanos + o.timings.alarmHold)
            }
            return gates[gi].nanos
        }

        func roll() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }

        func serve(_ gi: Int, at now: Double) {
            guard gates[gi].inService, gates[gi].queueLength > 0, gates[gi].busyUntil <= now else { return }
            let rider = gates[gi].queue[gates[gi].queueHead]
            gates[gi].queueHead += 1
            riderWait[rider] = now - arrivals[rider]
            waits.record(UInt64(riderWait[rider] * 1e9))
            let direction: PassageDirection = gates[gi].entry ? .entry : .exit
            let origin = direction.origin
            var tapAt = max(Self.nanos(now), gates[gi].nanos)
            if !gates[gi].entry && roll() < o.reverseChance {
                // Someone walks in from the paid side against the flow, finds the flaps closed and
                // backs off; the rider in front of the gate waits until the passage is clear.
                report.reverseIntruders += 1
                tapAt = play(gi, PassageScript.approachAndRetreat(.entry, start: tapAt, intoBuffer: true))
            }
            // A ride-code rider shows a code (perhaps a fraud) on the scanner; the others tap a card.
            var shown: (text: String, fraud: RideCodeFraud?)?
            if let rc = o.rideCodes, let scanner = gates[gi].scanner, var m = maker,
                Double(codeRng.next() >> 11) / Double(1 << 53) < rc.share
            {
                var fraud: RideCodeFraud?
                var r = Double(codeRng.next() >> 11) / Double(1 << 53)
                for kind in RideCodeFraud.allCases {
                    let chance = rc.fraudChance[kind] ?? 0
                    if r < chance {
                        fraud = kind
                        break
                    }
                    r -= chance
                }
                let issuer = Int(codeRng.next() % UInt64(max(1, rc.issuers.count)))
                let account = codeRng.next() % UInt64(max(1, rc.accountsPerIssuer))
                if fraud == .screenshot, let again = gates[gi].lastAccepted {
                    shown = (again, fraud)
                } else {
                    // A screenshot before this gate let any code through is a rider with a fresh code.
                    if fraud == .screenshot { fraud = nil }
                    let now = clock.wallMillis() / 1000
                    shown = (m.code(issuer: issuer, account: account, now: now, fraud: fraud), fraud)
                }
                maker = m
                scanner.scan(shown?.text ?? "")
            } else {
                gates[gi].reader.present(generator.next())
            }
            // The gate is real: wait for its answer (real time) before moving simulated time on.
            if gates[gi].recorder.readerSignals[shown == nil ? 0 : 1].wait(timeout: .now() + o.answerTimeoutSeconds)
                == .timedOut
            {
                report.unanswered += 1
            }
            answered += 1
            let last = gates[gi].recorder.state.withLock { $0.last }
            let decision = last?.told ?? .deny(.readError)
            if let shown {
                tally.shown += 1
                tally.reasons[decision.reason.code, default: 0] += 1
                if let fraud = shown.fraud {
                    tally.injected[fraud.rawValue, default: 0] += 1
                    if decision.outcome != .open && decision.reason == fraud.expectedReason {
                        tally.refusedAsExpected[fraud.rawValue, default: 0] += 1
                    }
                } else {
                    tally.valid += 1
                    if decision.outcome == .open {
                        tally.validAccepted += 1
                        gates[gi].lastAccepted = shown.text
                    }
                }
            }
            // The controller hears of the tap when the reader saw it and of the decision the budget
            // later; the gate's real latency from detection to barrier command is measured and
            // checked against that budget, but the station's clock does not depend on it.
            let latency =
                last.flatMap { r in r.tap.map { r.commandedAt > $0.detectedAt ? r.commandedAt - $0.detectedAt : 0 } }
                ?? 0
            let budget = Self.duration(o.decisionSeconds)
            if latency > budget { report.overBudget += 1 }
            feed(gi, .tapDetected(origin), at: tapAt)
            let decidedAt = tapAt + budget
            feed(gi, .decided(origin, decision), at: decidedAt)
            let walkStart = decidedAt + 300_000_000
            var free: UInt64
            switch decision.outcome {
            case .open:
                let r = roll()
                var script: [TimedGateInput]
                if r < o.childChance {
                    report.childPairs += 1
                    script = PassageScript.pair(
                        direction, start: walkStart, gap: 150_000_000, first: .child, second: .adult)
                } else if r < o.childChance + o.tailgateChance {
                    // The next rider in line follows without tapping; with nobody in line it is a
                    // fare evader who waited by the gate for someone to follow (not a rider).
                    if gates[gi].queueLength > 0 {
                        let follower = gates[gi].queue[gates[gi].queueHead]
                        gates[gi].queueHead += 1
                        riderWait[follower] = now - arrivals[follower]
                        report.followers += 1
                    } else {
                        report.evaders += 1
                    }
                    let gap = 50_000_000 + rng.next() % 500_000_000
                    script = PassageScript.pair(direction, start: walkStart, gap: gap)
                } else if r < o.childChance + o.tailgateChance + o.stepBackChance {
                    report.stepBacks += 1
                    // Stands at the detection zone, thinks better of it, and leaves: the opening lapses.
                    let zone = SensorZone.detection(origin)
                    script = [
                        TimedGateInput(at: walkStart, .sensor(zone, .adult)),
                        TimedGateInput(at: walkStart + 1_500_000_000, .sensor(zone, .clear)),
                    ]
                } else {
                    script = PassageScript.walk(direction, start: walkStart)
                }
                free = play(gi, script)
            case .deny: free = decidedAt + 2_500_000_000  // reads the message and steps aside
            case .staff: free = decidedAt + 8_000_000_000  // staff come to the gate
            }
            free = max(free, play(gi, []))
            passageTimes.record(free - tapAt)
            gates[gi].served += 1
            let until = Self.seconds(free)
            gates[gi].busyUntil = until
            events.push(Event(time: until, kind: .free, id: gi))
        }

        while let e = events.pop() {
            let now = e.time
            switch e.kind {
            case .arrival:
                let entry = riderEntry[e.id]
                if let gi = chooseGate(entry: entry) {
                    gates[gi].queue.append(e.id)
                    gates[gi].maxQueue = max(gates[gi].maxQueue, gates[gi].queueLength)
                    serve(gi, at: now)
                } else {
                    report.turnedAway += 1  // every gate of that direction out of service: staff gate
                }
            case .free:
                serve(e.id, at: now)
            case .sample:
                report.queueSamples.append(gates.map { $0.inService ? $0.queueLength : -1 })
            case .sync:
                for g in gates { g.runtime.syncOnce() }
            case .fault:
                let fault = o.faults[e.id / 2]
                let starting = e.id % 2 == 0
                switch fault {
                case .readerUnplugged(let gi, _, _) where gates.indices.contains(gi):
                    if starting {
                        gates[gi].reader.unplug()
                        gates[gi].inService = false
                        feed(gi, .staff(.setMode(.outOfService)), at: Self.nanos(now))
                        // Its queue walks to the other gates of the same direction.
                        let waiting = Array(gates[gi].queue[gates[gi].queueHead...])
                        gates[gi].queue.removeAll()
                        gates[gi].queueHead = 0
                        for r in waiting {
                            if let other = chooseGate(entry: gates[gi].entry) {
                                gates[other].queue.append(r)
                                serve(other, at: now)
                            } else {
                                report.turnedAway += 1
                            }
                        }
                    } else {
                        gates[gi].reader.plug()
                        gates[gi].inService = true
                        feed(gi, .staff(.setMode(.normal)), at: Self.nanos(now))
                    }
                    report.faultLog.append(
                        .init(time: now, what: "\(gates[gi].id) reader \(starting ? "unplugged" : "plugged back")"))
                case .readerUnplugged: break
                case .centralDown:
                    outage.set(down: starting)
                    report.faultLog.append(.init(time: now, what: "central store \(starting ? "down" : "back")"))
                }
            }
            let real = clock.monotonicNanos()
            if real - lastProgress > 500_000_000 {
                lastProgress = real
                let maxQ = gates.map(\.queueLength).max() ?? 0
                progress(
                    String(
                        format: "station %@  riders %d/%d  longest queue %d  alarms %d", StationReport.clockText(now),
                        answered, o.riders, maxQ, report.alarms.count))
            }
        }
        for g in gates { g.runtime.stop() }
        report.elapsedSeconds = Double(clock.monotonicNanos() - started) / 1e9
        report.taps = answered
        if o.rideCodes != nil { report.rideCodes = tally }
        report.waitSeconds = .init(waits, scale: 1e9)
        report.passageSeconds = .init(passageTimes, scale: 1e9)

        var (stages, decisions, outcomes, kinds) = (
            [String: LatencyHistogram](), [String: Int](), [String: Int](), [String: Int]()
        )
        for g in gates {
            _ = g.recorder.merge(into: &stages, reasons: &decisions, outcomes: &outcomes, kinds: &kinds)
            let c = g.runtime.currentCounters
            report.gates.append(
                .init(
                    id: g.id, entry: g.entry, served: g.served, maxQueue: g.maxQueue,
                    journalLastSequence: g.runtime.journal.lastSequence,
                    acknowledged: g.runtime.journal.acknowledged, syncFailures: Int(c.syncFailures),
                    readerLosses: Int(c.readerLosses)))
        }
        (report.stages, report.decisions, report.outcomes, report.kinds) = (stages, decisions, outcomes, kinds)
        report.journalDecisions = try Self.countJournals(root: o.journalRoot, gates: gates.map(\.id))
        return report
    }

    /// Simulated seconds after 07:00 as the controllers' nanoseconds (which start at 1 s, so
    /// that no deadline is ever at zero), and back.
    static func nanos(_ seconds: Double) -> UInt64 { 1_000_000_000 + UInt64(max(0, seconds) * 1e9) }
    static func seconds(_ nanos: UInt64) -> Double { Double(nanos &- 1_000_000_000) / 1e9 }
    /// A span of simulated seconds as nanoseconds (negative spans are none).
    static func duration(_ seconds: Double) -> UInt64 { UInt64(max(0, min(seconds, 3600)) * 1e9) }

    /// Reads every gate's journal back and counts its entries by reason: the report's totals are
    /// checked against what the gates actually recorded.
    static func countJournals(root: String, gates: [String]) throws -> [String: Int] {
        var out: [String: Int] = [:]
        for id in gates {
            for name in ["journal.previous.log", "journal.log"] {
                guard let data = FileManager.default.contents(atPath: root + "/" + id + "/" + name) else { continue }
                for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                    if let e = try? JournalCodec.decode(line) { out[e.decision.reason.code, default: 0] += 1 }
                }
            }
        }
        return out
    }
}

/// A binary min-heap of simulation events.
struct EventHeap {
    private var items: [StationSimulation.Event] = []

    mutating func push(_ e: StationSimulation.Event) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard items[i] < items[p] else { break }
            items.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() -> StationSimulation.Event? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1
                let r = l + 1
                var m = i
                if l < items.count && items[l] < items[m] { m = l }
                if r < items.count && items[r] < items[m] { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return first
    }
}
