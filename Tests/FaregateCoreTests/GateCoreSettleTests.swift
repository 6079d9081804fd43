import FaregateCore
import FaregateSimulation
import XCTest

/// The journal-before-open rule (`GateCore.settle`), table-driven: for each kind of entry and each
/// outcome of the batch's append, what the rider is told, what the lane is shown, whether the entry
/// is in the journal and where the next sequence stands; then the lane's mode and the passage
/// ledger, which only remembers what became durable.
final class GateCoreSettleTests: XCTestCase {
    private static func entry(_ sequence: UInt64, _ kind: JournalEntry.Kind, _ decision: Decision) -> JournalEntry {
        JournalEntry(
            sequence: sequence, wallMillis: 1, reader: 0, key: CardKey(rawValue: 7), kind: kind, decision: decision,
            balanceFen: nil, dataVersion: 1, timings: StageTimings(),
            command: kind == .staffCommand ? .setMode(.closed) : nil)
    }

    func testWhatEachKindOfEntryBecomesAfterEachAppendOutcome() {
        struct Row {
            var kind: JournalEntry.Kind
            var decision: Decision
            /// (told, shown on the lane) after a durable append, then after a failed one.
            var durable: (told: Decision?, show: Decision?)
            var failed: (told: Decision?, show: Decision?)
            var line: UInt
        }
        let out = Decision.deny(.gateOutOfService)
        let rows: [Row] = [
            Row(
                kind: .decision, decision: .open(.ok), durable: (.open(.ok), .open(.ok)), failed: (out, out),
                line: #line),
            Row(
                kind: .decision, decision: .open(.okShadow), durable: (.open(.okShadow), .open(.okShadow)),
                failed: (out, out), line: #line),
            Row(
                kind: .decision, decision: .deny(.healthRed), durable: (.deny(.healthRed), .deny(.healthRed)),
                failed: (out, out), line: #line),
            Row(
                kind: .decision, decision: .staff(.staleData), durable: (.staff(.staleData), .staff(.staleData)),
                failed: (out, out), line: #line),
            Row(
                kind: .decision, decision: .deny(.stationClosed),
                durable: (.deny(.stationClosed), .deny(.stationClosed)),
                failed: (out, out), line: #line),
            Row(
                kind: .decision, decision: .open(.emergencyOpen),
                durable: (.open(.emergencyOpen), .open(.emergencyOpen)), failed: (out, out), line: #line),
            Row(
                kind: .aborted, decision: .deny(.cardRemoved), durable: (.deny(.cardRemoved), .deny(.cardRemoved)),
                failed: (out, out), line: #line),
            Row(
                kind: .readFailed, decision: .deny(.readError), durable: (.deny(.readError), .deny(.readError)),
                failed: (out, out), line: #line),
            // Refused on a full ring: its reader already said "tap again"; the lane is not told twice,
            // and the rider heard "tap again" whether or not the refusal was journalled.
            Row(
                kind: .rejected, decision: .deny(.tapAgain), durable: (.deny(.tapAgain), nil),
                failed: (.deny(.tapAgain), nil), line: #line),
            // A staff command has no rider and shows nothing.
            Row(
                kind: .staffCommand, decision: .staff(.staffCommand), durable: (nil, nil), failed: (nil, nil),
                line: #line),
        ]
        for row in rows {
            for append in [GateCore.Append.durable, .failed(nextSequence: 5)] {
                let expected = append == .durable ? row.durable : row.failed
                var core = GateCore(nextSequence: 6, policy: .healthCheckEra)
                var settled: [GateCore.Settlement] = []
                core.settle([Self.entry(5, row.kind, row.decision)], after: append) { settled.append($0) }
                let what = "\(row.kind) \(row.decision) \(append)"
                XCTAssertEqual(settled.count, 1, what, line: row.line)
                guard let s = settled.first else { continue }
                XCTAssertEqual(s.entry.sequence, 5, what, line: row.line)
                XCTAssertEqual(s.durable, append == .durable, what, line: row.line)
                XCTAssertEqual(s.sequence, append == .durable ? 5 : nil, what, line: row.line)
                XCTAssertEqual(s.told, expected.told, what, line: row.line)
                XCTAssertEqual(s.show, expected.show, what, line: row.line)
                XCTAssertEqual(core.nextSequence, append == .durable ? 6 : 5, what, line: row.line)
                // The line a person reads says the same as the journal, or that there is no entry.
                if append == .durable {
                    XCTAssertEqual(s.textLine, s.entry.textLine, what, line: row.line)
                } else {
                    XCTAssertTrue(s.textLine.hasPrefix("-\t"), "\(what): \(s.textLine)", line: row.line)
                    XCTAssertTrue(
                        s.textLine.hasSuffix("not journalled (rules: \(row.decision))"), "\(what): \(s.textLine)",
                        line: row.line)
                    if let told = expected.told, row.kind.isTap {
                        XCTAssertTrue(
                            s.textLine.contains("\t\(told.outcome)\t\(told.reason.code)\t"), "\(what): \(s.textLine)",
                            line: row.line)
                    }
                }
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
        core.settle(batch, after: .failed(nextSequence: 10)) { shown.append($0.show) }
        XCTAssertEqual(shown, [.deny(.gateOutOfService), nil, .deny(.gateOutOfService)])
        XCTAssertEqual(core.nextSequence, 10)

        shown.removeAll()
        core.settle(batch, after: .durable) { shown.append($0.show) }
        XCTAssertEqual(shown, [.open(.ok), nil, .open(.ok)])
        XCTAssertEqual(core.nextSequence, 10, "a durable batch leaves the sequence where handle put it")
    }

    // MARK: The lane's mode

    private let green = CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001)!
    private let red = CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_002)!

    private func table() -> DictionaryStatusTable {
        DictionaryStatusTable(
            dataVersion: 3,
            entries: [
                green: CardStatus(health: .green, binding: .bound), red: CardStatus(health: .red, binding: .bound),
            ])
    }

    private func tap(_ key: CardKey, reader: UInt16 = 0) -> Tap {
        Tap(reader: reader, result: SimulatedCard.transit(key.identifier).result, detectedAt: 1, readAt: 1)
    }

    /// What a tap is journalled (and so told) in each mode: outside `normal` the mode answers, not
    /// the card; a failed read in a closed station hears that the station is closed too.
    func testTheModeTheLaneActsInIsWhatTheJournalSays() {
        let clock = ManualClock()
        let removed = Tap(reader: 0, result: .failed(.cardRemoved, nil), detectedAt: 1, readAt: 1)
        let rows: [(GateMode, Tap, Decision, UInt)] = [
            (.normal, tap(green), .open(.ok), #line),
            (.normal, tap(red), .deny(.healthRed), #line),
            (.normal, removed, .deny(.cardRemoved), #line),
            (.closed, tap(green), .deny(.stationClosed), #line),
            (.closed, tap(red), .deny(.stationClosed), #line),
            (.closed, removed, .deny(.stationClosed), #line),
            (.outOfService, tap(green), .deny(.gateOutOfService), #line),
            (.outOfService, tap(red), .deny(.gateOutOfService), #line),
            (.emergencyOpen, tap(green), .open(.emergencyOpen), #line),
            (.emergencyOpen, tap(red), .open(.emergencyOpen), #line),
        ]
        for (mode, tap, expected, line) in rows {
            var core = GateCore(nextSequence: 1, policy: .healthCheckEra)
            core.lane = mode
            let out = core.handle(tap, dequeuedAt: 1, table: table(), dataAgeSeconds: 1, clock: clock)
            XCTAssertEqual(out.entry.decision, expected, "\(mode)", line: line)
            XCTAssertEqual(GateCore.refusal(in: mode) ?? out.entry.decision, expected, "\(mode)", line: line)
        }
    }

    // MARK: The passage ledger

    /// Taps at reader 0 (the unpaid end, entries) with anti-passback on: a passage counts once its
    /// entry is durable, already within the same batch, and never when the batch failed or the
    /// gate was held open.
    func testTheLedgerRemembersOnlyDurablePassages() {
        let clock = ManualClock()
        func core() -> GateCore {
            var c = GateCore(nextSequence: 1, policy: .healthCheckEra)
            c.ledger = PassageLedger(rules: AccessRules(antiPassbackSeconds: 600), capacity: 64)
            return c
        }
        func batch(_ core: inout GateCore, _ keys: [CardKey], after append: (UInt64) -> GateCore.Append) -> [Decision] {
            let first = core.nextSequence
            let entries = keys.map {
                core.handle(tap($0), dequeuedAt: 1, table: table(), dataAgeSeconds: 1, clock: clock).entry
            }
            var told: [Decision] = []
            core.settle(entries, after: append(first)) { told.append($0.told ?? .deny(.readError)) }
            return told
        }
        let durable: (UInt64) -> GateCore.Append = { _ in .durable }
        let failed: (UInt64) -> GateCore.Append = { .failed(nextSequence: $0) }

        // Durable: the second tap of the same batch is already a passback; so is a later one.
        var c = core()
        XCTAssertEqual(batch(&c, [green, green], after: durable), [.open(.ok), .deny(.passback)])
        XCTAssertEqual(batch(&c, [green], after: durable), [.deny(.passback)])

        // Failed: the rider was refused, so no entry record blocks the next tap.
        c = core()
        XCTAssertEqual(
            batch(&c, [green, green], after: failed), [.deny(.gateOutOfService), .deny(.gateOutOfService)])
        XCTAssertNil(c.ledger?.entryTime(of: green, nowMillis: clock.wallMillis()))
        XCTAssertEqual(batch(&c, [green], after: durable), [.open(.ok)])
        XCTAssertNotNil(c.ledger?.entryTime(of: green, nowMillis: clock.wallMillis()))

        // Held open: the card did not let the rider through, so no entry is recorded.
        c = core()
        c.lane = .emergencyOpen
        XCTAssertEqual(batch(&c, [green, green], after: durable), [.open(.emergencyOpen), .open(.emergencyOpen)])
        XCTAssertNil(c.ledger?.entryTime(of: green, nowMillis: clock.wallMillis()))
        c.lane = .normal
        XCTAssertEqual(batch(&c, [green], after: durable), [.open(.ok)])
    }

    func testAStaffCommandTakesTheNextSequence() {
        var core = GateCore(nextSequence: 9, policy: .healthCheckEra)
        let e = core.staffCommand(.setEnforcement(.shadow), wallMillis: 77, dataVersion: 4)
        XCTAssertEqual(e.sequence, 9)
        XCTAssertEqual(e.kind, .staffCommand)
        XCTAssertEqual(e.command, .setEnforcement(.shadow))
        XCTAssertEqual(e.decision, .staff(.staffCommand))
        XCTAssertEqual(core.nextSequence, 10)
    }
}
