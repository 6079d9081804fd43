import FaregateCore
import FaregateRuntime
import FaregateSQLite
import FaregateSimulation
import FaregateStationSimulation
import Foundation
import XCTest

final class StationSimulationTests: XCTestCase {
    func run(seed: UInt64, in dir: String, configure: (inout StationSimulation.Options) -> Void = { _ in }) throws
        -> StationReport
    {
        let central = dir + "/central-\(seed).sqlite"
        if !FileManager.default.fileExists(atPath: central) {
            try SQLiteCentralStore.create(at: central).insertCards(
                DemoPopulation.centralRecords(0..<3000, seed: 1), wallMillis: 1)
        }
        var o = StationSimulation.Options(journalRoot: dir + "/journals-\(seed)-\(UUID().uuidString.prefix(6))")
        o.entryGates = 3
        o.exitGates = 2
        o.riders = 3000
        o.seed = seed
        o.populationSize = 3000
        o.fsync = false
        o.tailgateChance = 0.02
        o.childChance = 0.04
        o.stepBackChance = 0.01
        o.reverseChance = 0.01
        o.faults = [.readerUnplugged(gate: 1, from: 3000, to: 4200), .centralDown(from: 3600, to: 5400)]
        configure(&o)
        return try StationSimulation(options: o) { () throws(CentralStoreError) -> any CentralStore in
            try SQLiteCentralStore(path: central)
        }.run()
    }

    func testAStationRunAddsUpAgainstItsJournalsAndSurvivesItsFaults() throws {
        let dir = NSTemporaryDirectory() + "faregate-station-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let report = try run(seed: 5, in: dir)
        XCTAssertEqual(report.taps + report.followers + report.turnedAway, 3000, "every rider is accounted for")
        XCTAssertGreaterThan(report.followers + report.evaders, 0)
        XCTAssertTrue(report.totalsAgree, "\(report.decisions) vs journals \(report.journalDecisions)")
        XCTAssertEqual(report.journalDecisions.values.reduce(0, +), report.taps, "one journal entry per tap")
        XCTAssertEqual(report.outcomes.values.reduce(0, +), report.taps)
        XCTAssertEqual(report.faultLog.count, 4)
        let unplugged = try XCTUnwrap(report.gates.first { $0.id == "IN-02" })
        XCTAssertEqual(unplugged.readerLosses, 1)
        XCTAssertTrue(report.gates.allSatisfy { $0.syncFailures > 0 }, "every gate saw the outage")
        XCTAssertTrue(report.gates.allSatisfy { $0.acknowledged == $0.journalLastSequence }, "and caught up afterwards")
        XCTAssertTrue(report.queueSamples.contains { $0[1] == -1 }, "the unplugged gate shows as out of service")
        // Passages are what the controllers counted: every opening is used by one rider (or
        // lapses when the rider steps back), a child's adult walks on the child's tap.
        XCTAssertEqual(report.bodies["authorized"], (report.outcomes["open"] ?? 0) - report.stepBacks)
        // A close tailgater slips through the open flaps; an ordinary one meets closing flaps.
        XCTAssertGreaterThan(report.bodies["tailgater"] ?? 0, 0)
        XCTAssertLessThanOrEqual(report.bodies["tailgater"] ?? 0, report.followers + report.evaders)
        XCTAssertEqual(report.cancelledOpenings, report.stepBacks)
        XCTAssertEqual(report.bodies["childCompanion"], report.childPairs, "a child in front passes on one tap")
        XCTAssertGreaterThan(report.childPairs, 0)
        XCTAssertEqual(
            report.passages[0].counts.reduce(0, +) + report.passages[1].counts.reduce(0, +),
            (report.bodies["authorized"] ?? 0) + (report.bodies["childCompanion"] ?? 0))
        // Alarms come from the controllers' sensors: every follower is caught, close or ordinary.
        let byKind = report.alarmsByKind
        XCTAssertEqual(
            (byKind["close_tailgating"] ?? 0) + (byKind["tailgating"] ?? 0) + (byKind["entered_without_tap"] ?? 0),
            report.followers + report.evaders, "\(byKind)")
        XCTAssertGreaterThan(byKind["close_tailgating"] ?? 0, 0)
        XCTAssertGreaterThan(byKind["tailgating"] ?? 0, 0)
        XCTAssertGreaterThan(report.reverseIntruders, 0)
        XCTAssertEqual(byKind["reverse_intrusion"], report.reverseIntruders, "every reverse intruder is caught")
        XCTAssertTrue(report.alarms.allSatisfy { $0.kind != "reverse_intrusion" || $0.gate.hasPrefix("OUT-") })
        XCTAssertGreaterThan(report.passageSeconds.p50, 1.0, "walking through takes the script's time")
        XCTAssertTrue(report.text.contains("over the 300 ms budget"), report.text)
        let html = report.html
        XCTAssertTrue(html.hasPrefix("<!doctype html>") && html.contains("<svg") && html.hasSuffix("</html>\n"))
        XCTAssertTrue(html.contains("agree with these totals"))
        XCTAssertTrue(html.contains("slower than the 300 ms budget"))
        XCTAssertFalse(html.contains("<script"))
        XCTAssertFalse(html.contains("http://") || html.contains("https://"), "no external resources")
        for kind in AlarmKind.allCases { XCTAssertTrue(html.contains(kind.description)) }
        for stage in ["lookup", "journal", "total"] { XCTAssertTrue(html.contains("<h3>\(stage)</h3>")) }

        let again = try run(seed: 5, in: dir)
        XCTAssertEqual(again.decisions, report.decisions, "the same seed gives the same station")
        XCTAssertEqual(again.alarms.map(\.kind), report.alarms.map(\.kind))
        XCTAssertEqual(again.followers, report.followers)
        XCTAssertEqual(again.queueSamples, report.queueSamples)
        let other = try run(seed: 6, in: dir)
        XCTAssertNotEqual(other.queueSamples, report.queueSamples, "another seed, another station")
    }

