import FaregateCore
import FaregateRuntime
import Foundation

/// What a station simulation produced, and its self-contained HTML report (inline SVG, no
/// scripts, no external files) that a person opens in a browser.
public struct StationReport: Sendable {
    public struct PerMinute: Sendable {
        public var counts: [Int] = []
        mutating func add(at seconds: Double) {
            let m = max(0, Int(seconds / 60))
            if counts.count <= m { counts += [Int](repeating: 0, count: m - counts.count + 1) }
            counts[m] += 1
        }
    }

    public struct Alarm: Sendable {
        public var time: Double
        public var gate: String
        public var kind: String
    }

    public struct FaultNote: Sendable {
        public var time: Double
        public var what: String
    }

    public struct GateRow: Sendable {
        public var id: String
        public var entry: Bool
        public var served: Int
        public var maxQueue: Int
        public var journalLastSequence: UInt64
        public var acknowledged: UInt64
        public var syncFailures: Int
        public var readerLosses: Int
    }

    public struct Quantiles: Sendable {
        public var p50: Double
        public var p99: Double
        public var max: Double
        init(_ h: LatencyHistogram, scale: Double) {
            p50 = Double(h.quantile(0.5)) / scale
            p99 = Double(h.quantile(0.99)) / scale
            max = Double(h.max) / scale
        }
        init() { (p50, p99, max) = (0, 0, 0) }
    }

    public var entryGates: Int
    public var exitGates: Int
    public var riders: Int
    public var seed: UInt64
    public var windowSeconds: Double
    public var fsync: Bool
    public var gateIDs: [String]
    public var taps = 0
    public var unanswered = 0
    /// Taps whose measured latency (detected → barrier command) exceeded the decision budget
    /// (`Options.decisionSeconds`): the gate was slower than the station model assumes.
    public var overBudget = 0
    public var decisionSeconds: Double
    public var turnedAway = 0
    public var elapsedSeconds = 0.0
    /// Passages per simulated minute: [entries, exits].
    public var passages = [PerMinute(), PerMinute()]
    public var alarms: [Alarm] = []
    /// Queue length per gate every 10 simulated seconds; -1 while a gate is out of service.
    public var queueSamples: [[Int]] = []
    public var faultLog: [FaultNote] = []
    public var waitSeconds = Quantiles()
    /// From the tap until the gate's controller is at rest again (simulated).
    public var passageSeconds = Quantiles()
    /// Bodies the barrier controllers counted through their passages, by role.
    public var bodies: [String: Int] = [:]
    /// Riders who followed another through without tapping.
    public var followers = 0
    /// Fare evaders (not riders) who followed a rider through an empty line without tapping.
    public var evaders = 0
    public var childPairs = 0
    public var stepBacks = 0
    public var reverseIntruders = 0
    /// Openings nobody used, cancelled by the controller after `unusedOpening`.
    public var cancelledOpenings = 0
    /// Alarms that outlived the people who caused them and were reset by staff.
    public var staffResets = 0
    public var stages: [String: LatencyHistogram] = [:]
    public var decisions: [String: Int] = [:]
    public var outcomes: [String: Int] = [:]
    public var kinds: [String: Int] = [:]
    public var gates: [GateRow] = []
    /// Entries by reason read back from the gates' journal files.
    public var journalDecisions: [String: Int] = [:]
    /// The ride-code riders (nil when the run had none): codes shown, valid ones accepted, frauds
    /// tried and refused with their expected reasons.
    public var rideCodes: RideCodeTally?

    init(options: StationSimulation.Options, gateIDs: [String]) {
        entryGates = options.entryGates
        exitGates = options.exitGates
        riders = options.riders
        seed = options.seed
        windowSeconds = options.profile.windowSeconds
        fsync = options.fsync
        decisionSeconds = options.decisionSeconds
        self.gateIDs = gateIDs
    }

