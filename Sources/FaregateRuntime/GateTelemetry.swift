import Dispatch
import FaregateCore
import Synchronization

/// What a running gate says about itself: counters since start, taps by the outcome and reason
/// the rider was told, the detected → commanded latency histogram, which readers are up, and its
/// last tap reports (for the control socket's `tap` command, which waits for the decision of the
/// tap it presented).
///
/// Everything here is recorded from settled taps (`GateCore.Settlement`): a tap refused because
/// its entry could not be journalled counts as the `gate_out_of_service` it was told, never as
/// the decision the rules proposed.
///
/// Written by the gate's threads (decision, readers, sync), read by any. Thread-safe: every
/// field is a Mutex or an Atomic.
public final class GateTelemetry: Sendable {
    /// Counters since start.
    public struct Counters: Sendable, Codable, Equatable {
        public var taps: UInt64 = 0
        public var rejected: UInt64 = 0
        public var journalFailures: UInt64 = 0
        public var syncs: UInt64 = 0
        public var syncFailures: UInt64 = 0
        public var uploaded: UInt64 = 0
        public var readerLosses: UInt64 = 0
        /// Staff commands journalled (mode, directions, enforcement, alarm reset).
        public var staffCommands: UInt64 = 0
        /// Lane events journalled (I/O board lost or back, fire-alarm or power-loss free-open, its end).
        public var laneEvents: UInt64 = 0
        /// Scanner lines refused before parsing (garbage, too long); each is also journalled as
        /// `ride_code_malformed`.
        public var scanLinesRefused: UInt64 = 0
        /// Failed writes of the ride-code replay cache file.
        public var replayCacheWriteFailures: UInt64 = 0
        /// Wall-clock Unix milliseconds of the last successful sync; nil before the first.
        public var lastSyncSuccessWallMillis: Int64?
    }

    /// Everything known about one handled tap, for metrics and simulations.
    public struct TapReport: Sendable {
        /// The entry as the core proposed it; in the journal only when `durable`.
        public var entry: JournalEntry
        /// Whether `entry` is in the journal (false: its sequence was handed out again).
        public var durable: Bool
        /// What the rider was told (`GateCore.Settlement.told`): the entry's decision when
        /// durable, `gate_out_of_service` when not, `tap_again` for a tap refused on a full ring.
        public var told: Decision
        public var tap: Tap?
        public var dequeuedAt: UInt64
        public var lookedUpAt: UInt64
        public var decidedAt: UInt64
        public var journaledAt: UInt64
        public var commandedAt: UInt64
        /// Numbers the reports of this gate from 1, in the order they were recorded (journal
        /// sequences do not: one that was not journalled is handed out again).
        public var serial: UInt64 = 0
        /// The tap is a ride-code scan (a scanner's line), not a card: its `detectedAt` is when
        /// the scanner's read returned the line's terminator.
        public var fromScanner = false

        /// The entry could not be journalled: the barrier stayed closed.
        public var journalFailed: Bool { !durable }

        /// The tap as `GateCore.Settlement.textLine` prints it.
        public var textLine: String {
            GateCore.Settlement(entry: entry, durable: durable, told: told, show: nil).textLine
        }
    }

    private let counters = Mutex(Counters())
    /// Taps by (outcome, reason) told (indexed by `outcome.rawValue * 64 + reason.rawValue`; reason
    /// raw values stay below 64), the detected → commanded latency and the sum of those latencies.
    private let tallies = Mutex(
        (told: [UInt64](repeating: 0, count: 3 * 64), total: LatencyHistogram(), totalSumNanos: UInt64(0)))
    /// Ride-code scans: scanner line received (the read that returned its terminator) → decided,
    /// and the sum of those latencies in nanoseconds (issue 17's "scan received → decided", whose
    /// budget is 5 ms p99 with both signatures; BENCHMARKS.md).
    private let scanTallies = Mutex((decided: LatencyHistogram(), sumNanos: UInt64(0)))
    /// Reader names and whether each is up (not lost), by reader index.
    private let readers = Mutex<[(name: String, up: Bool)]>([])
    /// The last reports, newest last, for `waitForReport`.
    private let recent = Mutex<(reports: [TapReport], serial: UInt64)>(([], 0))
    private let reportArrived = DispatchSemaphore(value: 0)
    private let reportWaiters = Atomic<Int>(0)

