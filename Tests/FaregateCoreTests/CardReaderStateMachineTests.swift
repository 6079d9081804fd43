import FaregateCore
import XCTest

/// The pure state machines lifted out of the PC/SC reader, driven event by event with time as an
/// argument: no reader, no thread, no sleep.
final class CardReaderStateMachineTests: XCTestCase {
    static let key = CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001)!
    static let details = CardDetails(
        read: CardRead(key: key, application: .tUnion), cityCode: "1000", storedNumber: "0" + key.number)

    static let ok = CardReadReport(outcome: .success(details))
    static func failed(_ code: CardReadError.Code, key: CardKey? = nil) -> CardReadReport {
        CardReadReport(outcome: .failure(CardReadError(code, step: "READ BINARY SFI 17", message: "m", key: key)))
    }
    static func with(_ r: CardReadReport, code: CardReadError.Code? = nil, message: String) -> CardReadReport {
        guard case .failure(var e) = r.outcome else { return r }
        e.message = message
        if let code { e.code = code }
        return CardReadReport(outcome: .failure(e))
    }

    // MARK: CardReadSession

    func testCardReadSessionTable() {
        typealias E = CardReadSession.Event
        typealias A = CardReadSession.Action
        let reset = Self.failed(.io(.cardReset))
        let gaveUp = Self.with(reset, message: "card reset by another application during the read; gave up (m)")
        let gaveUpLog = A.log("card reset by another application and not read again; tap not decided")
        let again = A.log("card reset by another application mid-read; reading again from SELECT")
        let cases: [(String, [(E, [A])])] = [
            ("a read that succeeds", [(.connected, [.read]), (.read(Self.ok), [.finish(Self.ok)])]),
            (
                "a removal is final at once",
                [
                    (.connected, [.read]),
                    (.read(Self.failed(.io(.cardRemoved))), [.finish(Self.failed(.io(.cardRemoved)))]),
                ]
            ),
            (
                "a status word is the card's answer: nothing to check",
                [
                    (.connected, [.read]),
                    (
                        .read(Self.failed(.unexpectedStatus(.noPreciseDiagnosis))),
                        [.finish(Self.failed(.unexpectedStatus(.noPreciseDiagnosis)))]
                    ),
                ]
            ),
            (
                "a failed transmit with the card gone is a removal, the key kept",
                [
                    (.connected, [.read]), (.read(Self.failed(.io(.transmitFailed), key: Self.key)), [.checkCardLeft]),
                    (
                        .cardLeft(true),
                        [
                            .finish(
                                Self.with(
                                    Self.failed(.io(.transmitFailed), key: Self.key), code: .io(.cardRemoved),
                                    message: "card left the field (m)"))
                        ]
                    ),
                ]
            ),
            (
                "a short answer with the card still there stays malformed",
                [
                    (.connected, [.read]), (.read(Self.failed(.io(.malformedResponse))), [.checkCardLeft]),
                    (.cardLeft(false), [.finish(Self.failed(.io(.malformedResponse)))]),
                ]
            ),
            (
                "one reset: reconnect and read again from SELECT",
                [
                    (.connected, [.read]), (.read(reset), [.reconnect]), (.reconnected(true), [again, .read]),
                    (.read(Self.ok), [.finish(Self.ok)]),
                ]
            ),
            (
                "a second reset gives up",
                [
                    (.connected, [.read]), (.read(reset), [.reconnect]), (.reconnected(true), [again, .read]),
                    (.read(reset), [gaveUpLog, .finish(gaveUp)]),
                ]
            ),
            (
                "a reconnect that fails gives up",
                [
                    (.connected, [.read]), (.read(reset), [.reconnect]),
                    (.reconnected(false), [gaveUpLog, .finish(gaveUp)]),
                ]
            ),
            (
                "after a reset, a removal is still checked",
                [
                    (.connected, [.read]), (.read(reset), [.reconnect]), (.reconnected(true), [again, .read]),
                    (.read(Self.failed(.io(.transmitFailed))), [.checkCardLeft]),
                    (
                        .cardLeft(true),
                        [
                            .finish(
                                Self.with(
                                    Self.failed(.io(.transmitFailed)), code: .io(.cardRemoved),
                                    message: "card left the field (m)"))
                        ]
                    ),
                ]
            ),
        ]
        for (name, steps) in cases {
            var session = CardReadSession()
            for (i, (event, expected)) in steps.enumerated() {
                XCTAssertEqual(session.handle(event), expected, "\(name), step \(i + 1)")
            }
        }
        XCTAssertEqual(gaveUp.tapResult, .failed(.transmitFailed, nil), "a reset read is journalled transmit_failed")
    }

    // MARK: ReaderBusyBudget

    func testBusyBudgetTable() {
        let ms: UInt64 = 1_000_000
        let t0: UInt64 = 7_000_000_000_000  // an arbitrary monotonic origin
        let cases: [(String, Int, [(UInt64, ReaderBusyBudget.Step)])] = [
            (
                "steps double from 5 ms to 80 ms and never pass the deadline", 150,
                [
                    (0, .wait(millis: 5)), (5, .wait(millis: 10)), (15, .wait(millis: 20)), (35, .wait(millis: 40)),
                    (75, .wait(millis: 75)), (150, .exhausted),
                ]
            ),
            (
                "the step is capped at 80 ms", 1000,
                [
                    (0, .wait(millis: 5)), (5, .wait(millis: 10)), (15, .wait(millis: 20)), (35, .wait(millis: 40)),
                    (75, .wait(millis: 80)), (155, .wait(millis: 80)), (999, .wait(millis: 1)), (1000, .exhausted),
                ]
            ),
            ("no budget: the first violation is final", 0, [(0, .exhausted)]),
            (
                "a short budget cuts the second step", 12,
                [(0, .wait(millis: 5)), (5, .wait(millis: 7)), (13, .exhausted)]
            ),
            ("a partial millisecond left rounds up", 10, [(0, .wait(millis: 5)), (9, .wait(millis: 1))]),
        ]
        for (name, budget, steps) in cases {
            var b = ReaderBusyBudget(millis: budget)
            for (i, (at, expected)) in steps.enumerated() {
                let now = t0 + at * ms + (name.contains("partial") && i == 1 ? ms / 2 : 0)
                XCTAssertEqual(b.sharingViolation(at: now), expected, "\(name), violation \(i + 1)")
                XCTAssertEqual(b.isFirst, i == 0, name)
                XCTAssertEqual(b.attempts, i + 1, name)
            }
            let last = steps[steps.count - 1].0
            XCTAssertEqual(b.waitedMillis(at: t0 + last * ms), last, name)
        }
        XCTAssertEqual(ReaderBusyBudget(millis: -5).millis, 0, "a negative budget is none")
    }

    // MARK: ReaderMonitor

    func testReaderMonitorTable() {
        typealias O = ReaderMonitor.Observation
        typealias A = ReaderMonitor.Action
        let lostService = A.log("lost the reader service (e); re-establishing")
        let cases: [(String, [(O, [A])])] = [
            (
                "cards in and out, one read each",
                [
                    (.readerFound, []), (.slot(present: false, mute: false, counter: 0), []),
                    (.slot(present: true, mute: false, counter: 1), [.readCard]),
                    (.slot(present: true, mute: false, counter: 1), []),
                    (.slot(present: false, mute: false, counter: 2), []),
                    (.slot(present: true, mute: false, counter: 3), [.readCard]),
                ]
            ),
            (
                "a card swapped between two polls is new: the counter moved",
                [
                    (.slot(present: true, mute: false, counter: 4), [.readCard]),
                    (.slot(present: true, mute: false, counter: 6), [.readCard]),
                ]
            ),
            ("a mute card is not read", [(.slot(present: true, mute: true, counter: 1), [])]),
            (
                "a reader found again reads the card already in the field",
                [
                    (.slot(present: true, mute: false, counter: 1), [.readCard]), (.readerFound, []),
                    (.slot(present: true, mute: false, counter: 1), [.readCard]),
                ]
            ),
            (
                "no reader: lost once, then wait for readers; found: restored once",
                [
                    (.readerMissing("none"), [.report(.readerLost("none"))]),
                    (.readerMissing("none"), [.waitForReaders]),
                    (.readerFound, [.report(.readerRestored)]), (.readerFound, []),
                ]
            ),
            (
                "a reader unplugged is forgotten and lost once",
                [
                    (.readerGone("gone"), [.forgetReader, .report(.readerLost("gone"))]),
                    (.readerGone("gone"), [.forgetReader]), (.readerMissing("none"), [.waitForReaders]),
                    (.readerFound, [.report(.readerRestored)]),
                ]
            ),
            (
                "pcscd gone: reported once, then backoff doubling to the maximum; a wait resets it",
                [
                    (
                        .serviceLost("e"),
                        [
                            .dropConnections, .forgetReader, lostService,
                            .report(.readerLost("reader service unavailable: e")),
                        ]
                    ),
                    (.serviceLost("e"), [.dropConnections, .forgetReader, .backOff(millis: 50)]),
                    (.serviceLost("e"), [.dropConnections, .forgetReader, .backOff(millis: 100)]),
                    (.serviceLost("e"), [.dropConnections, .forgetReader, .backOff(millis: 200)]),
                    (.serviceLost("e"), [.dropConnections, .forgetReader, .backOff(millis: 200)]),
                    (.readerFound, [.report(.readerRestored)]),
                    (.failure("f"), [.log("f; retrying"), .backOff(millis: 50)]),
                    (.failure("f"), [.log("f; retrying"), .backOff(millis: 100)]),
                    (.slot(present: false, mute: false, counter: 0), []),
                    (.failure("f"), [.log("f; retrying"), .backOff(millis: 50)]),
                ]
            ),
        ]
        for (name, steps) in cases {
            var m = ReaderMonitor(maxBackoffMillis: 200)
            for (i, (observation, expected)) in steps.enumerated() {
                XCTAssertEqual(m.handle(observation), expected, "\(name), step \(i + 1)")
            }
        }
    }
}
