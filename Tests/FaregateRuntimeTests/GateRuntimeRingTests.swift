import Dispatch
import FaregateCore
import FaregateRuntime
import FaregateSimulation
import Foundation
import XCTest

/// The gate's per-reader rings: every reader's taps are decided in that reader's order, and one
/// reader's full ring refuses only that reader's riders.
final class GateRuntimeRingTests: XCTestCase {
    var dir: String!
    let clock = ManualClock()

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-rings-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    private func makeGate(readers: Int, ring: Int, collector: ReportCollector, barrier: SimulatedBarrier) throws
        -> (GateRuntime, [SimulatedCardReader])
    {
        let journal = try FileJournal(directory: dir + "/journal", fsync: false)
        let rs = (0..<readers).map { SimulatedCardReader(name: "r\($0)", index: UInt16($0), clock: clock) }
        var options = GateRuntime.Options(gateID: "T-RINGS")
        options.ringCapacity = ring
        options.maxBatch = 4  // several round-robin rounds per burst
        let runtime = GateRuntime(
            options: options, journal: journal, readers: rs, barrier: barrier, clock: clock, storeFactory: nil,
            observer: { collector.record($0) })
        return (runtime, rs)
    }

    /// Card identifier of reader `r`'s `i`-th tap (so the journal tells which tap it was).
    private func card(_ r: Int, _ i: Int) -> UInt64 { 1_000_751_000_000_000_000 + UInt64(r) * 1000 + UInt64(i) }

    func testThreeReadersAreAllDecidedEachInItsOwnOrder() throws {
        let collector = ReportCollector()
        let (gate, readers) = try makeGate(readers: 3, ring: 64, collector: collector, barrier: SimulatedBarrier())
        gate.start()
        let perReader = 20
        for i in 0..<perReader {
            for (r, reader) in readers.enumerated() { reader.present(.transit(card(r, i))) }
        }
        collector.waitFor(3 * perReader)
        gate.stop()
        let entries = collector.reports.withLock { $0.map(\.entry) }
        XCTAssertEqual(entries.count, 3 * perReader)
        XCTAssertEqual(entries.map(\.sequence), Array(1...UInt64(3 * perReader)), "one journal sequence across readers")
        for r in 0..<3 {
            let mine = entries.filter { Int($0.reader) == r }.map(\.key.identifier)
            XCTAssertEqual(mine, (0..<perReader).map { card(r, $0) }, "reader \(r): every tap, in its order")
        }
        XCTAssertEqual(gate.currentCounters.taps, UInt64(3 * perReader))
        XCTAssertEqual(gate.currentCounters.rejected, 0)
    }

    /// Reader 0's ring (capacity 2) fills while the decision thread is held; reader 1 has its own
    /// ring, so its riders are not refused. Reader 0's extra riders are told to tap again and
    /// the refusals are journalled and counted.
    func testAFullRingRefusesOnlyItsOwnReader() throws {
        let collector = ReportCollector()
        let hold = DispatchSemaphore(value: 0)
        collector.gate.withLock { $0 = hold }
        let barrier = SimulatedBarrier()
        let tapAgain = DispatchSemaphore(value: 0)
        barrier.onDecision = { decision, _ in if decision == .deny(.tapAgain) { tapAgain.signal() } }
        let (gate, readers) = try makeGate(readers: 2, ring: 2, collector: collector, barrier: barrier)
        gate.start()
        readers[0].present(.transit(card(0, 0)))
        collector.waitFor(1)  // the decision thread is now held inside the observer
        for i in 1...4 { readers[0].present(.transit(card(0, i))) }
        for _ in 0..<2 { XCTAssertEqual(tapAgain.wait(timeout: .now() + 20), .success) }  // 2 fit, 2 refused
        for i in 0..<2 { readers[1].present(.transit(card(1, i))) }
        collector.gate.withLock { $0 = nil }
        hold.signal()
        collector.waitFor(6)  // 2 + 2 decided, 2 refusals journalled
        gate.stop()
        let entries = collector.reports.withLock { $0.map(\.entry) }
        XCTAssertEqual(entries.count, 7)
        let rejected = entries.filter { $0.kind == .rejected }
        XCTAssertEqual(rejected.map(\.reader), [0, 0], "only reader 0's riders were refused")
        XCTAssertEqual(
            entries.filter { $0.reader == 1 && $0.kind != .rejected }.map(\.key.identifier), [card(1, 0), card(1, 1)])
        XCTAssertEqual(
            entries.filter { $0.reader == 0 && $0.kind != .rejected }.map(\.key.identifier),
            [card(0, 0), card(0, 1), card(0, 2)])
        XCTAssertEqual(gate.currentCounters.rejected, 2)
        XCTAssertEqual(gate.currentCounters.taps, 5)
    }
}
