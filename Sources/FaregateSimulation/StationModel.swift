import FaregateCore

/// A whole station at rush hour, as a pure, deterministic model: riders arrive over a morning
/// peak, queue at the shortest of N entry or exit gates, tap, get a decision from the real
/// `DecisionEngine`, and walk through a real `BarrierController` fed with scripted sensor events.
///
/// Time is simulated (a fixed step, no clock, no threads): the same configuration and seed always
/// give the same result. Card-side latencies (select, read) and host-side ones (queue, lookup,
/// decide) are drawn from distributions measured on readers and in benchmarks; the model is about
/// queues and passages, not about measuring this host.
public struct StationModel: Sendable {
    public struct Configuration: Sendable {
        public var entryGates = 12
        public var exitGates = 8
        public var riders = 50_000
        /// Share of riders leaving the system (exit gates), per thousand.
        public var exitPerMille = 350
        /// Riders arrive over this window, densest in its middle (morning peak shape).
        public var peakWindowNanos: UInt64 = 2 * 3600 * 1_000_000_000
        public var seed: UInt64 = 1
        public var populationSize = 200_000
        public var policy = GatePolicy(maxDataAgeSeconds: 600)
        /// Per thousand riders who open: followed by a tailgater / walking with a child in front.
        public var tailgatePerMille = 10
        public var childPerMille = 20
        /// Per thousand: someone walks in the wrong way into an idle gate.
        public var reverseIntruderPerMille = 2
        /// Fault: this entry gate's reader is unplugged (the gate goes out of service) for a while.
        public var unpluggedGate: (gate: Int, from: UInt64, until: UInt64)? = (
            0, 1800 * 1_000_000_000, 2700 * 1_000_000_000
        )
        /// Fault: the central store is down; gate data ages from `from` and becomes stale.
        public var centralDown: (from: UInt64, until: UInt64)? = (3600 * 1_000_000_000, 4800 * 1_000_000_000)
        public var timings = BarrierTimings()
        /// Simulation step.
        public var stepNanos: UInt64 = 20_000_000
        /// Queue lengths are sampled this often.
        public var sampleNanos: UInt64 = 10 * 1_000_000_000

        public init() {}
    }

    /// Everything the report shows.
    public struct Result: Sendable {
        public var gateCount: Int
        public var entryGates: Int
        public var riders = 0
        public var taps = 0
        /// Riders who followed another through without tapping (every rider is a tap or a follower).
        public var followers = 0
        public var decisionsByReason: [Reason: Int] = [:]
        public var decisionsByOutcome: [Decision.Outcome: Int] = [:]
        /// Stage name → histogram of nanoseconds (select, read, queue, lookup, decide, total).
        public var stages: [(name: String, histogram: LatencyHistogram)] = []
        /// Passages per minute (authorized bodies), entry and exit.
        public var entriesPerMinute: [Int] = []
        public var exitsPerMinute: [Int] = []
        /// Queue length per gate, one sample per `sampleNanos`.
        public var queueSamples: [[Int]] = []
        public var sampleNanos: UInt64 = 0
        public var alarms: [AlarmKind: Int] = [:]
        /// (time, gate, kind) of every alarm raised.
        public var alarmLog: [(at: UInt64, gate: Int, kind: AlarmKind)] = []
        public var bodies: [BodyRole: Int] = [:]
        public var durationNanos: UInt64 = 0
        public var longestWaitNanos: UInt64 = 0
        public var faults: [String] = []
    }

    private enum Kind { case normal, withChild }
    private struct Rider {
        var arrival: UInt64
        var kind: Kind
    }

    private struct Gate {
        var controller: BarrierController
        var direction: PassageDirection
        var queue: [Rider] = []
        var head = 0
        var pending: [TimedGateInput] = []
        var decision: (at: UInt64, decision: Decision)?
        var nextFreeAt: UInt64 = 0
        var outOfService = false
        var queueLength: Int { queue.count - head }
    }

    public var configuration: Configuration
    public init(_ configuration: Configuration) { self.configuration = configuration }

