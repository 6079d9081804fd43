import Dispatch
import FaregateCore
import FaregateRuntime
import FaregateSimulation
import Foundation
import Synchronization

/// Runs one or more gates in-process on simulated readers and barriers, with riders tapping
/// from a seeded generator, and summarises what happened.
///
/// Each simulated reader has one rider at a time: the next rider taps when the gate has
/// answered the previous one (as at a real gate), so a run measures the gate's own latency,
/// not a queue the simulation builds. The gates are real: real threads, the real ring, real
/// journal files with fdatasync, the real central store through `storeFactory`.
public struct GateSimulation {
    public struct Options: Sendable {
        public var gates = 1
        public var readersPerGate = 2
        public var taps = 10_000
        public var seed: UInt64 = 1
        /// The population the generator draws from (`DemoPopulation` with this size and seed).
        public var populationSize = 100_000
        public var populationSeed: UInt64 = 1
        public var journalRoot: String
        public var fsync = true
        /// The gate's journal key (J2 lines, MAC'd; issue 16.5) as the daemon has it; nil: J1.
        public var journalKeying: JournalKeying?
        public var policy = GatePolicy.healthCheckEra
        /// Rules from policy files; when set, `policy` is not used.
        public var engine: DecisionEngine?
        public var mix = DemoPopulation.Mix.beijing2022
        public init(journalRoot: String) { self.journalRoot = journalRoot }
    }

    public let options: Options
    public let storeFactory: (@Sendable () throws(CentralStoreError) -> any CentralStore)?

    public init(options: Options, storeFactory: (@Sendable () throws(CentralStoreError) -> any CentralStore)?) {
        self.options = options
        self.storeFactory = storeFactory
    }

    /// Runs the simulation to completion and returns its summary.
    public func run() throws -> SimulationSummary {
        let clock = SystemClock()
        var runtimes: [GateRuntime] = []
        var recorders: [TapRecorder] = []
        var readers: [[SimulatedCardReader]] = []
        for g in 0..<options.gates {
            let gateID = String(format: "SIM-G%03d", g + 1)
            let journal = try FileJournal(
                directory: options.journalRoot + "/" + gateID, fsync: options.fsync, keying: options.journalKeying)
            let gateReaders = (0..<options.readersPerGate).map {
                SimulatedCardReader.precomputed(name: "\(gateID)-sim-reader-\($0)", index: UInt16($0), clock: clock)
            }
            let recorder = TapRecorder(readers: options.readersPerGate)
            var runtimeOptions = GateRuntime.Options(gateID: gateID)
            runtimeOptions.policy = options.policy
            runtimeOptions.engine = options.engine
            runtimeOptions.sync.intervalSeconds = 3600  // the run syncs at start and stop
            let runtime = GateRuntime(
                options: runtimeOptions, journal: journal, readers: gateReaders,
                barrier: SimulatedBarrier(keepLog: false),
                clock: clock, storeFactory: storeFactory, observer: { recorder.record($0) })
            runtimes.append(runtime)
            recorders.append(recorder)
            readers.append(gateReaders)
        }
        let started = clock.monotonicNanos()
        for r in runtimes { r.start() }

        // One feeder per reader; taps are split evenly, the first readers taking the remainder.
        let feeders = options.gates * options.readersPerGate
        let group = DispatchGroup()
        for f in 0..<feeders {
            let share = options.taps / feeders + (f < options.taps % feeders ? 1 : 0)
            let reader = readers[f / options.readersPerGate][f % options.readersPerGate]
            let signal = recorders[f / options.readersPerGate].readerSignals[f % options.readersPerGate]
            var generator = TapGenerator(
                populationSize: options.populationSize, populationSeed: options.populationSeed,
                seed: options.seed &+ UInt64(f) &* 0x9E37_79B9, mix: options.mix)
            let cards = (0..<share).map { _ in generator.next() }
            group.enter()
            Thread {
                for card in cards {
                    reader.present(card)
                    signal.wait()  // the gate answered this rider: the next one taps
                }
                group.leave()
            }.start()
        }
        group.wait()
        for r in runtimes { r.stop() }
        let elapsed = clock.monotonicNanos() - started

        var stages = [String: LatencyHistogram]()
        var reasons = [String: Int]()
        var outcomes = [String: Int]()
        var kinds = [String: Int]()
        var handled = 0
        for rec in recorders {
            handled += rec.merge(into: &stages, reasons: &reasons, outcomes: &outcomes, kinds: &kinds)
        }
        let gates = runtimes.map { r in
            let c = r.currentCounters
            return SimulationSummary.Gate(
                gateID: r.options.gateID, taps: Int(c.taps + c.rejected), journalLastSequence: r.journal.lastSequence,
                acknowledged: r.journal.acknowledged, syncFailures: Int(c.syncFailures),
                lastSyncFailure: r.lastSyncFailure)
        }
        let latency = stages.mapValues { h in
            SimulationSummary.Latency(
                p50: Double(h.quantile(0.50)) / 1000, p99: Double(h.quantile(0.99)) / 1000, max: Double(h.max) / 1000)
        }
        return SimulationSummary(
            taps: options.taps, handled: handled, decisions: reasons, outcomes: outcomes, kinds: kinds,
            latencyMicros: latency, gates: gates, elapsedSeconds: Double(elapsed) / 1e9,
            fsync: options.fsync)
    }
}

