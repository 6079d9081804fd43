import FaregateCore
import FaregatePCSC
import FaregateRuntime
import FaregateSimulation
import Foundation
import Synchronization
import XCTest

/// Another application on the same reader, on the real pcscd + vpcd: a second PC/SC context
/// opened by the test (what `scriptor`, a bench tool or a misbehaving process does) holds a
/// transaction or resets the card while `PCSCCardReader` is between two APDUs.
///
/// The interleaving is made exact without sleeping: the virtual card holds the gate's APDU
/// (pcscd waits inside the gate's `SCardTransmit`) while the test's connection begins a
/// transaction, so the gate's next command cannot reach the card before the test has acted.
final class PCSCContentionTests: XCTestCase {
    static let reader = "Virtual PCD 00 00"
    static let seeds = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("seeds/cards")
    /// SELECT PPSE, the first command of every read.
    static let selectPPSE =
        "apdu " + Hex.string(CommandAPDU.select(aid: CardApplicationReader.ppseName).bytes, separator: "")

    var port: UInt16 = 0
    var harness: ReaderHarness?
    let logLines = LogLines()

    final class LogLines: Sendable {
        let lines = Mutex<[String]>([])
        /// Signalled for each line saying the reader met a sharing violation and is waiting.
        let busySeen = DispatchSemaphore(value: 0)
        func append(_ line: String) {
            lines.withLock { $0.append(line) }
            if line.contains("busy (sharing violation)") { busySeen.signal() }
        }
        func contains(_ text: String) -> Bool { lines.withLock { $0.contains { $0.contains(text) } } }
    }

    override func setUpWithError() throws {
        port = try vpcdPortOrSkip()
    }

    override func tearDown() {
        if let h = harness { XCTAssertTrue(h.stop(), "reader thread did not stop on cancel()") }
        harness = nil
        // The next test's card must be seen as a new one.
        waitOutPresencePoll()
    }

    func startReader(busyBudgetMillis: Int = 150) -> ReaderHarness {
        let lines = logLines
        let reader = PCSCCardReader(
            configuration: .init(readerName: Self.reader, index: 1, busyBudgetMillis: busyBudgetMillis),
            clock: SystemClock(),
            log: { line in
                lines.append(line)
                FileHandle.standardError.write(Data((line + "\n").utf8))
            })
        let h = ReaderHarness(reader: reader)
        harness = h
        return h
    }

    func compiled(_ name: String) throws -> CompiledCard {
        try CardProfile.load(path: Self.seeds.appendingPathComponent(name + ".json").path).1
    }

    /// What the gate reads from `name` with no interference.
    func expected(_ name: String) throws -> Tap.Result {
        var sim = SimulatedSmartCard(card: try compiled(name))
        sim.powerOn()
        return CardApplicationReader().read { (c: CommandAPDU) throws(CardIOError) in try sim.transmit(c) }.tapResult
    }

    /// pcscd polls vpcd's presence every 400 ms: a card must stay out longer than that to be
    /// seen leaving (the same real-stack wait as the other PC/SC tests; riders do not tap faster).
    func waitOutPresencePoll() { usleep(1_000_000) }

    // MARK: Reset by another application

    /// The card is reset between the gate's READ BINARY SFI 15 and SFI 17: the gate's next
    /// transmit gets SCARD_W_RESET_CARD, it reconnects and reads again from SELECT PPSE (the card
    /// lost its selected application), and the tap carries the full, consistent read.
    func testCardResetMidReadIsReadAgainFromSelect() throws {
        // SELECT PPSE, SELECT AID and READ BINARY 15 answered; hold READ BINARY 17 (the 4th APDU).
        let card = VirtualCardTap(try compiled("tunion-normal"), port: port, holdBefore: [3])
        defer { card.leave() }
        let other = try connectWhenPresent()
        let h = startReader(busyBudgetMillis: 10_000)
        XCTAssertTrue(card.waitHeld(), "the gate reached READ BINARY SFI 17")
        try resetWhileHeld(card, with: other)

        var notices: [ReaderEvent] = []
        let tap = try XCTUnwrap(h.nextTap(notices: &notices))
        XCTAssertEqual(tap.result, try expected("tunion-normal"), "a full read after the reset")
        XCTAssertTrue(notices.isEmpty, "\(notices)")

        let frames = card.frames
        let reset = try XCTUnwrap(frames.firstIndex { $0 == "reset" || $0 == "power-off" }, "\(frames)")
        let apdusBefore = frames[..<reset].filter { $0.hasPrefix("apdu") }
        let apdusAfter = frames[reset...].filter { $0.hasPrefix("apdu") }
        XCTAssertEqual(apdusBefore.count, 4, "PPSE, AID, SFI 15 and the held SFI 17: \(frames)")
        XCTAssertEqual(apdusAfter.first, Self.selectPPSE, "after the reset the gate starts again at SELECT PPSE")
        XCTAssertEqual(apdusAfter.count, 5, "a whole read after the reset: \(frames)")
        XCTAssertTrue(logLines.contains("card reset by another application mid-read"))
    }