    /// Every tap has one decision, and the journals on disk say the same as the live counts.
    /// Every rider is accounted for: a tap, a follower without a tap, or turned away.
    public var totalsAgree: Bool {
        decisions.values.reduce(0, +) == taps && journalDecisions == decisions && unanswered == 0
            && taps + followers + turnedAway == riders
    }

    public var alarmsByKind: [String: Int] {
        var byKind: [String: Int] = [:]
        for k in AlarmKind.allCases { byKind[k.description] = 0 }
        for a in alarms { byKind[a.kind, default: 0] += 1 }
        return byKind
    }

    static func clockText(_ seconds: Double, start: Int = 7 * 3600) -> String {
        let s = start + Int(seconds)
        return String(format: "%02d:%02d:%02d", s / 3600 % 24, s / 60 % 60, s % 60)
    }

    // MARK: Text and JSON

    public var text: String {
        var out =
            "faregate station simulation: \(entryGates) entry + \(exitGates) exit gates, \(riders) riders, seed \(seed)\n"
        out +=
            "  taps \(taps), followers without a tap \(followers), turned away (no gate in service) \(turnedAway), real time \(String(format: "%.1f", elapsedSeconds)) s\n"
        out +=
            "  alarms \(alarms.count): "
            + alarmsByKind.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
        out +=
            "  bodies through the flaps: "
            + bodies.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            + "; openings cancelled \(cancelledOpenings), alarms reset by staff \(staffResets)\n"
        out +=
            "  passage (tap to gate at rest) p50 \(String(format: "%.2f", passageSeconds.p50)) s, p99 \(String(format: "%.2f", passageSeconds.p99)) s\n"
        out +=
            "  decisions: "
            + decisions.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
        out +=
            "  rider wait p50 \(String(format: "%.1f", waitSeconds.p50)) s, p99 \(String(format: "%.1f", waitSeconds.p99)) s\n"
        if let total = stages["total"] {
            let q = Quantiles(total, scale: 1000)
            out +=
                "  gate latency (detected → barrier) p50 \(String(format: "%.0f", q.p50)) µs, p99 \(String(format: "%.0f", q.p99)) µs; \(overBudget) tap(s) over the \(String(format: "%.0f", decisionSeconds * 1000)) ms budget\n"
        }
        if let rc = rideCodes {
            out +=
                "  ride codes shown \(rc.shown): valid \(rc.valid), accepted \(rc.validAccepted); frauds "
                + RideCodeFraud.allCases.map { k in
                    "\(k.rawValue) \(rc.injected[k.rawValue] ?? 0) (refused \(k.expectedReason.code) "
                        + "\(rc.refusedAsExpected[k.rawValue] ?? 0))"
                }.joined(separator: ", ") + "\n"
        }
        out += "  journals agree with the report: \(totalsAgree ? "yes" : "NO")\n"
        return out
    }

    public var jsonObject: [String: Any] {
        var o = baseJSONObject
        if let rc = rideCodes {
            o["ride_codes"] =
                [
                    "shown": rc.shown, "valid": rc.valid, "valid_accepted": rc.validAccepted, "reasons": rc.reasons,
                    "frauds": Dictionary(
                        uniqueKeysWithValues: RideCodeFraud.allCases.map { k in
                            (
                                k.rawValue,
                                [
                                    "injected": rc.injected[k.rawValue] ?? 0,
                                    "refused_as_expected": rc.refusedAsExpected[k.rawValue] ?? 0,
                                    "expected_reason": k.expectedReason.code,
                                ] as [String: Any]
                            )
                        }),
                    "all_as_expected": rc.allAsExpected,
                ] as [String: Any]
        }
        return o
    }

