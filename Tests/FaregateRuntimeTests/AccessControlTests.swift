import FaregateCore
import FaregateRuntime
import FaregateSQLite
import FaregateSimulation
import Foundation
import XCTest

/// Entry/exit rules applied by a running gate: the same card entering again within the
/// anti-passback window is refused; an exit clears the entry; an exit with no entry goes to staff.
final class AccessControlTests: XCTestCase {
    func testAntiPassbackAndExitWithoutEntryOnARunningGate() throws {
        let dir = NSTemporaryDirectory() + "faregate-access-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let a = CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001)!
        let b = CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_002)!
        let central = dir + "/central.sqlite"
        try SQLiteCentralStore.create(at: central).insertCards(
            [a, b].enumerated().map {
                .init(
                    key: $1, cardType: .normal, identityHash: [UInt8](repeating: UInt8($0 + 1), count: 32),
                    health: .green)
            }, wallMillis: 1)
        let clock = ManualClock()
        let entry = SimulatedCardReader(name: "in", index: 0, clock: clock)
        let exit = SimulatedCardReader(name: "out", index: 1, clock: clock)
        var options = GateRuntime.Options(gateID: "ACCESS-1")
        options.sync.intervalSeconds = 3600
        options.access = AccessRules(
            antiPassbackSeconds: 120, passback: .deny, requireEntryRecord: true, exitWithoutEntry: .staff)
        options.readerEnds = [.unpaid, .paid]
        let collector = ReportCollector()
        let gate = GateRuntime(
            options: options, journal: try FileJournal(directory: dir + "/journal"), readers: [entry, exit],
            barrier: SimulatedBarrier(), clock: clock,
            storeFactory: { () throws(CentralStoreError) -> any CentralStore in try SQLiteCentralStore(path: central) },
            observer: { collector.record($0) })
        gate.start()
        defer { gate.stop() }
        func tap(_ reader: SimulatedCardReader, _ key: CardKey) -> Decision? {
            reader.present(.transit(key.identifier))
            collector.waitFor(1)
            return collector.decisions.last
        }
        XCTAssertEqual(tap(entry, a), .open(.ok))
        XCTAssertEqual(tap(entry, a), .deny(.passback), "the same card entering again at once")
        clock.advance(seconds: 60)
        XCTAssertEqual(tap(entry, a), .deny(.passback), "still inside the 2-minute window")
        XCTAssertEqual(tap(exit, a), .open(.ok))
        XCTAssertEqual(tap(entry, a), .open(.ok), "the exit cleared the entry")
        XCTAssertEqual(tap(exit, b), .staff(.noEntryRecord), "an exit without an entry goes to staff")
        clock.advance(seconds: 121)
        XCTAssertEqual(tap(entry, b), .open(.ok))
    }
}
