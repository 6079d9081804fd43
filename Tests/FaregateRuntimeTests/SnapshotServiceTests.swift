import FaregateCore
import FaregateRuntime
import FaregateSQLite
import FaregateSimulation
import Foundation
import XCTest

/// The local snapshot: a restart serves from it while central state is unreachable (its statuses
/// are in service; with no signed word on how old they are, the stale rule decides), and a bad
/// snapshot handed to a running gate is refused with the table in service untouched.
final class SnapshotServiceTests: XCTestCase {
    var dir: String!
    let green = CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001)!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-snap-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func gate(central: String, clock: ManualClock, collector: ReportCollector) throws -> (
        GateRuntime, SimulatedCardReader
    ) {
        var options = GateRuntime.Options(gateID: "SNAP-1")
        options.snapshotPath = dir + "/table.snapshot"
        options.sync.intervalSeconds = 3600
        let reader = SimulatedCardReader(name: "r0", index: 0, clock: clock)
        let runtime = GateRuntime(
            options: options, journal: try FileJournal(directory: dir + "/journal"), readers: [reader],
            barrier: SimulatedBarrier(), clock: clock,
            storeFactory: { () throws(CentralStoreError) -> any CentralStore in try SQLiteCentralStore(path: central) },
            observer: { collector.record($0) })
        return (runtime, reader)
    }

    func testARestartWithCentralStateDownServesFromTheLocalSnapshot() throws {
        let central = dir + "/central.sqlite"
        try SQLiteCentralStore.create(at: central).insertCards(
            [.init(key: green, cardType: .normal, identityHash: [UInt8](repeating: 1, count: 32), health: .green)],
            wallMillis: 1)
        let clock = ManualClock()
        do {
            let collector = ReportCollector()
            let (g, _) = try gate(central: central, clock: clock, collector: collector)
            g.start()
            g.stop()
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/table.snapshot"))
        try FileManager.default.removeItem(atPath: central)  // central state unreachable now

        clock.advance(seconds: 600)
        let collector = ReportCollector()
        let (g, reader) = try gate(central: central, clock: clock, collector: collector)
        g.start()
        XCTAssertNotNil(g.lastSyncFailure)
        XCTAssertEqual(g.table.current().table?.status(of: green)?.health, .green, "the local table is in service")
        XCTAssertNil(g.table.current().verifiedAt, "of unknown age: nothing beside the file vouches for it")
        reader.present(.transit(green.identifier))
        collector.waitFor(1)
        g.stop()
        XCTAssertEqual(collector.decisions, [.staff(.staleData)], "until a sync confirms it")
    }

    func testABadSnapshotHandedToARunningGateChangesNothing() throws {
        let central = dir + "/central.sqlite"
        try SQLiteCentralStore.create(at: central).insertCards(
            [.init(key: green, cardType: .normal, identityHash: [UInt8](repeating: 1, count: 32), health: .green)],
            wallMillis: 1)
        let clock = ManualClock()
        let collector = ReportCollector()
        let (g, reader) = try gate(central: central, clock: clock, collector: collector)
        g.start()
        defer { g.stop() }
        let control = GateControl(runtime: g, presenter: SimulatedTapPresenter(readers: [reader]), clock: clock)
        let good = try Data(contentsOf: URL(fileURLWithPath: dir + "/table.snapshot"))

        var corrupt = good
        corrupt[corrupt.count - 3] ^= 0xFF
        FileManager.default.createFile(atPath: dir + "/corrupt.snapshot", contents: corrupt)
        FileManager.default.createFile(atPath: dir + "/truncated.snapshot", contents: good.prefix(good.count / 2))
        FileManager.default.createFile(atPath: dir + "/garbage.snapshot", contents: Data("not a snapshot".utf8))
        for name in ["corrupt", "truncated", "garbage", "missing"] {
            let answer = control.handle(.loadSnapshot(path: dir + "/\(name).snapshot"))
            XCTAssertEqual(answer.succeeded, false, name)
            let message = answer.failure?.message ?? ""
            XCTAssertTrue(message.contains("\(name).snapshot") && message.contains("stays"), message)
        }
        XCTAssertEqual(g.table.current().table?.status(of: green)?.health, .green, "the table in service stays")
        reader.present(.transit(green.identifier))
        collector.waitFor(1)
        XCTAssertEqual(collector.decisions, [.open(.ok)])
        XCTAssertEqual(control.handle(.loadSnapshot(path: dir + "/table.snapshot")).succeeded, true)
    }
}
