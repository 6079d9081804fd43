import FaregateCore
import XCTest

/// The journal-before-open rule (`GateCore.settle`), table-driven: for each kind of entry and each
/// outcome of the batch's append, what the lane shows and where the next sequence stands.
final class GateCoreSettleTests: XCTestCase {
    private static func entry(_ sequence: UInt64, _ kind: JournalEntry.Kind, _ decision: Decision) -> JournalEntry {
        JournalEntry(
            sequence: sequence, wallMillis: 1, reader: 0, key: CardKey(rawValue: 7), kind: kind, decision: decision,
            balanceFen: nil, dataVersion: 1, timings: StageTimings())
    }

    func testWhatTheLaneShowsForEachKindAndAppendOutcome() {
        struct Row {
            var kind: JournalEntry.Kind
            var decision: Decision
            var durable: Decision?
            var failed: Decision?
            var line: UInt
        }
        let rows: [Row] = [
            Row(
                kind: .decision, decision: .open(.ok), durable: .open(.ok), failed: .deny(.gateOutOfService),
                line: #line),
            Row(
                kind: .decision, decision: .deny(.healthRed), durable: .deny(.healthRed),
                failed: .deny(.gateOutOfService), line: #line),
            Row(
                kind: .decision, decision: .staff(.staleData), durable: .staff(.staleData),
                failed: .deny(.gateOutOfService), line: #line),
            Row(
                kind: .aborted, decision: .deny(.cardRemoved), durable: .deny(.cardRemoved),
                failed: .deny(.gateOutOfService), line: #line),
            Row(
                kind: .readFailed, decision: .deny(.readError), durable: .deny(.readError),
                failed: .deny(.gateOutOfService), line: #line),
            // Refused on a full ring: its reader already said "tap again"; the lane is not told twice.
            Row(kind: .rejected, decision: .deny(.tapAgain), durable: nil, failed: nil, line: #line),
        ]
        for row in rows {
            for (append, expected) in [(GateCore.Append.durable, row.durable), (.failed(nextSequence: 5), row.failed)] {
                var core = GateCore(nextSequence: 6, policy: .healthCheckEra)
                var shown: [(UInt64, Decision?)] = []
                core.settle([Self.entry(5, row.kind, row.decision)], after: append) { shown.append(($0.sequence, $1)) }
                XCTAssertEqual(shown.map(\.0), [5], "\(row.kind) \(append)", line: row.line)
                XCTAssertEqual(shown.first?.1, expected, "\(row.kind) \(append)", line: row.line)
                XCTAssertEqual(core.nextSequence, append == .durable ? 6 : 5, "\(row.kind) \(append)", line: row.line)
            }
        }
    }

    /// A failed append refuses the whole batch in order and hands its sequences out again, so the
    /// journal stays gapless; nothing of it ever opens.
    func testAFailedAppendDeniesTheWholeBatchAndTakesItsSequencesBack() {
        var core = GateCore(nextSequence: 13, policy: .healthCheckEra)
        let batch = [
            Self.entry(10, .decision, .open(.ok)), Self.entry(11, .rejected, .deny(.tapAgain)),
            Self.entry(12, .decision, .open(.ok)),
        ]
        var shown: [Decision?] = []
        core.settle(batch, after: .failed(nextSequence: 10)) { shown.append($1) }
        XCTAssertEqual(shown, [.deny(.gateOutOfService), nil, .deny(.gateOutOfService)])
        XCTAssertEqual(core.nextSequence, 10)

        shown.removeAll()
        core.settle(batch, after: .durable) { shown.append($1) }
        XCTAssertEqual(shown, [.open(.ok), nil, .open(.ok)])
        XCTAssertEqual(core.nextSequence, 10, "a durable batch leaves the sequence where handle put it")
    }
}
