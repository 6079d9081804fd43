import Dispatch
import FaregateCore
import Synchronization

/// What a running gate says about itself: counters since start, journal entries by reason, the
/// detected → commanded latency histogram, and its last tap reports (for the control socket's
/// `tap` command, which waits for the decision of the tap it presented).
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

    private let counters = Mutex(Counters())
    /// Journal entries by reason code (indexed by `Reason.rawValue`, which stays below 64) and
    /// detected → commanded latency.
    private let tallies = Mutex((reasons: [UInt64](repeating: 0, count: 64), total: LatencyHistogram()))
    /// The last reports, newest last, for `waitForReport`.
    private let recent = Mutex<[TapReport]>([])
    private let reportArrived = DispatchSemaphore(value: 0)
    private let reportWaiters = Atomic<Int>(0)

    public init() {}

    public var currentCounters: Counters { counters.withLock { $0 } }

    /// Changes the counters (one lock for the whole change).
    func count(_ change: (inout Counters) -> Void) { counters.withLock { change(&$0) } }

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

    /// Records one settled batch: its reasons, latencies and reports; wakes `waitForReport`
    /// callers. `now` is read once per tap for the detected → commanded latency.
    func record(_ reports: [TapReport], now: () -> UInt64) {
        tallies.withLock { t in
            for r in reports {
                // What the lane showed: an entry whose batch was not journalled counts as the
                // gate_out_of_service it was denied with, not as the decision it never became.
                let reason = r.journalFailed ? Reason.gateOutOfService : r.entry.decision.reason
                t.reasons[Int(reason.rawValue) & 63] += 1
                if let tap = r.tap { t.total.record(now() &- tap.detectedAt) }
            }
        }
        recent.withLock { r in
            r.append(contentsOf: reports)
            if r.count > 512 { r.removeFirst(r.count - 256) }
        }
        // Only pay for a wake-up when a control request is waiting for a decision.
        let waiters = reportWaiters.load(ordering: .relaxed)
        for _ in 0..<waiters { reportArrived.signal() }
    }

    /// Waits up to `timeout` seconds for the first report from `reader` with a sequence after
    /// `sequence` (the control socket's `tap` command uses it to answer with the decision).
    public func waitForReport(reader: UInt16, after sequence: UInt64, timeout: Double) -> TapReport? {
        reportWaiters.add(1, ordering: .relaxed)
        defer { reportWaiters.subtract(1, ordering: .relaxed) }
        let deadline = DispatchTime.now() + timeout
        func find() -> TapReport? {
            recent.withLock { $0.last { $0.entry.reader == reader && $0.entry.sequence > sequence } }
        }
        while true {
            if let r = find() { return r }
            if reportArrived.wait(timeout: deadline) == .timedOut { return find() }
        }
    }
}
