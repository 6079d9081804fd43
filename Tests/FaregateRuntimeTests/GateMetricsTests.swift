import FaregateCore
import FaregateRuntime
import FaregateSimulation
import Foundation
import XCTest

/// The metrics text is valid Prometheus exposition: every family has one HELP and one TYPE line
/// before its samples, no series appears twice, every value is a number; and it says what the
/// gate did.
final class GateMetricsTests: XCTestCase {
    var dir: String!
    let clock = ManualClock()

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-metrics-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testTheExpositionIsValidAndSaysWhatTheGateDid() throws {
        let journal = try FileJournal(directory: dir + "/journal", fsync: false)
        let readers = (0..<2).map { SimulatedCardReader(name: "sim \"quoted\" \($0)", index: UInt16($0), clock: clock) }
        let barrier = SimulatedBarrier()
        let collector = ReportCollector()
        let gate = GateRuntime(
            options: GateRuntime.Options(gateID: "M-1"), journal: journal, readers: readers, barrier: barrier,
            clock: clock, storeFactory: nil, observer: { collector.record($0) })
        gate.start()
        defer { gate.stop() }
        readers[0].present(.transit(1_000_751_000_000_000_001))  // no table: staff(stale_data)
        collector.waitFor(1)
        barrier.effectiveMode = .closed
        readers[1].present(.transit(1_000_751_000_000_000_001))
        collector.waitFor(1)

        let text = GateMetrics.prometheus(gate, clock: clock)
        let families = try Self.validate(text)
        for name in [
            "faregate_build_info", "faregate_decisions_total", "faregate_reader_up", "faregate_barrier_mode",
            "faregate_last_sync_success_timestamp_seconds", "faregate_tap_latency_seconds",
            "faregate_staff_commands_total",
        ] {
            XCTAssertNotNil(families[name], "\(name) in\n\(text)")
        }
        XCTAssertEqual(families["faregate_tap_latency_seconds"], "summary")
        let lines = Set(text.split(separator: "\n").map(String.init))
        for expected in [
            #"faregate_decisions_total{gate="M-1",outcome="staff",reason="stale_data"} 1"#,
            #"faregate_decisions_total{gate="M-1",outcome="deny",reason="station_closed"} 1"#,
            #"faregate_barrier_mode{gate="M-1",mode="closed"} 1"#,
            #"faregate_barrier_mode{gate="M-1",mode="normal"} 0"#,
            #"faregate_reader_up{gate="M-1",reader="sim \"quoted\" 1",index="1"} 1"#,
            #"faregate_tap_latency_seconds_count{gate="M-1"} 2"#,
            #"faregate_last_sync_success_timestamp_seconds{gate="M-1"} 0"#,
            #"faregate_build_info{gate="M-1",version="\#(BuildInfo.version)",commit="\#(BuildInfo.commit)"} 1"#,
        ] {
            XCTAssertTrue(lines.contains(expected), "\(expected) in\n\(text)")
        }
        XCTAssertTrue(
            lines.contains { $0.hasPrefix(#"faregate_tap_latency_seconds_sum{gate="M-1"} "#) }, "a _sum in\n\(text)")
    }

    /// The checker itself refuses what it must (so the test above cannot pass by accident).
    func testTheCheckerRefusesInvalidExpositions() {
        let bad = [
            "x 1\n",  // no HELP/TYPE
            "# HELP x a\n# TYPE x gauge\nx 1\n# HELP x a\n# TYPE x gauge\nx 2\n",  // family twice
            "# HELP x a\n# TYPE x gauge\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n",  // series twice
            "# HELP x a\n# TYPE x gauge\nx one\n",  // not a number
            "# HELP x a\n# TYPE x counter\ny 1\n",  // sample of another family
            "# HELP x a\n# TYPE x gauge\nx{a=1} 1\n",  // unquoted label
            "# HELP x a\n# TYPE x histogram_thing\nx 1\n",  // unknown type
        ]
        for text in bad { XCTAssertThrowsError(try Self.validate(text), text) }
        XCTAssertNoThrow(try Self.validate("# HELP x a\n# TYPE x summary\nx{quantile=\"0.5\"} 1\nx_sum 2\nx_count 3\n"))
    }

    struct Invalid: Error, CustomStringConvertible { var description: String }

    /// Checks `text` against the text exposition format's rules that matter here; returns each
    /// family's type.
    static func validate(_ text: String) throws -> [String: String] {
        var types: [String: String] = [:]
        var helped: Set<String> = []
        var series: Set<String> = []
        var current: String?
        guard text.hasSuffix("\n") else { throw Invalid(description: "no final newline") }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            if line.hasPrefix("# HELP ") {
                let name = String(line.dropFirst(7).prefix { $0 != " " })
                guard helped.insert(name).inserted, types[name] == nil else {
                    throw Invalid(description: "second HELP for \(name)")
                }
                current = name
                continue
            }
            if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ")
                guard parts.count == 2, helped.contains(String(parts[0])), types[String(parts[0])] == nil,
                    ["counter", "gauge", "summary", "histogram", "untyped"].contains(parts[1])
                else { throw Invalid(description: "bad TYPE line: \(line)") }
                types[String(parts[0])] = String(parts[1])
                continue
            }
            guard let family = current, let type = types[family] else {
                throw Invalid(description: "sample before HELP/TYPE: \(line)")
            }
            guard let space = line.lastIndex(of: " "), Double(line[line.index(after: space)...]) != nil else {
                throw Invalid(description: "no numeric value: \(line)")
            }
            let key = line[..<space]
            let name = String(key.prefix { $0 != "{" })
            let allowed = type == "summary" ? [family, family + "_sum", family + "_count"] : [family]
            guard allowed.contains(name) else { throw Invalid(description: "\(name) under family \(family)") }
            if key.count > name.count {
                let labels = key.dropFirst(name.count)
                guard labels.hasPrefix("{"), labels.hasSuffix("}"),
                    labels.range(of: #"^\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\}$"#, options: .regularExpression)
                        != nil
                else { throw Invalid(description: "bad labels: \(line)") }
            }
            guard series.insert(String(key)).inserted else { throw Invalid(description: "series twice: \(key)") }
        }
        return types
    }
}