    /// Runs the model to the end (every rider served, every gate at rest). `progress` is called
    /// about once per simulated minute with (riders served, riders total).
    public func run(progress: ((Int, Int) -> Void)? = nil) -> Result {
        let c = configuration
        var rng = SplitMix64(seed: c.seed)
        let gateCount = c.entryGates + c.exitGates
        var result = Result(gateCount: gateCount, entryGates: c.entryGates)
        result.sampleNanos = c.sampleNanos
        result.queueSamples = Array(repeating: [], count: gateCount)
        var stage = Array(repeating: LatencyHistogram(), count: 6)
        let engine = DecisionEngine(policy: c.policy)
        let start: UInt64 = 1_000_000_000
        let wall0: Int64 = 1_654_041_600_000 - 3600_000  // 2022-06-01 07:00 Beijing

        // Arrivals: Irwin–Hall (sum of three uniforms) over the window: a bell-shaped morning peak.
        var arrivals: [(UInt64, PassageDirection)] = []
        arrivals.reserveCapacity(c.riders)
        for _ in 0..<c.riders {
            var sum = 0.0
            for _ in 0..<3 { sum += Double(rng.next() >> 11) }
            let u: Double = sum / (3.0 * 9_007_199_254_740_992.0)  // three uniforms in [0, 1), averaged
            let dir: PassageDirection = Int(rng.next() % 1000) < c.exitPerMille ? .exit : .entry
            arrivals.append((start + UInt64(u * Double(c.peakWindowNanos)), dir))
        }
        arrivals.sort { $0.0 < $1.0 }

        var gates: [Gate] = (0..<gateCount).map { i in
            let d: PassageDirection = i < c.entryGates ? .entry : .exit
            var g = Gate(
                controller: BarrierController(directions: d == .entry ? .entryOnly : .exitOnly, timings: c.timings),
                direction: d)
            _ = g.controller.start(now: start)
            return g
        }
        if let f = c.unpluggedGate {
            result.faults.append("entry gate \(f.gate) reader unplugged \(Self.clock(f.from))–\(Self.clock(f.until))")
        }
        if let f = c.centralDown {
            result.faults.append("central store down \(Self.clock(f.from))–\(Self.clock(f.until))")
        }

        var now = start
        var nextArrival = 0
        var nextSample = start
        var served = 0
        var lastProgress = start
        var actions: [BarrierAction] = []

        func handle(_ g: Int, _ e: BarrierEvent, _ t: UInt64) {
            actions.removeAll(keepingCapacity: true)
            gates[g].controller.handle(e, now: t, into: &actions)
            for a in actions {
                switch a {
                case .alarmRaised(let k, _):
                    result.alarms[k, default: 0] += 1
                    result.alarmLog.append((t - start, g, k))
                case .bodyEntered(let d, let role):
                    result.bodies[role, default: 0] += 1
                    if role != .tailgater {
                        let minute = Int((t - start) / 60_000_000_000)
                        if d == .entry {
                            Self.bump(&result.entriesPerMinute, minute)
                        } else {
                            Self.bump(&result.exitsPerMinute, minute)
                        }
                    }
                default: break
                }
            }
        }

        func advance(_ g: Int, to t: UInt64) {
            while true {
                var nextAt = t
                if let p = gates[g].pending.first, p.at <= nextAt { nextAt = p.at }
                if let d = gates[g].decision, d.at <= nextAt { nextAt = d.at }
                if let dl = gates[g].controller.deadline, dl <= nextAt {
                    handle(g, .tick, dl)
                    continue
                }
                if let d = gates[g].decision, d.at == nextAt, d.at <= t {
                    gates[g].decision = nil
                    handle(g, .decided(gates[g].direction.origin, d.decision), d.at)
                    continue
                }
                if let p = gates[g].pending.first, p.at == nextAt, p.at <= t {
                    gates[g].pending.removeFirst()
                    handle(g, p.input.barrierEvent, p.at)
                    continue
                }
                return
            }
        }

        func choose(_ d: PassageDirection, _ rng: inout SplitMix64) -> Int? {
            let range = d == .entry ? 0..<c.entryGates : c.entryGates..<gateCount
            var best: Int?
            var bestLen = Int.max
            let offset = Int(rng.next() % UInt64(max(range.count, 1)))
            for k in 0..<range.count {
                let g = range.lowerBound + (k + offset) % range.count
                if gates[g].outOfService { continue }
                if gates[g].queueLength < bestLen {
                    best = g
                    bestLen = gates[g].queueLength
                }
            }
            return best
        }

        while served < c.riders || gates.contains(where: { $0.queueLength > 0 || !$0.pending.isEmpty }) {
            // Faults.
            if let f = c.unpluggedGate, f.gate < gateCount {
                let down = now >= start + f.from && now < start + f.until
                if down != gates[f.gate].outOfService {
                    gates[f.gate].outOfService = down
                    advance(f.gate, to: now)
                    handle(f.gate, .staff(.setMode(down ? .outOfService : .normal)), now)
                    if down {  // riders in its queue move to the other gates
                        let moved = Array(gates[f.gate].queue[gates[f.gate].head...])
                        gates[f.gate].queue = []
                        gates[f.gate].head = 0
                        for r in moved {
                            if let g = choose(gates[f.gate].direction, &rng) { gates[g].queue.append(r) }
                        }
                    }
                }
            }
            // Arrivals.
            while nextArrival < arrivals.count && arrivals[nextArrival].0 <= now {
                let (t, d) = arrivals[nextArrival]
                nextArrival += 1
                let kind: Kind = Int(rng.next() % 1000) < c.childPerMille ? .withChild : .normal
                if let g = choose(d, &rng) {
                    gates[g].queue.append(Rider(arrival: t, kind: kind))
                } else {
                    served += 1  // no gate in service for this direction: the rider goes to staff
                }
            }
            for g in 0..<gateCount {
                advance(g, to: now)
                if gates[g].outOfService { continue }
                let idle = gates[g].controller.state == .idle
                if idle && gates[g].queueLength == 0 && gates[g].pending.isEmpty
                    && Int(rng.next() % 1_000_000) < c.reverseIntruderPerMille * 5
                {
                    let against: PassageDirection = gates[g].direction == .entry ? .exit : .entry
                    gates[g].pending = PassageScript.approachAndRetreat(against, start: now, intoBuffer: false)
                    continue
                }
                guard idle, gates[g].queueLength > 0, now >= gates[g].nextFreeAt, gates[g].decision == nil,
                    gates[g].pending.isEmpty
                else { continue }
                let rider = gates[g].queue[gates[g].head]
                gates[g].head += 1
                if gates[g].head > 256 && gates[g].head * 2 > gates[g].queue.count {
                    gates[g].queue.removeFirst(gates[g].head)
                    gates[g].head = 0
                }
                served += 1
                result.riders += 1
                result.taps += 1
                result.longestWaitNanos = max(result.longestWaitNanos, now - rider.arrival)

                // The medium and its status.
                let card = DemoPopulation.card(Int(rng.next() % UInt64(c.populationSize)), seed: c.seed)
                var sim = SimulatedCard.medium(card.key)
                let roll = rng.next() % 1000
                if roll < 4 { sim.fault = .removedMidRead } else if roll < 6 { sim.fault = .malformedResponse }
                if roll >= 6 && roll < 12, sim.read.balanceFen != nil { sim.read.balanceFen = 0 }
                let stale: Int? = {
                    guard let f = c.centralDown, now >= start + f.from else { return 30 }
                    let until = start + f.until
                    return now < until ? Int((now - (start + f.from)) / 1_000_000_000) + 30 : 30
                }()
                let today = CalendarDate(wallMillis: wall0 + Int64((now - start) / 1_000_000))
                let decision = engine.decide(
                    sim.result, status: card.status, context: DecisionContext(today: today, dataAgeSeconds: stale))
                result.decisionsByReason[decision.reason, default: 0] += 1
                result.decisionsByOutcome[decision.outcome, default: 0] += 1

                // Stage latencies (nanoseconds).
                let isQR = sim.read.application == .rideCode
                let select = isQR ? 0 : 15_000_000 + rng.next() % 25_000_000
                let read = (isQR ? 8_000_000 : 40_000_000) + rng.next() % 60_000_000
                let queue = 5_000 + rng.next() % 200_000
                let lookup = 300 + rng.next() % 3_000
                let decide = 200 + rng.next() % 1_500
                for (i, v) in [select, read, queue, lookup, decide].enumerated() { stage[i].record(v) }
                let total = select + read + queue + lookup + decide
                stage[5].record(total)

                handle(g, .tapDetected(gates[g].direction.origin), now)
                let decidedAt = now + total
                gates[g].decision = (decidedAt, decision)
                let walkStart = decidedAt + 300_000_000
                let d = gates[g].direction
                if case .open = decision {
                    if rider.kind == .withChild {
                        gates[g].pending = PassageScript.pair(
                            d, start: walkStart, gap: 150_000_000, first: .child, second: .adult)
                        gates[g].nextFreeAt = walkStart + 2_200_000_000
                    } else if Int(rng.next() % 1000) < c.tailgatePerMille && gates[g].queueLength > 0 {
                        gates[g].head += 1  // the next rider in line follows without tapping
                        served += 1
                        result.riders += 1
                        result.followers += 1
                        let gap = 50_000_000 + rng.next() % 500_000_000
                        gates[g].pending = PassageScript.pair(d, start: walkStart, gap: gap)
                        gates[g].nextFreeAt = walkStart + 2_500_000_000
                    } else {
                        gates[g].pending = PassageScript.walk(d, start: walkStart)
                        gates[g].nextFreeAt = walkStart + 1_200_000_000
                    }
                } else {
                    gates[g].nextFreeAt = decidedAt + 2_000_000_000  // reads the message, steps aside
                }
            }
            if now >= nextSample {
                for g in 0..<gateCount { result.queueSamples[g].append(gates[g].queueLength) }
                nextSample += c.sampleNanos
            }
            if now - lastProgress >= 60_000_000_000 {
                progress?(served, c.riders)
                lastProgress = now
            }
            now += c.stepNanos
        }
        // Let every gate come to rest.
        for g in 0..<gateCount { advance(g, to: now + 10_000_000_000) }
        result.durationNanos = now - start
        result.stages = zip(["select", "read", "queue", "lookup", "decide", "total"], stage).map { ($0, $1) }
        progress?(served, c.riders)
        return result
    }

    private static func bump(_ a: inout [Int], _ i: Int) {
        if a.count <= i { a.append(contentsOf: repeatElement(0, count: i - a.count + 1)) }
        a[i] += 1
    }

    /// Simulated offset as clock time from 07:00.
    static func clock(_ offset: UInt64) -> String {
        let m = Int(offset / 60_000_000_000) + 7 * 60
        return (m / 60 < 10 ? "0" : "") + String(m / 60) + ":" + (m % 60 < 10 ? "0" : "") + String(m % 60)
    }
}
