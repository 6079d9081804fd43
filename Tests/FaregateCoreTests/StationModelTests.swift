import FaregateCore
import FaregateSimulation
import XCTest

final class StationModelTests: XCTestCase {
    static func small(seed: UInt64 = 7) -> StationModel.Configuration {
        var c = StationModel.Configuration()
        c.entryGates = 3
        c.exitGates = 2
        c.riders = 3000
        c.peakWindowNanos = 20 * 60 * 1_000_000_000
        c.seed = seed
        c.unpluggedGate = (0, 300 * 1_000_000_000, 600 * 1_000_000_000)
        c.centralDown = (400 * 1_000_000_000, 1000 * 1_000_000_000)
        c.tailgatePerMille = 30
        c.childPerMille = 40
        return c
    }

    func testTotalsAgree() {
        let r = StationModel(Self.small()).run()
        let opens = r.decisionsByOutcome[.open] ?? 0
        XCTAssertEqual(r.riders, 3000)
        XCTAssertEqual(r.taps, r.decisionsByOutcome.values.reduce(0, +))
        XCTAssertEqual(r.taps, r.decisionsByReason.values.reduce(0, +))
        XCTAssertEqual(r.riders, r.taps + r.followers)
        XCTAssertLessThanOrEqual(r.bodies[.tailgater] ?? 0, r.followers)
        XCTAssertEqual(
            r.followers,
            (r.alarms[.closeTailgating] ?? 0) + (r.alarms[.tailgating] ?? 0) + (r.alarms[.enteredWithoutTap] ?? 0),
            "every follower is caught")
        XCTAssertEqual(r.bodies[.authorized], opens, "every opening is used by exactly one rider")
        XCTAssertEqual(
            r.entriesPerMinute.reduce(0, +) + r.exitsPerMinute.reduce(0, +),
            (r.bodies[.authorized] ?? 0) + (r.bodies[.childCompanion] ?? 0))
        XCTAssertGreaterThan(r.bodies[.childCompanion] ?? 0, 0)
        XCTAssertGreaterThan(r.bodies[.tailgater] ?? 0, 0)
        XCTAssertGreaterThan((r.alarms[.closeTailgating] ?? 0) + (r.alarms[.tailgating] ?? 0), 0)
        XCTAssertGreaterThan(r.decisionsByReason[.staleData] ?? 0, 0, "the central outage makes data stale")
        XCTAssertEqual(r.queueSamples.count, 5)
        XCTAssertEqual(r.stages.count, 6)
        XCTAssertEqual(r.stages.last?.histogram.total, UInt64(r.taps))
    }

    func testDeterministicFromSeed() {
        let a = StationModel(Self.small(seed: 3)).run()
        let b = StationModel(Self.small(seed: 3)).run()
        let c = StationModel(Self.small(seed: 4)).run()
        XCTAssertEqual(a.decisionsByReason, b.decisionsByReason)
        XCTAssertEqual(a.entriesPerMinute, b.entriesPerMinute)
        XCTAssertEqual(a.queueSamples, b.queueSamples)
        XCTAssertEqual(a.alarms, b.alarms)
        XCTAssertNotEqual(a.entriesPerMinute, c.entriesPerMinute)
    }

    func testReportIsSelfContainedAndShowsTotals() throws {
        let r = StationModel(Self.small()).run()
        let html = StationHTMLReport.html(r)
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        XCTAssertFalse(html.contains("<script"))
        XCTAssertFalse(html.contains("http://") || html.contains("https://"), "no external resources")
        XCTAssertTrue(html.contains("<th>riders</th><td>\(r.riders)</td>"))
        XCTAssertTrue(html.contains("<th>taps (journal entries)</th><td>\(r.taps)</td>"))
        for stage in ["select", "read", "queue", "lookup", "decide", "total"] { XCTAssertTrue(html.contains(stage)) }
        for k in AlarmKind.allCases { XCTAssertTrue(html.contains("<th>\(k)</th>")) }
        XCTAssertTrue(html.contains(Reason.ok.code))
        if let path = ProcessInfo.processInfo.environment["FAREGATE_STATION_REPORT"] {
            try html.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }
}

/// The acceptance run: 20 gates, 50,000 riders, default faults; the report's totals agree
/// with the model's decision log. Set FAREGATE_STATION_REPORT=/path.html to keep the report.
final class StationModelFullTests: XCTestCase {
    func testTwentyGatesFiftyThousandRiders() throws {
        var c = StationModel.Configuration()
        c.entryGates = 12
        c.exitGates = 8
        c.riders = 50_000
        c.seed = 2022
        let r = StationModel(c).run()
        XCTAssertEqual(r.riders, 50_000)
        XCTAssertEqual(r.riders, r.taps + r.followers)
        XCTAssertEqual(r.taps, r.decisionsByReason.values.reduce(0, +))
        XCTAssertEqual(r.bodies[.authorized], r.decisionsByOutcome[.open])
        XCTAssertEqual(r.queueSamples.count, 20)
        let html = StationHTMLReport.html(r, title: "faregate: 20 gates, 50,000 riders, seed 2022")
        XCTAssertTrue(html.contains("<th>riders</th><td>50000</td>"))
        XCTAssertTrue(html.contains("<th>taps (journal entries)</th><td>\(r.taps)</td>"))
        if let path = ProcessInfo.processInfo.environment["FAREGATE_STATION_REPORT"] {
            try html.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }
}