    var baseJSONObject: [String: Any] {
        [
            "entry_gates": entryGates, "exit_gates": exitGates, "riders": riders, "taps": taps,
            "turned_away": turnedAway,
            "unanswered": unanswered, "over_budget": overBudget, "decision_budget_s": decisionSeconds,
            "alarms": alarms.count, "alarms_by_kind": alarmsByKind, "decisions": decisions,
            "followers": followers, "evaders": evaders, "bodies": bodies, "cancelled_openings": cancelledOpenings,
            "staff_resets": staffResets, "reverse_intruders": reverseIntruders, "child_pairs": childPairs,
            "passage_s": ["p50": passageSeconds.p50, "p99": passageSeconds.p99, "max": passageSeconds.max],
            "journal_decisions": journalDecisions,
            "totals_agree": totalsAgree, "elapsed_s": elapsedSeconds,
            "latency_us": stages.mapValues { h in
                let q = Quantiles(h, scale: 1000)
                return ["p50": q.p50, "p99": q.p99, "max": q.max]
            },
            "wait_s": ["p50": waitSeconds.p50, "p99": waitSeconds.p99, "max": waitSeconds.max],
        ]
    }

    // MARK: HTML

    public var html: String {
        var h = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>faregate station simulation</title>
            <style>body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
            h1{font-size:22px}h2{font-size:17px;margin-top:2em}table{border-collapse:collapse}
            td,th{padding:2px 10px;border-bottom:1px solid #ddd;text-align:right}td:first-child,th:first-child{text-align:left}
            .ok{color:#176117;font-weight:bold}.bad{color:#a00;font-weight:bold}svg{background:#fafafa}</style></head><body>
            """
        h += "<h1>Station simulation: \(entryGates) entry and \(exitGates) exit gates, \(riders) riders</h1>"
        h +=
            "<p>Morning peak 07:00–\(Self.clockText(windowSeconds)), seed \(seed), journal fsync \(fsync ? "on" : "off"), "
        h += "run took \(String(format: "%.1f", elapsedSeconds)) s of real time.</p>"
        h += "<table><tr><th>total</th><th>count</th></tr>"
        for (k, v) in [
            ("riders", riders), ("taps answered", taps), ("followers without a tap", followers),
            ("fare evaders following a rider", evaders),
            ("turned away (no gate in service)", turnedAway), ("opened", outcomes["open"] ?? 0),
            ("denied", outcomes["deny"] ?? 0), ("sent to staff", outcomes["staff"] ?? 0),
            ("children in front of an adult (one tap)", childPairs), ("stepped back (opening cancelled)", stepBacks),
            ("reverse intruders at exit gates", reverseIntruders), ("alarms", alarms.count),
            ("taps decided slower than the \(Int(decisionSeconds * 1000)) ms budget", overBudget),
        ] {
            h += "<tr><td>\(k)</td><td>\(v)</td></tr>"
        }
        let journalTotal = journalDecisions.values.reduce(0, +)
        h += "<tr><td>journal entries on disk</td><td>\(journalTotal)</td></tr></table>"
        h +=
            totalsAgree
            ? "<p class=ok>The gates' journals agree with these totals, reason by reason; taps + followers + turned away = riders.</p>"
            : "<p class=bad>The journals do NOT agree with these totals.</p>"

        h +=
            "<h2>Decisions by reason</h2>"
            + barChart(decisions.sorted { $0.value > $1.value }.map { ($0.key, Double($0.value)) })
        h +=
            "<h2>Passages per minute</h2>"
            + lineChart(
                [
                    ("entries", passages[0].counts.map(Double.init), "#1f6fb2"),
                    ("exits", passages[1].counts.map(Double.init), "#d9822b"),
                ],
                xLabel: "minutes after 07:00")
        h += "<h2>Queue length per gate</h2><p>Every 10 simulated seconds; grey: out of service.</p>" + heatmap()
        h +=
            "<h2>Gate latency per stage (real time, µs)</h2><table><tr><th>stage</th><th>p50</th><th>p99</th><th>max</th></tr>"
        for stage in SimulationSummary.stageOrder {
            guard let hist = stages[stage] else { continue }
            let q = Quantiles(hist, scale: 1000)
            h += String(
                format: "<tr><td>%@</td><td>%.1f</td><td>%.1f</td><td>%.1f</td></tr>", stage, q.p50, q.p99, q.max)
        }
        h += "</table>"
        for stage in ["lookup", "journal", "total"] {
            if let hist = stages[stage] { h += "<h3>\(stage)</h3>" + histogramChart(hist) }
        }
        h += "<h2>Rider waiting time (simulated)</h2>"
        h += String(
            format: "<p>p50 %.1f s, p99 %.1f s, max %.1f s</p>", waitSeconds.p50, waitSeconds.p99, waitSeconds.max)
        h += "<h2>Passage time (simulated)</h2>"
        h += String(
            format:
                "<p>From the tap until the barrier controller is at rest again: p50 %.2f s, p99 %.2f s, max %.2f s.</p>",
            passageSeconds.p50, passageSeconds.p99, passageSeconds.max)
        h += "<h2>Alarms by kind</h2><p>Raised by the gates' barrier controllers from their passage sensors.</p>"
        h += barChart(alarmsByKind.sorted { $0.key < $1.key }.map { ($0.key, Double($0.value)) }, allowEmpty: true)
        h += "<h2>Bodies through the flaps</h2>"
        h += barChart(bodies.sorted { $0.key < $1.key }.map { ($0.key, Double($0.value)) })
        h += "<p>Openings cancelled unused: \(cancelledOpenings); alarms reset by staff: \(staffResets).</p>"
        h += "<h2>Faults</h2><table><tr><th>time</th><th style=text-align:left>what</th></tr>"
        for f in faultLog { h += "<tr><td>\(Self.clockText(f.time))</td><td style=text-align:left>\(f.what)</td></tr>" }
        h +=
            "</table><h2>Gates</h2><table><tr><th>gate</th><th>served</th><th>longest queue</th><th>journal last seq</th>"
        h += "<th>acknowledged</th><th>sync failures</th><th>reader losses</th></tr>"
        for g in gates {
            h += "<tr><td>\(g.id)</td><td>\(g.served)</td><td>\(g.maxQueue)</td><td>\(g.journalLastSequence)</td>"
            h += "<td>\(g.acknowledged)</td><td>\(g.syncFailures)</td><td>\(g.readerLosses)</td></tr>"
        }
        h += "</table></body></html>\n"
        return h
    }

    func barChart(_ rows: [(String, Double)], allowEmpty: Bool = false) -> String {
        guard let rawTop = rows.map(\.1).max(), rawTop > 0 || (allowEmpty && !rows.isEmpty) else {
            return "<p>none</p>"
        }
        let top = max(rawTop, 1)
        let rowH = 20
        let width = 900
        var s = "<svg width=\"\(width)\" height=\"\(rows.count * rowH + 10)\" role=img>"
        for (i, (label, v)) in rows.enumerated() {
            let y = i * rowH + 5
            let w = Int(v / top * Double(width - 330))
            s += "<text x=\"180\" y=\"\(y + 14)\" text-anchor=end font-size=12>\(label)</text>"
            s += "<rect x=\"190\" y=\"\(y + 2)\" width=\"\(max(w, 1))\" height=\"15\" fill=\"#1f6fb2\"/>"
            let value = v == v.rounded() ? String(Int(v)) : String(format: "%.1f", v)
            s += "<text x=\"\(196 + w)\" y=\"\(y + 14)\" font-size=12>\(value)</text>"
        }
        return s + "</svg>"
    }

    func lineChart(_ series: [(String, [Double], String)], xLabel: String) -> String {
        let width = 900.0
        let height = 260.0
        let left = 50.0
        let bottom = 30.0
        let n = series.map(\.1.count).max() ?? 0
        let top = max(series.flatMap(\.1).max() ?? 1, 1)
        guard n > 1 else { return "<p>no data</p>" }
        var s = "<svg width=\"\(Int(width))\" height=\"\(Int(height))\" role=img>"
        s += "<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width)\" y2=\"\(height - bottom)\" stroke=#999 />"
        s += "<line x1=\"\(left)\" y1=\"0\" x2=\"\(left)\" y2=\"\(height - bottom)\" stroke=#999 />"
        s += "<text x=\"\(left - 6)\" y=\"12\" text-anchor=end font-size=11>\(Int(top))</text>"
        s += "<text x=\"\(left - 6)\" y=\"\(height - bottom)\" text-anchor=end font-size=11>0</text>"
        s +=
            "<text x=\"\(width / 2)\" y=\"\(height - 6)\" text-anchor=middle font-size=11>\(xLabel) (0–\(n - 1))</text>"
        for (i, (name, values, color)) in series.enumerated() {
            let points = values.enumerated().map { (x, v) in
                String(
                    format: "%.1f,%.1f", left + Double(x) / Double(n - 1) * (width - left - 10),
                    (height - bottom) - v / top * (height - bottom - 10))
            }
            s += "<polyline fill=none stroke=\"\(color)\" stroke-width=2 points=\"\(points.joined(separator: " "))\"/>"
            s += "<text x=\"\(width - 120)\" y=\"\(20 + i * 16)\" fill=\"\(color)\" font-size=12>\(name)</text>"
        }
        return s + "</svg>"
    }

    func heatmap() -> String {
        guard !queueSamples.isEmpty else { return "<p>no samples</p>" }
        let cols = queueSamples.count
        let rows = gateIDs.count
        let cellW = 820.0 / Double(cols)
        let cellH = 14.0
        let top = max(queueSamples.flatMap { $0 }.max() ?? 1, 1)
        var s =
            "<svg width=\"\(Int(80 + cellW * Double(cols)))\" height=\"\(Int(cellH * Double(rows) + 30))\" role=img>"
        for (r, id) in gateIDs.enumerated() {
            s += "<text x=\"74\" y=\"\(Int(Double(r) * cellH + 11))\" text-anchor=end font-size=10>\(id)</text>"
        }
        for (c, sample) in queueSamples.enumerated() {
            for (r, q) in sample.enumerated() {
                let color: String
                if q < 0 {
                    color = "#bbbbbb"
                } else if q == 0 {
                    continue
                } else {
                    let f = Double(q) / Double(top)
                    color = String(format: "rgb(%d,%d,%d)", 255, Int(235 - 200 * f), Int(200 - 190 * f))
                }
                s += String(
                    format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"%@\"/>",
                    80 + Double(c) * cellW,
                    Double(r) * cellH, cellW + 0.05, cellH - 1, color)
            }
        }
        s +=
            "<text x=\"80\" y=\"\(Int(cellH * Double(rows) + 22))\" font-size=11>07:00 → \(Self.clockText(windowSeconds)); darkest = \(top) waiting</text>"
        return s + "</svg>"
    }

    func histogramChart(_ h: LatencyHistogram) -> String {
        // Log-spaced bins of microseconds: 1, 2, 5, 10, 20, 50, … up to the maximum.
        var edges: [Double] = []
        var e = 1.0
        while e < Double(h.max) / 1000 * 2.5 || edges.count < 4 {
            edges.append(e)
            e *= e.description.hasPrefix("2") ? 2.5 : 2
        }
        var rows: [(String, Double)] = []
        var previous = 0.0
        for edge in edges {
            let below = h.fraction(atOrBelow: UInt64(edge * 1000)) - previous
            previous += below
            rows.append(
                ("≤ \(edge >= 1000 ? "\(Int(edge / 1000)) ms" : "\(Int(edge)) µs")", (below * 1000).rounded() / 10))
        }
        return barChart(rows.filter { $0.1 > 0 }).replacingOccurrences(of: "</svg>", with: "")
            + "</svg><p>share of taps, %</p>"
    }
}

extension LatencyHistogram {
    /// Share of recorded values at or below `nanos` (bucket resolution).
    public func fraction(atOrBelow nanos: UInt64) -> Double {
        guard total > 0 else { return 0 }
        var lo = 0.0
        var hi = 1.0
        // Bisection on the quantile function: it is monotone.
        for _ in 0..<30 {
            let mid = (lo + hi) / 2
            if quantile(mid) <= nanos { lo = mid } else { hi = mid }
        }
        return lo
    }
}
