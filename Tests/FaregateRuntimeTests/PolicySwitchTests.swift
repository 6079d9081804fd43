import FaregateCore
import FaregateRuntime
import FaregateSQLite
import FaregateSimulation
import Foundation
import XCTest

/// Switching the rules of a running gate: new policy files or a pinned era take effect from the
/// next tap, without a restart; a broken policy file changes nothing.
final class PolicySwitchTests: XCTestCase {
    var dir: String!
    let seeds = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "../../seeds/policies"
    ).path

    override func setUpWithError() throws {
        dir = "/tmp/fg-policy-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir + "/policies", withIntermediateDirectories: true)
        for f in try FileManager.default.contentsOfDirectory(atPath: seeds) {
            try FileManager.default.copyItem(atPath: seeds + "/" + f, toPath: dir + "/policies/" + f)
        }
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testSwitchingTheEraOfARunningGateWithoutARestart() throws {
        let clock = ManualClock()
        let unbound = CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_009)!
        let central = dir + "/central.sqlite"
        try SQLiteCentralStore.create(at: central).insertCards(
            [.init(key: unbound, cardType: .normal, identityHash: nil, health: .unknown)], wallMillis: 1)
        let book = try PolicyFiles.loadBook(directory: dir + "/policies")
        var options = GateRuntime.Options(gateID: "ERA-1")
        options.engine = try book.engine(station: nil, line: nil, pinnedEra: "2022-health-check")
        options.sync.intervalSeconds = 3600
        let reader = SimulatedCardReader(name: "r0", index: 0, clock: clock)
        let collector = ReportCollector()
        let runtime = GateRuntime(
            options: options, journal: try FileJournal(directory: dir + "/journal"), readers: [reader],
            barrier: SimulatedBarrier(), clock: clock,
            storeFactory: { () throws(CentralStoreError) -> any CentralStore in try SQLiteCentralStore(path: central) },
            observer: { collector.record($0) })
        let policies = dir + "/policies"
        let reload: @Sendable (String?) -> Result<String, PolicyError> = { era in
            do throws(PolicyError) {
                let engine = try PolicyFiles.loadBook(directory: policies).engine(
                    station: nil, line: nil, pinnedEra: era)
                runtime.replaceEngine(engine)
                return .success(engine.label)
            } catch {
                return .failure(error)
            }
        }
        let control = GateControl(runtime: runtime, presenter: SimulatedTapPresenter(readers: [reader]), clock: clock, reloadPolicy: reload)
        runtime.start()
        defer { runtime.stop() }

        func tap() -> JournalEntry? { control.handle(.tap(card: unbound)).entry }
        XCTAssertEqual(tap()?.decision.reason.code, "unbound_card", "2022: an unbound card is turned away")

        XCTAssertEqual(control.handle(.policyReload(era: "2023-anonymous-stations")).succeeded, true)
        let after = tap()
        XCTAssertEqual(after?.decision.outcome, .open, "2023: no health check at the gate")
        XCTAssertEqual(after?.sequence, 2, "the journal goes on")

        // A broken policy file is refused with its file and field, and the 2023 rules stay.
        let path = dir + "/policies/2023-anonymous-stations.json"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try text.replacingOccurrences(
            of: "\"effective_from\": \"2023-01-01\"", with: "\"effective_from\": \"2023-13-01\""
        )
        .write(toFile: path, atomically: true, encoding: .utf8)
        let refused = control.handle(.policyReload(era: "2022-health-check"))
        XCTAssertEqual(refused.succeeded, false)
        let message = refused.failure?.message ?? ""
        XCTAssertTrue(message.contains("2023-anonymous-stations.json") && message.contains("effective_from"), message)
        XCTAssertEqual(tap()?.decision.outcome, .open, "the previous rules are still in force")
    }
}