    func testArrivalsFollowTheMorningPeak() {
        let p = ArrivalProfile.morningPeak
        let a = p.arrivals(count: 20_000, seed: 3)
        XCTAssertEqual(a.count, 20_000)
        XCTAssertEqual(a, a.sorted())
        XCTAssertTrue(a.allSatisfy { $0 >= 0 && $0 <= p.windowSeconds })
        let peakHour = a.filter { abs($0 - p.peakAt * p.windowSeconds) < 1800 }.count
        let firstHour = a.filter { $0 < 3600 }.count
        XCTAssertGreaterThan(peakHour, 2 * firstHour, "the hour around the peak is busier than the first")
        XCTAssertEqual(p.arrivals(count: 100, seed: 3), p.arrivals(count: 100, seed: 3))
    }
}

/// The acceptance run: 20 gates (12 entry, 8 exit), 50,000 riders over the morning peak,
/// both faults, every tap decided by a real `GateRuntime` and walked through a real
/// `BarrierController`; the report's totals must agree with the journal files read back from disk.
/// Journal fsync is off here to keep CI time reasonable on shared runners (everything else, the
/// threads, the ring, the journal files and the SQLite central store, is as in production);
/// `farectl simulate station` runs with fsync on. Set FAREGATE_STATION_REPORT=/path.html to keep
/// the HTML report.
final class StationSimulationAcceptanceTests: XCTestCase {
    func testTwentyGatesFiftyThousandRidersAgreeWithTheirJournals() throws {
        let dir = NSTemporaryDirectory() + "faregate-station-full-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let central = dir + "/central.sqlite"
        try SQLiteCentralStore.create(at: central).insertCards(
            DemoPopulation.centralRecords(0..<20_000, seed: 1), wallMillis: 1)
        var o = StationSimulation.Options(journalRoot: dir + "/journals")
        o.entryGates = 12
        o.exitGates = 8
        o.riders = 50_000
        o.seed = 2022
        o.populationSize = 20_000
        o.fsync = false  // CI time; see the comment above
        o.faults = [.readerUnplugged(gate: 2, from: 1800, to: 2700), .centralDown(from: 3600, to: 4800)]
        let report = try StationSimulation(options: o) { () throws(CentralStoreError) -> any CentralStore in
            try SQLiteCentralStore(path: central)
        }.run()
        XCTAssertEqual(report.gates.count, 20)
        XCTAssertEqual(report.taps + report.followers + report.turnedAway, 50_000)
        XCTAssertEqual(report.unanswered, 0)
        XCTAssertEqual(report.journalDecisions, report.decisions)
        XCTAssertEqual(report.journalDecisions.values.reduce(0, +), report.taps)
        XCTAssertTrue(report.totalsAgree)
        XCTAssertEqual(report.gates.map(\.served).reduce(0, +), report.taps)
        XCTAssertTrue(report.gates.allSatisfy { $0.acknowledged == $0.journalLastSequence }, "every journal uploaded")
        XCTAssertGreaterThan(report.alarms.count, 0)
        let html = report.html
        XCTAssertTrue(html.contains("<tr><td>riders</td><td>50000</td></tr>"))
        XCTAssertTrue(html.contains("<tr><td>taps answered</td><td>\(report.taps)</td></tr>"))
        XCTAssertTrue(html.contains("agree with these totals"))
        if let path = ProcessInfo.processInfo.environment["FAREGATE_STATION_REPORT"] {
            try html.write(toFile: path, atomically: true, encoding: .utf8)
            print(report.text)
        }
    }
}
