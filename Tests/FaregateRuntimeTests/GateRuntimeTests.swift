import Dispatch
import FaregateCore
import FaregateRuntime
import FaregateSQLite
import FaregateSimulation
import Foundation
import Synchronization
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Collects the gate's tap reports and lets a test wait for them without sleeping.
final class ReportCollector: Sendable {
    let reports = Mutex<[GateRuntime.TapReport]>([])
    let signal = DispatchSemaphore(value: 0)
    /// When set, the decision thread blocks in the observer until the test releases it.
    let gate = Mutex<DispatchSemaphore?>(nil)

    func record(_ r: GateRuntime.TapReport) {
        reports.withLock { $0.append(r) }
        signal.signal()
        if let g = gate.withLock({ $0 }) { g.wait() }
    }

    func waitFor(_ n: Int, file: StaticString = #filePath, line: UInt = #line) {
        for i in 0..<n where signal.wait(timeout: .now() + 20) == .timedOut {
            XCTFail("only \(i) of \(n) taps were answered", file: file, line: line)
            return
        }
    }

    var decisions: [Decision] { reports.withLock { $0.map(\.entry.decision) } }
}

final class GateRuntimeTests: XCTestCase {
    var dir: String!
    let clock = ManualClock()
    let green = CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001)!
    let unbound = CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_002)!
    let red = CardKey(medium: .rideCode, identifier: 77)!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-runtime-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func makeStore(at path: String) throws {
        let store = try SQLiteCentralStore.create(at: path)
        try store.insertCards(
            [
                .init(key: green, cardType: .normal, identityHash: [UInt8](repeating: 1, count: 32), health: .green),
                .init(key: unbound, cardType: .normal, identityHash: nil, health: .unknown),
                .init(key: red, cardType: .unspecified, identityHash: [UInt8](repeating: 2, count: 32), health: .red),
            ], wallMillis: 1)
    }

    func makeGate(
        readers: Int = 1, ring: Int = 64, centralPath: String?, collector: ReportCollector,
        barrier: SimulatedBarrier = SimulatedBarrier()
    ) throws -> (GateRuntime, [SimulatedCardReader]) {
        let journal = try FileJournal(directory: dir + "/journal")
        let rs = (0..<readers).map { SimulatedCardReader(name: "r\($0)", index: UInt16($0), clock: clock) }
        var options = GateRuntime.Options(gateID: "T-GATE-1")
        options.ringCapacity = ring
        options.sync.intervalSeconds = 3600
        var factory: (@Sendable () throws(CentralStoreError) -> any CentralStore)?
        if let path = centralPath {
            factory = { () throws(CentralStoreError) -> any CentralStore in try SQLiteCentralStore(path: path) }
        }
        let runtime = GateRuntime(
            options: options, journal: journal, readers: rs, barrier: barrier, clock: clock, storeFactory: factory,
            observer: { collector.record($0) })
        return (runtime, rs)
    }

    func testTapsAreDecidedJournalledCommandedAndUploaded() throws {
        let central = dir + "/central.sqlite"
        try makeStore(at: central)
        let collector = ReportCollector()
        let barrier = SimulatedBarrier()
        let (gate, readers) = try makeGate(centralPath: central, collector: collector, barrier: barrier)
        gate.start()
        for card in [SimulatedCard.transit(green.identifier), .transit(unbound.identifier), .medium(red)] {
            readers[0].present(card)
        }
        var pulled = SimulatedCard.transit(green.identifier)
        pulled.faults = [.removedMidRead]
        readers[0].present(pulled)
        collector.waitFor(4)
        gate.stop()

        XCTAssertEqual(
            barrier.takeDecisions(), [.open(.ok), .deny(.unboundCard), .deny(.healthRed), .deny(.cardRemoved)])
        let uploaded = try SQLiteCentralStore(path: central).journal(gate: "T-GATE-1")
        XCTAssertEqual(uploaded.map(\.sequence), [1, 2, 3, 4])
        XCTAssertEqual(uploaded.map(\.kind), [.decision, .decision, .decision, .aborted])
        XCTAssertEqual(gate.journal.acknowledged, 4)
        // Each entry was durable before its barrier command.
        for r in collector.reports.withLock({ $0 }) { XCTAssertLessThanOrEqual(r.journaledAt, r.commandedAt) }
    }

    func testJournalSequenceContinuesAfterARestart() throws {
        let central = dir + "/central.sqlite"
        try makeStore(at: central)
        for round in 0..<3 {
            let collector = ReportCollector()
            let (gate, readers) = try makeGate(centralPath: central, collector: collector)
            gate.start()
            readers[0].present(.transit(green.identifier))
            readers[0].present(.transit(unbound.identifier))
            collector.waitFor(2)
            gate.stop()
            XCTAssertEqual(
                collector.reports.withLock { $0.map(\.entry.sequence) }, [UInt64(2 * round + 1), UInt64(2 * round + 2)])
        }
        XCTAssertEqual(try SQLiteCentralStore(path: central).journal(gate: "T-GATE-1").map(\.sequence), Array(1...6))
    }

    func testMissingCentralStoreSendsTapsToStaffThenCatchesUp() throws {
        let central = dir + "/not-yet.sqlite"
        let collector = ReportCollector()
        let (gate, readers) = try makeGate(centralPath: central, collector: collector)
        gate.start()
        XCTAssertNotNil(gate.lastSyncFailure)
        XCTAssertTrue(gate.lastSyncFailure?.contains("not-yet.sqlite") ?? false, gate.lastSyncFailure ?? "")
        readers[0].present(.transit(green.identifier))
        collector.waitFor(1)
        XCTAssertEqual(collector.decisions, [.staff(.staleData)], "no data yet: nobody is let through unchecked")

        try makeStore(at: central)
        XCTAssertTrue(gate.syncOnce())
        readers[0].present(.transit(green.identifier))
        collector.waitFor(1)
        gate.stop()
        XCTAssertEqual(collector.decisions.last, .open(.ok))
        XCTAssertEqual(
            try SQLiteCentralStore(path: central).journal(gate: "T-GATE-1").count, 2, "the early tap was uploaded too")
        let state = try XCTUnwrap(try SQLiteCentralStore(path: central).gateStates().first { $0.gate == "T-GATE-1" })
        XCTAssertNotNil(state.lastSyncMillis, "central knows when the gate last synced")
        XCTAssertEqual(
            state.dataVersion, try SQLiteCentralStore(path: central).dataVersion(), "and the version it serves")
    }

    func testCorruptCentralFileIsReportedAndTheGateKeepsRunning() throws {
        let central = dir + "/central.sqlite"
        FileManager.default.createFile(atPath: central, contents: Data(repeating: 0x5A, count: 4096))
        let collector = ReportCollector()
        let (gate, readers) = try makeGate(centralPath: central, collector: collector)
        gate.start()
        let failure = try XCTUnwrap(gate.lastSyncFailure)
        XCTAssertTrue(failure.contains("central.sqlite") && failure.contains("corrupt"), failure)
        readers[0].present(.transit(green.identifier))
        collector.waitFor(1)
        gate.stop()
        XCTAssertEqual(collector.decisions, [.staff(.staleData)])
    }

    func testAnOutageKeepsTheLastGoodTableAndTheJournalCatchesUp() throws {
        let central = dir + "/central.sqlite"
        try makeStore(at: central)
        let outage = SimulatedOutage()
        let journal = try FileJournal(directory: dir + "/journal")
        let reader = SimulatedCardReader(name: "r0", index: 0, clock: clock)
        let collector = ReportCollector()
        var options = GateRuntime.Options(gateID: "T-GATE-1")
        options.sync.intervalSeconds = 3600
        let gate = GateRuntime(
            options: options, journal: journal, readers: [reader], barrier: SimulatedBarrier(), clock: clock,
            storeFactory: { () throws(CentralStoreError) -> any CentralStore in
                SimulatedOutageCentralStore(try SQLiteCentralStore(path: central), outage: outage)
            }, observer: { collector.record($0) })
        gate.start()
        outage.set(down: true)
        XCTAssertFalse(gate.syncOnce())
        clock.advance(seconds: 3600)  // an hour without central state: still within the stale limit
        reader.present(.transit(green.identifier))
        reader.present(.transit(unbound.identifier))
        collector.waitFor(2)
        XCTAssertEqual(collector.decisions, [.open(.ok), .deny(.unboundCard)], "decided from the cached table")
        clock.advance(seconds: 6 * 3600)  // now the data is older than the policy allows
        reader.present(.transit(green.identifier))
        collector.waitFor(1)
        XCTAssertEqual(collector.decisions.last, .staff(.staleData))
        XCTAssertEqual(journal.acknowledged, 0)
        outage.set(down: false)
        XCTAssertTrue(gate.syncOnce())
        XCTAssertEqual(journal.acknowledged, 3, "every tap made during the outage reached central state")
        reader.present(.transit(green.identifier))
        collector.waitFor(1)
        gate.stop()
        XCTAssertEqual(collector.decisions.last, .open(.ok), "fresh data again after the sync")
    }

    func testAFullRingAsksTheRiderToTapAgainAndStillJournalsIt() throws {
        let collector = ReportCollector()
        let hold = DispatchSemaphore(value: 0)
        collector.gate.withLock { $0 = hold }
        let barrier = SimulatedBarrier()
        let tapAgain = DispatchSemaphore(value: 0)
        barrier.onDecision = { decision, _ in if decision == .deny(.tapAgain) { tapAgain.signal() } }
        let (gate, readers) = try makeGate(ring: 2, centralPath: nil, collector: collector, barrier: barrier)
        gate.start()
        readers[0].present(.transit(green.identifier))
        collector.waitFor(1)  // the decision thread is now held inside the observer
        for _ in 0..<4 { readers[0].present(.transit(green.identifier)) }
        for _ in 0..<2 { XCTAssertEqual(tapAgain.wait(timeout: .now() + 20), .success) }  // 2 fit, 2 refused
        collector.gate.withLock { $0 = nil }
        hold.signal()
        collector.waitFor(4)
        gate.stop()
        let entries = collector.reports.withLock { $0.map(\.entry) }
        XCTAssertEqual(entries.map(\.sequence), Array(1...5), "every tap, refused or not, has its journal entry")
        XCTAssertEqual(entries.filter { $0.kind == .rejected }.count, 2)
        XCTAssertEqual(gate.currentCounters.rejected, 2)
    }

    /// The file-size limit makes the journal's write fail as a full disk would.
    func testAJournalThatCannotBeWrittenNeverOpensTheBarrier() throws {
        let central = dir + "/central.sqlite"
        try makeStore(at: central)
        let collector = ReportCollector()
        let barrier = SimulatedBarrier()
        let (gate, readers) = try makeGate(centralPath: central, collector: collector, barrier: barrier)
        gate.start()
        readers[0].present(.transit(green.identifier))
        collector.waitFor(1)
        try whileDiskIsFull(growingPast: gate.journal.path, by: 10) {
            readers[0].present(.transit(green.identifier))
            collector.waitFor(1)
        }
        readers[0].present(.transit(green.identifier))
        collector.waitFor(1)
        gate.stop()
        XCTAssertEqual(barrier.takeDecisions(), [.open(.ok), .deny(.gateOutOfService), .open(.ok)])
        XCTAssertEqual(gate.currentCounters.journalFailures, 1)
        XCTAssertEqual(
            try SQLiteCentralStore(path: central).journal(gate: "T-GATE-1").map(\.sequence), [1, 2],
            "no gap after the failure")
        XCTAssertEqual(
            gate.currentTallies.told, [.open(.ok): 2, .deny(.gateOutOfService): 1],
            "the refused tap counts as what the lane showed, not as the open it never became")
        let reports = collector.reports.withLock { $0 }
        XCTAssertEqual(reports.map(\.durable), [true, false, true])
        XCTAssertEqual(reports.map(\.told), [.open(.ok), .deny(.gateOutOfService), .open(.ok)])
        XCTAssertEqual(reports.map(\.serial), [1, 2, 3], "reports are told apart by serial")
        XCTAssertEqual(reports.map(\.entry.sequence), [1, 2, 2], "the refused tap's sequence went to the next one")
        XCTAssertTrue(reports[1].textLine.hasPrefix("-\t"), reports[1].textLine)
        XCTAssertTrue(reports[1].textLine.contains("deny\tgate_out_of_service"), reports[1].textLine)
        XCTAssertTrue(reports[1].textLine.hasSuffix("not journalled (rules: open(ok))"), reports[1].textLine)
    }
}
