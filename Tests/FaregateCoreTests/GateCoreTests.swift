import FaregateCore
import FaregateSimulation
import XCTest

final class GateCoreTests: XCTestCase {
    func testSequencesAreContiguousAndKindsFollowTheRead() {
        let clock = ManualClock()
        let key = CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001)!
        let table = DictionaryStatusTable(dataVersion: 9, entries: [key: CardStatus(health: .green, binding: .bound)])
        var core = GateCore(nextSequence: 41, policy: .healthCheckEra)
        let t0 = clock.monotonicNanos()
        let ok = Tap(
            reader: 1, result: SimulatedCard.transit(key.identifier).result, detectedAt: t0, readAt: t0 + 5_000)
        clock.advance(nanos: 20_000)
        let a = core.handle(ok, dequeuedAt: clock.monotonicNanos(), table: table, dataAgeSeconds: 5, clock: clock)
        XCTAssertEqual(a.entry.sequence, 41)
        XCTAssertEqual(a.entry.kind, .decision)
        XCTAssertEqual(a.entry.decision, .open(.ok))
        XCTAssertEqual(a.entry.dataVersion, 9)
        XCTAssertEqual(a.entry.timings.read, 5)
        XCTAssertEqual(a.entry.timings.queue, 15, "read finished at +5 µs, dequeued at +20 µs")

        let removed = Tap(reader: 0, result: .failed(.cardRemoved, nil), detectedAt: t0, readAt: t0)
        let b = core.handle(removed, dequeuedAt: clock.monotonicNanos(), table: table, dataAgeSeconds: 5, clock: clock)
        XCTAssertEqual(b.entry.sequence, 42)
        XCTAssertEqual(b.entry.kind, .aborted)
        XCTAssertEqual(b.entry.decision, .deny(.cardRemoved), "a card pulled mid-read never opens the barrier")

        let bad = Tap(reader: 0, result: .failed(.malformedResponse, key), detectedAt: t0, readAt: t0)
        let c = core.handle(bad, dequeuedAt: clock.monotonicNanos(), table: table, dataAgeSeconds: 5, clock: clock)
        XCTAssertEqual(c.entry.kind, .readFailed)
        XCTAssertEqual(c.entry.key, key, "a partial read keeps the number it got")

        let r = core.rejectedTap(reader: 2, wallMillis: 5, dataVersion: 9)
        XCTAssertEqual(r.sequence, 44)
        XCTAssertEqual(r.decision, .deny(.tapAgain))
        core.rewind(to: 44)
        XCTAssertEqual(core.nextSequence, 44)
    }

    func testNoTableMeansStaffCheckNotAnOpenBarrier() {
        let clock = ManualClock()
        var core = GateCore(nextSequence: 1, policy: .healthCheckEra)
        let tap = Tap(
            reader: 0, result: SimulatedCard.transit(1_000_751_000_000_000_001).result, detectedAt: 1, readAt: 1)
        let out = core.handle(tap, dequeuedAt: 2, table: nil, dataAgeSeconds: nil, clock: clock)
        XCTAssertEqual(out.entry.decision, .staff(.staleData))
    }

    /// The core's reader-to-end map decides where the lane shows a decision (the barrier side
    /// takes the end as given): reader 1 of a bidirectional passage is its paid end, and a reader
    /// the map does not name serves the unpaid end.
    func testEachDecisionNamesTheEndOfItsReader() {
        let clock = ManualClock()
        var core = GateCore(nextSequence: 1, policy: .healthCheckEra)
        core.readerEnds = [.unpaid, .paid]
        let ends = (0..<3).map { reader in
            let tap = Tap(reader: UInt16(reader), result: .failed(.cardRemoved, nil), detectedAt: 1, readAt: 1)
            return core.handle(tap, dequeuedAt: 2, table: nil, dataAgeSeconds: nil, clock: clock).end
        }
        XCTAssertEqual(ends, [.unpaid, .paid, .unpaid])
    }
}