    /// Reset again during the read after the first reset: the gate gives up with a typed error
    /// (never a decision from part of a read) and keeps working for the next tap.
    func testCardResetTwiceGivesUpWithoutADecision() throws {
        // First read: hold the 4th APDU (READ BINARY 17; answered, then the reset). The read
        // after the reset: PPSE and AID answered (6 in all), hold its READ BINARY 15.
        let card = VirtualCardTap(try compiled("tunion-normal"), port: port, holdBefore: [3, 6])
        let other = try connectWhenPresent()
        let h = startReader(busyBudgetMillis: 10_000)
        XCTAssertTrue(card.waitHeld(), "first read reached READ BINARY SFI 17")
        try resetWhileHeld(card, with: other)
        XCTAssertTrue(card.waitHeld(), "the read after the reset reached READ BINARY SFI 15")
        try resetWhileHeld(card, with: other)
        try other.card.close()

        var notices: [ReaderEvent] = []
        let tap = try XCTUnwrap(h.nextTap(notices: &notices))
        guard case .failed(let failure, _) = tap.result else {
            return XCTFail("decided from a reset card: \(tap.result)")
        }
        XCTAssertEqual(failure, .transmitFailed)
        XCTAssertTrue(logLines.contains("card reset by another application and not read again"))
        card.leave()
        waitOutPresencePoll()

        let next = VirtualCardTap(try compiled("municipal-normal"), port: port)
        let ok = try XCTUnwrap(h.nextTap(notices: &notices))
        next.leave()
        XCTAssertEqual(ok.result, try expected("municipal-normal"))
    }

    /// While the card holds the gate's APDU, the test's connection begins a transaction, so the
    /// gate's next command cannot reach the card before the reset; then the held APDU is answered
    /// and the test resets the card (`SCardReconnect(SCARD_RESET_CARD)`, which pcscd runs once the
    /// gate's transmit has left the driver) and ends its transaction.
    func resetWhileHeld(_ card: VirtualCardTap, with other: Other) throws {
        try other.card.beginTransaction()
        card.proceed()
        try other.card.reconnect(mode: .shared, initialization: .reset)
        try other.card.endTransaction()
    }

    /// The test's own PC/SC connection to the card (another application, as pcscd sees it).
    struct Other {
        let context: PCSCContext
        let card: PCSCCard
    }

    /// Waits for pcscd to report the card present, then connects to it (shared) from a context of
    /// the test's own. This happens before the gate's reader starts (it then reads the card already
    /// in the field): pcscd runs `SCardConnect` under the reader's lock, so a connect issued while
    /// the card holds one of the gate's APDUs would wait for that APDU.
    func connectWhenPresent(file: StaticString = #filePath, line: UInt = #line) throws -> Other {
        let context = try PCSCContext()
        var states = [PCSCContext.ReaderState(reader: Self.reader, known: 0)]
        for _ in 0..<20 {
            try context.waitForChange(&states, timeoutMillis: 1000)
            if states[0].event & 0x20 != 0 {  // SCARD_STATE_PRESENT
                return Other(context: context, card: try PCSCCard(context: context, reader: Self.reader, mode: .shared))
            }
            states[0].known = states[0].event & ~0x2  // without SCARD_STATE_CHANGED
        }
        XCTFail("pcscd never saw the virtual card", file: file, line: line)
        throw XCTSkip("no card")
    }

    // MARK: Sharing violations

    /// Another application begins a transaction mid-read and keeps it longer than the gate's
    /// busy budget. pcsc-lite's client library does not return SCARD_E_SHARING_VIOLATION from
    /// `SCardTransmit`: pcscd answers the gate's TRANSMIT with it, and libpcsclite sends the
    /// command again until the transaction ends (seen in pcscd's `--debug` log: hundreds of
    /// `TRANSMIT … rv=SCARD_E_SHARING_VIOLATION` for one call of the gate). So the gate's read
    /// waits: no failure, no decision while the transaction lasts; when it ends, the read goes on
    /// from the command that was waiting and the tap is complete.
    func testTransactionMidReadIsWaitedOutByLibpcsclite() throws {
        let card = VirtualCardTap(try compiled("municipal-normal"), port: port, holdBefore: [2])
        defer { card.leave() }
        let other = try connectWhenPresent()
        let h = startReader(busyBudgetMillis: 100)
        XCTAssertTrue(card.waitHeld())
        try other.card.beginTransaction()
        card.proceed()
        // Real time on purpose: the transaction lasts five busy budgets, and no tap comes out.
        var notices: [ReaderEvent] = []
        XCTAssertNil(h.next(seconds: 0.5), "nothing is decided while another application holds the card")
        card.mark("ending the transaction")
        try other.card.endTransaction()
        try other.card.close()

        let tap = try XCTUnwrap(h.nextTap(notices: &notices))
        XCTAssertEqual(tap.result, try expected("municipal-normal"))
        let frames = card.frames
        let mark = try XCTUnwrap(frames.firstIndex(of: "ending the transaction"))
        XCTAssertEqual(frames[..<mark].filter { $0.hasPrefix("apdu") }.count, 3, "no command during it: \(frames)")
        XCTAssertEqual(frames[mark...].filter { $0.hasPrefix("apdu") }.count, 4, "the rest after it: \(frames)")
    }