/// What `farectl simulate` reports (also as JSON with `--json`).
public struct SimulationSummary: Codable, Sendable {
    public struct Latency: Codable, Sendable {
        public var p50: Double
        public var p99: Double
        public var max: Double
    }

    public struct Gate: Codable, Sendable {
        public var gateID: String
        public var taps: Int
        public var journalLastSequence: UInt64
        public var acknowledged: UInt64
        public var syncFailures: Int
        public var lastSyncFailure: String?

        enum CodingKeys: String, CodingKey {
            case gateID = "gate_id", taps, journalLastSequence = "journal_last_sequence", acknowledged
            case syncFailures = "sync_failures", lastSyncFailure = "last_sync_failure"
        }
    }

    public var taps: Int
    /// Taps the gates answered (journal entries written by this run).
    public var handled: Int
    /// Journal entries by reason code; they add up to `taps`.
    public var decisions: [String: Int]
    public var outcomes: [String: Int]
    public var kinds: [String: Int]
    /// Per stage, microseconds.
    public var latencyMicros: [String: Latency]
    public var gates: [Gate]
    public var elapsedSeconds: Double
    public var fsync: Bool

    enum CodingKeys: String, CodingKey {
        case taps, handled, decisions, outcomes, kinds, latencyMicros = "latency_us", gates
        case elapsedSeconds = "elapsed_s", fsync
    }

    /// The stages in pipeline order.
    public static let stageOrder = ["read", "queue", "lookup", "decide", "journal", "barrier", "total"]

    /// True when every tap got exactly one journal entry.
    public var decisionsAddUp: Bool { decisions.values.reduce(0, +) == taps && handled == taps }

    public var text: String {
        var out =
            "faregate simulation: \(gates.count) gate(s), \(taps) taps in \(String(format: "%.2f", elapsedSeconds)) s"
        out +=
            " (\(String(format: "%.0f", Double(taps) / max(elapsedSeconds, 1e-9))) taps/s, journal fsync \(fsync ? "on" : "off"))\n\n"
        out += "decisions by reason:\n"
        for (reason, n) in decisions.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) }) {
            let pct = String(format: "%6.2f%%", Double(n) * 100 / Double(max(taps, 1)))
            out +=
                "  " + reason.padding(toLength: 22, withPad: " ", startingAt: 0) + String(n).leftPad(8) + "  " + pct
                + "\n"
        }
        out +=
            "  " + "total".padding(toLength: 22, withPad: " ", startingAt: 0)
            + String(decisions.values.reduce(0, +)).leftPad(8)
        out += decisionsAddUp ? "  = taps \(taps)\n" : "  ≠ taps \(taps)  (MISMATCH)\n"
        out +=
            "outcomes: " + outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            + "\n\n"
        out += "latency per stage (µs):      p50        p99        max\n"
        for stage in Self.stageOrder {
            guard let l = latencyMicros[stage] else { continue }
            out += "  " + stage.padding(toLength: 20, withPad: " ", startingAt: 0)
            out += [l.p50, l.p99, l.max].map { String(format: "%11.1f", $0) }.joined() + "\n"
        }
        out += "\ngates:\n"
        for g in gates {
            out +=
                "  \(g.gateID): \(g.taps) taps, journal last seq \(g.journalLastSequence), acknowledged by central \(g.acknowledged)"
            if let f = g.lastSyncFailure { out += ", last sync failure: \(f)" }
            out += "\n"
        }
        return out
    }
}

extension String {
    func leftPad(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