    public init() {}

    public var currentCounters: Counters { counters.withLock { $0 } }

    /// Changes the counters (one lock for the whole change).
    func count(_ change: (inout Counters) -> Void) { counters.withLock { change(&$0) } }

    /// Taps since start by the decision the rider was told; the detected → commanded latency
    /// histogram and the sum of its samples in nanoseconds.
    public var currentTallies: (told: [Decision: UInt64], total: LatencyHistogram, totalSumNanos: UInt64) {
        tallies.withLock { t in
            var out: [Decision: UInt64] = [:]
            for o in Decision.Outcome.allCases {
                for r in Reason.allCases {
                    let n = t.told[Self.slot(o, r)]
                    if n > 0 { out[Decision(outcome: o, reason: r)] = n }
                }
            }
            return (out, t.total, t.totalSumNanos)
        }
    }

    /// Scans since start: line received → decided, and the sum of those latencies (nanoseconds).
    public var currentScanLatency: (decided: LatencyHistogram, sumNanos: UInt64) { scanTallies.withLock { $0 } }

    private static func slot(_ outcome: Decision.Outcome, _ reason: Reason) -> Int {
        Int(outcome.rawValue % 3) * 64 + Int(reason.rawValue & 63)
    }

    /// Names the gate's readers (index order); each is up until `readerChanged` says otherwise.
    func setReaders(_ names: [String]) { readers.withLock { $0 = names.map { ($0, true) } } }

    /// A reader went away (`up` false) or came back.
    func readerChanged(_ index: Int, up: Bool) {
        readers.withLock { r in if r.indices.contains(index) { r[index].up = up } }
    }

    /// The gate's readers by index, with whether each is up.
    public var currentReaders: [(name: String, up: Bool)] { readers.withLock { $0 } }

    /// Records one settled batch's tap reports: what each rider was told, the latencies, the
    /// reports; wakes `waitForReport` callers. `now` is read once per tap for the detected →
    /// commanded latency.
    func record(_ reports: inout [TapReport], now: () -> UInt64) {
        tallies.withLock { t in
            for r in reports {
                t.told[Self.slot(r.told.outcome, r.told.reason)] += 1
                if let tap = r.tap {
                    let latency = now() &- tap.detectedAt
                    t.total.record(latency)
                    t.totalSumNanos &+= latency
                }
            }
        }
        if reports.contains(where: \.fromScanner) {
            scanTallies.withLock { t in
                for r in reports where r.fromScanner {
                    guard let tap = r.tap else { continue }
                    // Both instants are the gate's monotonic clock; a decision is never before its line.
                    let latency = r.decidedAt &- tap.detectedAt
                    t.decided.record(latency)
                    t.sumNanos &+= latency
                }
            }
        }
        recent.withLock { r in
            for i in reports.indices {
                r.serial += 1
                reports[i].serial = r.serial
            }
            r.reports.append(contentsOf: reports)
            if r.reports.count > 512 { r.reports.removeFirst(r.reports.count - 256) }
        }
        // Only pay for a wake-up when a control request is waiting for a decision.
        let waiters = reportWaiters.load(ordering: .relaxed)
        for _ in 0..<waiters { reportArrived.signal() }
    }

    /// The serial of the last report recorded (0 before the first): pass it to `waitForReport`.
    public var lastReportSerial: UInt64 { recent.withLock { $0.serial } }

    /// Waits up to `timeout` seconds for the first report from `reader` recorded after the report
    /// numbered `serial` (the control socket's `tap` command uses it to answer with the decision).
    public func waitForReport(reader: UInt16, afterSerial serial: UInt64, timeout: Double) -> TapReport? {
        reportWaiters.add(1, ordering: .relaxed)
        defer { reportWaiters.subtract(1, ordering: .relaxed) }
        let deadline = DispatchTime.now() + timeout
        func find() -> TapReport? {
            recent.withLock { $0.reports.first { $0.entry.reader == reader && $0.serial > serial } }
        }
        while true {
            if let r = find() { return r }
            if reportArrived.wait(timeout: deadline) == .timedOut { return find() }
        }
    }
}
