import Dispatch
import FaregateCore
import FaregateRuntime
import Synchronization

/// Per-stage latency histograms and per-reason counts of one gate, fed by the gate's observer
/// on its decision thread; signals a per-reader semaphore for each answered tap so a simulated
/// rider can wait for the gate's answer before the next one taps.
final class TapRecorder: Sendable {
    struct State {
        var stages = [String: LatencyHistogram]()
        var reasons = [String: Int]()
        var outcomes = [String: Int]()
        var kinds = [String: Int]()
        var handled = 0
        var last: GateRuntime.TapReport?
    }

    let state = Mutex(State())
    let readerSignals: [DispatchSemaphore]

    init(readers: Int) { readerSignals = (0..<readers).map { _ in DispatchSemaphore(value: 0) } }

    func record(_ r: GateRuntime.TapReport) {
        state.withLock { s in
            s.handled += 1
            s.last = r
            s.reasons[r.told.reason.code, default: 0] += 1
            s.outcomes[r.told.outcome.description, default: 0] += 1
            s.kinds[r.entry.kind.description, default: 0] += 1
            if let t = r.tap {
                func add(_ name: String, _ a: UInt64, _ b: UInt64) {
                    s.stages[name, default: LatencyHistogram()].record(b > a ? b - a : 0)
                }
                add("read", t.detectedAt, t.readAt)
                add("queue", t.readAt, r.dequeuedAt)
                add("lookup", r.dequeuedAt, r.lookedUpAt)
                add("decide", r.lookedUpAt, r.decidedAt)
                add("journal", r.decidedAt, r.journaledAt)
                add("barrier", r.journaledAt, r.commandedAt)
                add("total", t.detectedAt, r.commandedAt)
            }
        }
        let reader = Int(r.entry.reader)
        if reader < readerSignals.count { readerSignals[reader].signal() }
    }

    /// Adds this recorder's tallies into the given totals.
    func merge(
        into stages: inout [String: LatencyHistogram], reasons: inout [String: Int], outcomes: inout [String: Int],
        kinds: inout [String: Int]
    ) -> Int {
        state.withLock { s in
            for (k, h) in s.stages { stages[k, default: LatencyHistogram()].merge(h) }
            for (k, n) in s.reasons { reasons[k, default: 0] += n }
            for (k, n) in s.outcomes { outcomes[k, default: 0] += n }
            for (k, n) in s.kinds { kinds[k, default: 0] += n }
            return s.handled
        }
    }
}
