import FaregateCore
import FaregateRuntime
import FaregateSQLite
import FaregateSimulation
import Foundation
import XCTest

final class StationSimulationTests: XCTestCase {
    func run(seed: UInt64, in dir: String) throws -> StationReport {
        let central = dir + "/central-\(seed).sqlite"
        if !FileManager.default.fileExists(atPath: central) {
            try SQLiteCentralStore.create(at: central).insertCards(
                DemoPopulation.generate(count: 3000, seed: 1).map {
                    .init(
                        key: $0.key, cardType: $0.cardType, blacklisted: $0.blacklisted, returned: $0.returned,
                        identityHash: $0.identity.map { DemoPopulation.identityHash($0, seed: 1) }, health: $0.health)
                }, wallMillis: 1)
        }
        var o = StationSimulation.Options(journalRoot: dir + "/journals-\(seed)-\(UUID().uuidString.prefix(6))")
        o.entryGates = 3
        o.exitGates = 2
        o.riders = 3000
        o.seed = seed
        o.populationSize = 3000
        o.fsync = false
        o.tailgateChance = 0.02
        o.faults = [.readerUnplugged(gate: 1, from: 3000, to: 4200), .centralDown(from: 3600, to: 5400)]
        return try StationSimulation(options: o) { () throws(CentralStoreError) -> any CentralStore in
            try SQLiteCentralStore(path: central)
        }.run()
    }

    func testAStationRunAddsUpAgainstItsJournalsAndSurvivesItsFaults() throws {
        let dir = NSTemporaryDirectory() + "faregate-station-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let report = try run(seed: 5, in: dir)
        XCTAssertEqual(report.taps + report.turnedAway, 3000)
        XCTAssertTrue(report.totalsAgree, "\(report.decisions) vs journals \(report.journalDecisions)")
        XCTAssertGreaterThan(report.alarms.count, 0)
        XCTAssertEqual(report.faultLog.count, 4)
        let unplugged = try XCTUnwrap(report.gates.first { $0.id == "IN-02" })
        XCTAssertEqual(unplugged.readerLosses, 1)
        XCTAssertTrue(report.gates.allSatisfy { $0.syncFailures > 0 }, "every gate saw the outage")
        XCTAssertTrue(report.gates.allSatisfy { $0.acknowledged == $0.journalLastSequence }, "and caught up afterwards")
        XCTAssertTrue(report.queueSamples.contains { $0[1] == -1 }, "the unplugged gate shows as out of service")
        XCTAssertEqual(
            report.passages[0].counts.reduce(0, +) + report.passages[1].counts.reduce(0, +), report.outcomes["open"])
        let html = report.html
        XCTAssertTrue(html.hasPrefix("<!doctype html>") && html.contains("<svg") && html.hasSuffix("</html>\n"))
        XCTAssertTrue(html.contains("agree with these totals"))

        let again = try run(seed: 5, in: dir)
        XCTAssertEqual(again.decisions, report.decisions, "the same seed gives the same station")
        XCTAssertEqual(again.alarms.map(\.time), report.alarms.map(\.time))
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
