import FaregateCore
import FaregateSimulation
import XCTest

/// A tap the reader could not read because another application held it (PC/SC sharing
/// violation past the reader's budget): its own failure, reason and rider message, never an open.
final class ReaderBusyTests: XCTestCase {
    func testReaderBusyIsReadFailedAndDeniedWithItsOwnReason() {
        let clock = ManualClock()
        let key = CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001)!
        let table = DictionaryStatusTable(dataVersion: 3, entries: [key: CardStatus(health: .green, binding: .bound)])
        for shadow in [false, true] {
            var core = GateCore(nextSequence: 1, policy: .healthCheckEra)
            if shadow { core.engine = DecisionEngine(policy: .healthCheckEra, shadowPolicy: .healthCheckEra) }
            let t0 = clock.monotonicNanos()
            let busy = Tap(reader: 0, result: .failed(.readerBusy, nil), detectedAt: t0, readAt: t0)
            let out = core.handle(busy, dequeuedAt: t0, table: table, dataAgeSeconds: 1, clock: clock)
            XCTAssertEqual(out.entry.decision, .deny(.readerBusy), "shadow \(shadow)")
            XCTAssertEqual(out.entry.kind, .readFailed)
            XCTAssertEqual(out.entry.key, CardKey(rawValue: 0), "the card was never read")
        }
    }

    func testTransportKindMapsToTheJournalFailureAndTheReasonHasACodeAndMessages() {
        let e = CardReadError(.io(.readerBusy), step: "SELECT PPSE", message: "sharing violation")
        XCTAssertEqual(e.failure, .readerBusy)
        XCTAssertEqual(ReadFailure.readerBusy.description, "reader_busy")
        XCTAssertEqual(Reason.readerBusy.code, "reader_busy")
        XCTAssertEqual(Reason(code: "reader_busy"), .readerBusy)
        XCTAssertEqual(Reason.readerBusy.messageZH, "读卡器忙，请重新刷卡")
        XCTAssertEqual(Reason.readerBusy.messageEN, "Reader busy: please tap again")
    }
}
