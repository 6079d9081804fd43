import FaregateCore
import FaregateRuntime
import FaregateSQLite
import FaregateSimulation
import FaregateStationSimulation
import Foundation
import XCTest

final class GateSimulationTests: XCTestCase {
    func testSeveralGatesDecisionsAddUpAndReachCentralOnce() throws {
        let dir = NSTemporaryDirectory() + "faregate-sim-test-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let central = dir + "/central.sqlite"
        let store = try SQLiteCentralStore.create(at: central)
        try store.insertCards(
            DemoPopulation.centralRecords(0..<2000, seed: 1), wallMillis: 1)
        var options = GateSimulation.Options(journalRoot: dir + "/journals")
        options.gates = 3
        options.readersPerGate = 2
        options.taps = 1500
        options.populationSize = 2000
        options.fsync = false
        let summary = try GateSimulation(options: options) { () throws(CentralStoreError) -> any CentralStore in
            try SQLiteCentralStore(path: central)
        }.run()
        XCTAssertTrue(summary.decisionsAddUp, "\(summary.decisions)")
        XCTAssertEqual(summary.gates.map(\.taps).reduce(0, +), 1500)
        XCTAssertGreaterThan(summary.decisions["ok"] ?? 0, 1000)
        XCTAssertGreaterThan(summary.decisions["unbound_card"] ?? 0, 0)
        let uploaded = try SQLiteCentralStore(path: central).stats().journalRecords
        XCTAssertEqual(uploaded, 1500, "every journal entry reached central state exactly once")
        for g in summary.gates { XCTAssertEqual(g.acknowledged, g.journalLastSequence) }
        for stage in SimulationSummary.stageOrder { XCTAssertNotNil(summary.latencyMicros[stage], stage) }
    }

    func testTapScriptParsesAndNamesTheBadLine() throws {
        let script = try TapScript(
            parsing: """
                # a comment
                0 0 transit-card:1000751000000000001
                250 1 ride-code:42   # trailing comment
                10 0 transit-card:1000751000000000002 removed
                """)
        XCTAssertEqual(script.steps.count, 3)
        XCTAssertEqual(script.steps[1].delayMillis, 250)
        XCTAssertEqual(script.steps[1].card.read.key, CardKey(medium: .rideCode, identifier: 42))
        XCTAssertEqual(script.steps[2].card.faults, [.removedMidRead])
        for (bad, line) in [
            ("0 0 bus-card:1", 1), ("\n\nx 0 ride-code:1", 3), ("0 0 ride-code:1 exploded", 1), ("0 99 ride-code:1", 1),
        ] {
            XCTAssertThrowsError(try TapScript(parsing: bad)) {
                XCTAssertEqual(($0 as? TapScript.ParseError)?.line, line, bad)
            }
        }
    }
}
