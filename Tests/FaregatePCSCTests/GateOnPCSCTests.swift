import FaregateCore
import FaregatePCSC
import FaregateRuntime
import FaregateSQLite
import FaregateSimulation
import FaregateVirtualCard
import Foundation
import Synchronization
import XCTest

/// The whole gate on the real PC/SC stack: virtual cards through pcscd + vpcd are read by
/// `PCSCCardReader`, decided, journalled with their stage timings and uploaded; faults never
/// open the barrier.
final class GateOnPCSCTests: XCTestCase {
    static let seeds = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "../../seeds/cards")

    override func setUpWithError() throws {
        _ = try vpcdPortOrSkip()
    }

    final class Reports: Sendable {
        let list = Mutex<[GateRuntime.TapReport]>([])
        let signal = DispatchSemaphore(value: 0)
    }

    func testVirtualCardsAreDecidedJournalledAndUploaded() throws {
        let dir = NSTemporaryDirectory() + "faregate-gate-pcsc-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let (normalProfile, normal) = try CardProfile.load(
            path: Self.seeds.appendingPathComponent("tunion-normal.json").path)
        let (_, expired) = try CardProfile.load(path: Self.seeds.appendingPathComponent("tunion-expired.json").path)
        let key = try XCTUnwrap(CardKey(medium: .transitCard, number: try XCTUnwrap(normalProfile.number)))
        let central = dir + "/central.sqlite"
        try SQLiteCentralStore.create(at: central).insertCards(
            [.init(key: key, cardType: .normal, identityHash: [UInt8](repeating: 4, count: 32), health: .green)],
            wallMillis: 1)

        let clock = SystemClock()
        let reader = PCSCCardReader(
            configuration: .init(
                readerName: ProcessInfo.processInfo.environment["FAREGATE_PCSC_READER"] ?? "Virtual PCD"),
            clock: clock)
        let reports = Reports()
        let barrier = SimulatedBarrier()
        var options = GateRuntime.Options(gateID: "PCSC-GATE")
        options.sync.intervalSeconds = 3600
        let gate = GateRuntime(
            options: options, journal: try FileJournal(directory: dir + "/journal"), readers: [reader],
            barrier: barrier,
            clock: clock,
            storeFactory: { () throws(CentralStoreError) -> any CentralStore in try SQLiteCentralStore(path: central) },
            observer: { r in
                reports.list.withLock { $0.append(r) }
                reports.signal.signal()
            })
        gate.start()

        let emulator = VirtualCardEmulator(port: VirtualCardEmulator.environmentPort)
        /// Holds `card` in the field until the gate answered, then waits out pcscd's 400 ms poll.
        func tap(_ compiled: CompiledCard, faults: [CardFault] = []) throws {
            let answered = Atomic<Bool>(false)
            let left = DispatchSemaphore(value: 0)
            Thread {
                var card = SimulatedSmartCard(card: compiled, faults: faults)
                _ = try? emulator.tap(&card, holdMillis: 10_000) { answered.load(ordering: .acquiring) }
                left.signal()
            }.start()
            XCTAssertEqual(reports.signal.wait(timeout: .now() + 15), .success, "the gate answered")
            answered.store(true, ordering: .releasing)
            XCTAssertEqual(left.wait(timeout: .now() + 15), .success)
            usleep(1_000_000)  // real pcscd: a card re-entering within its poll would look like it never left
        }
        try tap(normal)
        try tap(expired)
        try tap(normal, faults: [.removeAfter(2)])
        try tap(normal, faults: [.truncate(apdu: 3)])
        gate.stop()

        let entries = reports.list.withLock { $0.map(\.entry) }
        XCTAssertEqual(entries.map(\.decision), [.open(.ok), .deny(.expired), .deny(.cardRemoved), .deny(.readError)])
        XCTAssertEqual(entries.map(\.kind), [.decision, .decision, .aborted, .readFailed])
        XCTAssertEqual(entries[0].key, key)
        XCTAssertEqual(
            barrier.takeDecisions().filter { if case .open = $0 { true } else { false } }.count, 1, "faults never open")
        // Stage timings from the real reader: the read itself takes time on the real stack.
        XCTAssertGreaterThan(entries[0].timings.select + entries[0].timings.read, 0)
        let uploaded = try SQLiteCentralStore(path: central).journal(gate: "PCSC-GATE")
        XCTAssertEqual(uploaded, entries, "the journal, stage timings included, reached central state")
    }
}
