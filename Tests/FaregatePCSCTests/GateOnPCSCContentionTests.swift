import FaregateCore
import FaregatePCSC
import FaregateRuntime
import FaregateSQLite
import FaregateSimulation
import Foundation
import Synchronization
import XCTest

/// The whole gate (GateRuntime on PCSCCardReader, real pcscd + vpcd) while another application
/// keeps an exclusive connection to the reader: the tap is journalled `reader_busy`, the barrier
/// never opens on it, the metrics count it, and the gate reads normally once the holder lets go —
/// without restarting the gate or pcscd.
final class GateOnPCSCContentionTests: XCTestCase {
    static let reader = "Virtual PCD 00 00"
    static let seeds = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "../../seeds/cards")

    var port: UInt16 = 0

    override func setUpWithError() throws {
        port = try vpcdPortOrSkip()
    }

    final class Reports: Sendable {
        let list = Mutex<[GateRuntime.TapReport]>([])
        let signal = DispatchSemaphore(value: 0)
        let logs = Mutex<[String]>([])
    }

    func testExclusiveHolderGivesReaderBusyNeverOpensAndTheGateRecovers() throws {
        let dir = NSTemporaryDirectory() + "faregate-gate-busy-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let (profile, card) = try CardProfile.load(path: Self.seeds.appendingPathComponent("tunion-normal.json").path)
        let key = try XCTUnwrap(CardKey(medium: .transitCard, number: try XCTUnwrap(profile.number)))
        let central = dir + "/central.sqlite"
        try SQLiteCentralStore.create(at: central).insertCards(
            [.init(key: key, cardType: .normal, identityHash: [UInt8](repeating: 7, count: 32), health: .green)],
            wallMillis: 1)

        let clock = SystemClock()
        let reports = Reports()
        let reader = PCSCCardReader(
            configuration: .init(readerName: Self.reader, busyBudgetMillis: 100), clock: clock,
            log: { line in reports.logs.withLock { $0.append(line) } })
        let barrier = SimulatedBarrier()
        var options = GateRuntime.Options(gateID: "PCSC-BUSY")
        options.sync.intervalSeconds = 3600
        let gate = GateRuntime(
            options: options, journal: try FileJournal(directory: dir + "/journal"), readers: [reader],
            barrier: barrier, clock: clock,
            storeFactory: { () throws(CentralStoreError) -> any CentralStore in try SQLiteCentralStore(path: central) },
            observer: { r in
                reports.list.withLock { $0.append(r) }
                reports.signal.signal()
            })
        gate.start()
        defer { gate.stop() }

        /// Presents the card until the gate answered, then takes it away and waits out pcscd's
        /// 400 ms presence poll (real stack: a card back too soon would look like it never left).
        func tap(whileInField: () throws -> Void = {}) throws {
            let inField = VirtualCardTap(card, port: port)
            XCTAssertEqual(reports.signal.wait(timeout: .now() + 15), .success, "the gate answered")
            try whileInField()
            inField.leave()
            usleep(1_000_000)
        }

        // 1. A normal tap opens. Another application connects exclusively while that card is
        //    still in the field and never lets go.
        let other = try PCSCContext()
        var exclusive: PCSCCard?
        try tap { exclusive = try PCSCCard(context: other, reader: Self.reader, mode: .exclusive) }
        // 2. The next card cannot be connected to: reader_busy, barrier stays closed.
        try tap()
        // 3. The holder disconnects; the next tap is read and decided as usual.
        try XCTUnwrap(exclusive).close()
        usleep(1_000_000)
        try tap()

        let entries = reports.list.withLock { $0.map(\.entry) }
        XCTAssertEqual(entries.map(\.decision), [.open(.ok), .deny(.readerBusy), .open(.ok)])
        XCTAssertEqual(entries.map(\.kind), [.decision, .readFailed, .decision])
        XCTAssertEqual(entries[1].key, CardKey(rawValue: 0), "the busy tap was never read")
        XCTAssertEqual(
            barrier.takeDecisions(), [.open(.ok), .deny(.readerBusy), .open(.ok)], "the busy tap never opens")
        let metrics = GateMetrics.prometheus(gate, clock: clock)
        XCTAssertTrue(
            metrics.contains("faregate_decisions_total{gate=\"PCSC-BUSY\",outcome=\"deny\",reason=\"reader_busy\"} 1"),
            metrics)
        XCTAssertTrue(
            reports.logs.withLock { $0.contains { $0.contains("reader '\(Self.reader)' busy") } },
            "a log line names the reader")
    }
}
