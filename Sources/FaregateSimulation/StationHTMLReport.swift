import FaregateCore

/// Writes a station simulation's result as one self-contained HTML page with inline SVG charts
/// (no scripts, no external files): latency histogram per stage, throughput over time, decisions
/// by reason, queue length per gate, alarms. Pure string building.
public enum StationHTMLReport {
    public static func html(_ r: StationModel.Result, title: String = "faregate station simulation") -> String {
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
            h2{border-bottom:1px solid #ccc;margin-top:2em} table{border-collapse:collapse}
            td,th{padding:2px 10px;text-align:right;border-bottom:1px solid #eee} th{text-align:left}
            svg{background:#fafafa;border:1px solid #ddd;margin:4px} .small{font-size:11px}
            </style></head><body>
            <h1>\(escape(title))</h1>

            """
        let totalDecisions = r.decisionsByOutcome.values.reduce(0, +)
        h += "<h2>Totals</h2><table>"
        let rows: [(String, String)] = [
            ("gates", "\(r.gateCount) (\(r.entryGates) entry, \(r.gateCount - r.entryGates) exit)"),
            ("riders", "\(r.riders)"), ("taps (journal entries)", "\(r.taps)"),
            ("followers without a tap", "\(r.followers)"), ("decisions", "\(totalDecisions)"),
            ("open", "\(r.decisionsByOutcome[.open] ?? 0)"), ("deny", "\(r.decisionsByOutcome[.deny] ?? 0)"),
            ("staff", "\(r.decisionsByOutcome[.staff] ?? 0)"),
            ("passages: authorized", "\(r.bodies[.authorized] ?? 0)"),
            ("passages: child companions", "\(r.bodies[.childCompanion] ?? 0)"),
            ("passages: tailgaters", "\(r.bodies[.tailgater] ?? 0)"),
            ("alarms", "\(r.alarms.values.reduce(0, +))"),
            ("simulated duration", "\(r.durationNanos / 60_000_000_000) min"),
            ("longest wait in a queue", "\(r.longestWaitNanos / 1_000_000_000) s"),
        ]
        for (k, v) in rows { h += "<tr><th>\(escape(k))</th><td>\(escape(v))</td></tr>" }
        h += "</table>"
        if !r.faults.isEmpty {
            h += "<p>Faults injected: " + r.faults.map(escape).joined(separator: "; ") + "</p>"
        }

        h += "<h2>Latency per stage</h2><p class=small>Tap to decision, per stage; bars are counts per "
        h += "log-spaced bucket, p50/p99/max in milliseconds.</p>"
        for (name, hist) in r.stages { h += histogramSVG(name, hist) }

        h += "<h2>Throughput</h2><p class=small>Passages per minute (entries blue, exits orange).</p>"
        h += lineSVG(
            series: [(r.entriesPerMinute, "#1f77b4"), (r.exitsPerMinute, "#ff7f0e")], width: 1000, height: 220,
            xLabel: "minutes from 07:00")

        h += "<h2>Decisions by reason</h2>"
        let reasons = r.decisionsByReason.sorted { $0.value > $1.value }
        h += barsSVG(reasons.map { ($0.key.code, $0.value) })

        h += "<h2>Queue length per gate</h2><p class=small>One row per gate; darker is longer "
        h += "(sampled every \(r.sampleNanos / 1_000_000_000) s).</p>"
        h += heatmapSVG(r.queueSamples, entryGates: r.entryGates)

        h += "<h2>Alarms</h2><table><tr><th>kind</th><td>count</td></tr>"
        for k in AlarmKind.allCases { h += "<tr><th>\(k)</th><td>\(r.alarms[k] ?? 0)</td></tr>" }
        h += "</table>"
        if !r.alarmLog.isEmpty {
            h += "<p class=small>First alarms: "
            h += r.alarmLog.prefix(20).map { "\(StationModel.clock($0.at)) gate \($0.gate) \($0.kind)" }
                .joined(separator: "; ")
            h += "</p>"
        }
        h += "</body></html>\n"
        return h
    }

    static func escape(_ s: String) -> String {
        var o = ""
        for ch in s {
            switch ch {
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "&": o += "&amp;"
            case "\"": o += "&quot;"
            default: o.append(ch)
            }
        }
        return o
    }

    static func fmt(_ ms: Double) -> String {
        let v = (ms * 1000).rounded() / 1000
        return String(v)
    }

    /// Log-spaced histogram from 1 µs to 1 s (4 buckets per decade).
    static func histogramSVG(_ name: String, _ hist: LatencyHistogram) -> String {
        let bounds: [Double] = (0...24).map { 1_000 * pow10($0) }
        var counts = Array(repeating: 0.0, count: bounds.count - 1)
        // Rebuild bucket counts from quantiles (the histogram exposes quantiles, not buckets).
        let total = Double(hist.total)
        if total > 0 {
            var prev = 0.0
            for i in 0..<counts.count {
                let f = fraction(hist, below: bounds[i + 1])
                counts[i] = max(0, f - prev) * total
                prev = f
            }
        }
        let w = 320.0, hgt = 120.0, top = counts.max() ?? 1
        var s = "<svg width=\"\(Int(w))\" height=\"\(Int(hgt + 36))\" role=img aria-label=\"\(escape(name))\">"
        s += "<text x=4 y=14 class=small>\(escape(name)): p50 \(fmt(Double(hist.quantile(0.5)) / 1e6)) "
        s += "p99 \(fmt(Double(hist.quantile(0.99)) / 1e6)) max \(fmt(Double(hist.max) / 1e6)) ms</text>"
        let bw = w / Double(counts.count)
        for (i, c) in counts.enumerated() where c > 0 {
            let bh = top > 0 ? (c / top) * (hgt - 10) : 0
            s += "<rect x=\"\(Int(Double(i) * bw))\" y=\"\(Int(hgt + 18 - bh))\" width=\"\(Int(bw) - 1)\" "
            s += "height=\"\(Int(bh))\" fill=\"#4c72b0\"/>"
        }
        s += "<text x=0 y=\(Int(hgt + 32)) class=small>1 µs</text>"
        s += "<text x=\(Int(w / 2) - 20) y=\(Int(hgt + 32)) class=small>1 ms</text>"
        s += "<text x=\(Int(w) - 30) y=\(Int(hgt + 32)) class=small>1 s</text></svg>"
        return s
    }

    static func pow10(_ quarterDecades: Int) -> Double {
        var v = 1.0
        for _ in 0..<quarterDecades { v *= 1.778_279_41 }  // 10^(1/4)
        return v
    }

    /// Share of recorded values below `nanos`, by bisection on the quantile function.
    static func fraction(_ h: LatencyHistogram, below nanos: Double) -> Double {
        if Double(h.max) < nanos { return 1 }
        if Double(h.min) >= nanos { return 0 }
        var lo = 0.0, hi = 1.0
        for _ in 0..<20 {
            let mid = (lo + hi) / 2
            if Double(h.quantile(mid)) < nanos { lo = mid } else { hi = mid }
        }
        return lo
    }

    static func lineSVG(series: [([Int], String)], width: Int, height: Int, xLabel: String) -> String {
        let n = max(series.map(\.0.count).max() ?? 1, 2)
        let top = max(series.flatMap(\.0).max() ?? 1, 1)
        var s = "<svg width=\"\(width)\" height=\"\(height + 30)\">"
        for (values, color) in series where !values.isEmpty {
            let pts = values.enumerated().map { i, v in
                "\(Double(i) * Double(width - 40) / Double(n - 1) + 30),\(Double(height) - Double(v) * Double(height - 20) / Double(top) + 5)"
            }
            s += "<polyline fill=none stroke=\"\(color)\" stroke-width=1.5 points=\"\(pts.joined(separator: " "))\"/>"
        }
        s += "<text x=2 y=14 class=small>\(top)</text><text x=2 y=\(height + 5) class=small>0</text>"
        s += "<text x=\(width / 2 - 40) y=\(height + 25) class=small>\(escape(xLabel)) (0–\(n - 1))</text></svg>"
        return s
    }

    static func barsSVG(_ items: [(String, Int)]) -> String {
        let top = max(items.map(\.1).max() ?? 1, 1)
        let rowH = 18
        var s = "<svg width=\"900\" height=\"\(items.count * rowH + 10)\">"
        for (i, (label, v)) in items.enumerated() {
            let y = i * rowH + 5
            // Square-root scale so rare reasons stay visible next to "ok".
            let w = Int(560 * (Double(v) / Double(top)).squareRoot())
            s += "<text x=4 y=\(y + 13) class=small>\(escape(label))</text>"
            s += "<rect x=200 y=\(y + 2) width=\(max(w, 1)) height=\(rowH - 4) fill=\"#55a868\"/>"
            s += "<text x=\(205 + w) y=\(y + 13) class=small>\(v)</text>"
        }
        return s + "</svg>"
    }

    static func heatmapSVG(_ samples: [[Int]], entryGates: Int) -> String {
        let cols = samples.map(\.count).max() ?? 0
        guard cols > 0 else { return "<p>no samples</p>" }
        let top = max(samples.flatMap { $0 }.max() ?? 1, 1)
        let cw = max(1.0, 900.0 / Double(cols)), rh = 12
        var s = "<svg width=\"\(Int(cw * Double(cols)) + 70)\" height=\"\(samples.count * rh + 20)\">"
        for (g, row) in samples.enumerated() {
            let y = g * rh
            s += "<text x=0 y=\(y + 10) class=small>\(g < entryGates ? "in" : "out") \(g)</text>"
            for (i, v) in row.enumerated() where v > 0 {
                let a = Double(v) / Double(top)
                s +=
                    "<rect x=\"\(Int(60 + Double(i) * cw))\" y=\(y) width=\"\(Int(cw.rounded(.up)))\" height=\(rh - 1) "
                s += "fill=\"#c44e52\" fill-opacity=\"\(fmt(0.1 + 0.9 * a))\"/>"
            }
        }
        s += "<text x=60 y=\(samples.count * rh + 14) class=small>max queue \(top)</text>"
        return s + "</svg>"
    }
}