    /// The card leaves while another application holds a transaction and the gate's command
    /// waits: the gate's transmit then fails with the removal, the tap is `cardRemoved` (an
    /// aborted read, never a decision), and the next tap reads normally.
    func testCardLeavingDuringATransactionIsAnAbortedRead() throws {
        let card = VirtualCardTap(try compiled("tunion-student"), port: port, holdBefore: [3])
        let other = try connectWhenPresent()
        let h = startReader()
        XCTAssertTrue(card.waitHeld())
        try other.card.beginTransaction()
        card.proceed()
        card.leave()

        var notices: [ReaderEvent] = []
        let aborted = try XCTUnwrap(h.nextTap(notices: &notices))
        guard case .failed(let failure, _) = aborted.result else { return XCTFail("\(aborted.result)") }
        XCTAssertEqual(failure, .cardRemoved)
        _ = try? other.card.endTransaction()
        _ = try? other.card.close()
        waitOutPresencePoll()

        let next = VirtualCardTap(try compiled("tunion-student"), port: port)
        let ok = try XCTUnwrap(h.nextTap(notices: &notices))
        next.leave()
        XCTAssertEqual(ok.result, try expected("tunion-student"))
        XCTAssertTrue(notices.isEmpty, "\(notices)")
    }

    /// An application keeps an exclusive connection (opened while an earlier card was present,
    /// never closed): pcscd refuses the gate's connect to the next card with a sharing violation.
    /// The tap becomes `readerBusy` after the budget; once the holder disconnects, taps work.
    func testExclusiveHolderMakesTapsReaderBusyUntilItLetsGo() throws {
        let h = startReader(busyBudgetMillis: 100)
        var notices: [ReaderEvent] = []
        let first = VirtualCardTap(try compiled("tunion-normal"), port: port)
        let t1 = try XCTUnwrap(h.nextTap(notices: &notices))
        XCTAssertEqual(t1.result, try expected("tunion-normal"))
        let other = try PCSCContext()
        let exclusive = try PCSCCard(context: other, reader: Self.reader, mode: .exclusive)
        first.leave()
        waitOutPresencePoll()

        let second = VirtualCardTap(try compiled("tunion-normal"), port: port)
        let t2 = try XCTUnwrap(h.nextTap(notices: &notices))
        XCTAssertEqual(t2.result, .failed(.readerBusy, nil))
        XCTAssertTrue(
            logLines.contains("reader '\(Self.reader)' busy: another application holds an exclusive connection"))
        XCTAssertFalse(second.frames.contains { $0.hasPrefix("apdu") }, "the gate never reached the card")
        second.leave()
        try exclusive.close()
        waitOutPresencePoll()

        let third = VirtualCardTap(try compiled("tunion-normal"), port: port)
        let t3 = try XCTUnwrap(h.nextTap(notices: &notices))
        third.leave()
        XCTAssertEqual(t3.result, try expected("tunion-normal"))
        XCTAssertTrue(notices.isEmpty, "\(notices)")
    }

    /// The card leaves while the gate is still waiting for an exclusive holder to let go: the
    /// wait ends on the removal (pcscd's state change), the tap is `cardRemoved` (aborted, never
    /// a decision), not `readerBusy` after the whole budget.
    func testCardLeavingWhileTheReaderIsHeldExclusivelyIsAnAbortedRead() throws {
        let h = startReader(busyBudgetMillis: 20_000)
        var notices: [ReaderEvent] = []
        let first = VirtualCardTap(try compiled("tunion-normal"), port: port)
        XCTAssertNotNil(h.nextTap(notices: &notices))
        let other = try PCSCContext()
        let exclusive = try PCSCCard(context: other, reader: Self.reader, mode: .exclusive)
        first.leave()
        waitOutPresencePoll()

        let second = VirtualCardTap(try compiled("tunion-normal"), port: port)
        XCTAssertEqual(logLines.busySeen.wait(timeout: .now() + 15), .success, "the gate waits on the holder")
        second.leave()
        let t = try XCTUnwrap(h.nextTap(seconds: 10, notices: &notices), "ended by the removal, not the 20 s budget")
        XCTAssertEqual(t.result, .failed(.cardRemoved, nil))
        XCTAssertTrue(logLines.contains("card left while another application held it exclusively"))
        try exclusive.close()
    }
}
