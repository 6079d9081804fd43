import FaregateCore
import FaregateSimulation
import Foundation
import XCTest

/// Reads every seed profile through the simulated card and checks each field, each fault and
/// each card-state case.
final class CardApplicationReaderTests: XCTestCase {
    static let seeds = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("seeds/cards")

    func card(_ name: String, faults: [CardFault] = []) throws -> SimulatedSmartCard {
        let (_, compiled) = try CardProfile.load(path: Self.seeds.appendingPathComponent(name + ".json").path)
        var c = SimulatedSmartCard(card: compiled, faults: faults)
        c.powerOn()
        return c
    }

    func read(_ card: inout SimulatedSmartCard, record: Bool = true) -> CardReadReport {
        CardApplicationReader(recordExchanges: record).read { (c: CommandAPDU) throws(CardIOError) in
            try card.transmit(c)
        }
    }

    func details(_ name: String) throws -> (CardDetails, SimulatedSmartCard) {
        var c = try card(name)
        let report = read(&c)
        switch report.outcome {
        case .success(let d): return (d, c)
        case .failure(let e): throw e
        }
    }

    func date(_ s: String) -> CalendarDate? { CalendarDate(s) }

    func assertNeverReadsCardholderFile(_ card: SimulatedSmartCard, file: StaticString = #filePath, line: UInt = #line)
    {
        XCTAssertFalse(card.receivedCommands.contains { $0.readBinarySFI == 0x16 }, file: file, line: line)
        XCTAssertFalse(card.receivedCommands.contains { $0.ins == 0xB2 }, file: file, line: line)
    }

    func testTUnionNormalCardEveryField() throws {
        let (d, c) = try details("tunion-normal")
        XCTAssertEqual(d.read.key, CardKey(medium: .transitCard, number: "3104100075100000017"))
        XCTAssertEqual(d.read.key.number, "3104100075100000017")
        XCTAssertEqual(d.storedNumber, "03104100075100000017")
        XCTAssertEqual(d.read.application, .tUnion)
        XCTAssertEqual(d.read.cardType, .normal)
        XCTAssertEqual(d.read.balanceFen, 5230)
        XCTAssertEqual(d.read.validFrom, date("2020-01-01"))
        XCTAssertEqual(d.read.validUntil, date("2035-12-31"))
        XCTAssertEqual(d.cityCode, "1000")
        XCTAssertFalse(d.read.applicationBlocked)
        XCTAssertFalse(d.read.disabled)
        XCTAssertFalse(d.read.blacklistedOnCard)
        XCTAssertEqual(
            c.receivedCommands,
            [
                .select(aid: CardApplicationReader.ppseName), .select(aid: CardApplicationReader.tUnionAID),
                .readBinary(sfi: 0x15), .readBinary(sfi: 0x17), .getBalance,
            ])
        assertNeverReadsCardholderFile(c)
    }

    func testTUnionTwentyDigitNumberAndTypes() throws {
        let (d, _) = try details("tunion-student")
        XCTAssertEqual(d.read.key.number, "3104300000012345678")
        XCTAssertEqual(d.storedNumber, "03104300000012345678")
        XCTAssertEqual(d.read.cardType, .student)
        XCTAssertEqual(d.cityCode, "3000")
        XCTAssertEqual(d.read.balanceFen, 800)
        for (raw, type) in [
            (1, CardType.normal), (2, .student), (3, .senior), (4, .test), (5, .military), (9, .unspecified),
        ] {
            var p = CardProfile(atr: CardProfile.defaultATR, application: .tUnion, number: "1000751000000000001")
            p.cardType = String(raw)
            var c = SimulatedSmartCard(card: try p.compile())
            c.powerOn()
            XCTAssertEqual(try read(&c).outcome.get().read.cardType, type)
        }
    }

    func testTUnionWithoutPPSEFallsBackToTheAID() throws {
        let (d, c) = try details("tunion-senior-no-ppse")
        XCTAssertEqual(d.read.cardType, .senior)
        XCTAssertEqual(d.read.balanceFen, 0)
        XCTAssertEqual(c.receivedCommands.first, .select(aid: CardApplicationReader.ppseName))
        XCTAssertEqual(c.receivedCommands[1], .select(aid: CardApplicationReader.tUnionAID))
    }

    func testBlockedApplicationIsReportedWithItsNumber() throws {
        let (d, c) = try details("tunion-blocked")
        XCTAssertTrue(d.read.applicationBlocked)
        XCTAssertEqual(d.read.key.number, "3104100075100000033")
        XCTAssertNil(d.read.balanceFen)
        XCTAssertFalse(c.receivedCommands.contains(.getBalance))
        XCTAssertEqual(
            DecisionEngine(policy: GatePolicy()).decide(d.read, status: nil, context: ctx()), .deny(.applicationBlocked)
        )
    }

    func ctx() -> DecisionContext {
        DecisionContext(today: CalendarDate(year: 2026, month: 11, day: 21)!, dataAgeSeconds: 0)
    }

    func testValidityAndOnCardFlagsGetTheirOwnDecisionReasons() throws {
        let engine = DecisionEngine(policy: GatePolicy())
        let expected: [(String, Reason)] = [
            ("tunion-expired", .expired), ("tunion-not-yet-valid", .notYetValid), ("municipal-expired", .expired),
            ("municipal-disabled", .disabled), ("municipal-blacklisted", .blacklisted),
            ("tunion-blocked", .applicationBlocked),
        ]
        for (name, reason) in expected {
            let (d, _) = try details(name)
            XCTAssertEqual(engine.decide(d.read, status: nil, context: ctx()).reason, reason, name)
        }
    }

    func testTopBitOfTheBalanceIsMasked() throws {
        XCTAssertEqual(try details("tunion-top-bit-balance").0.read.balanceFen, 100)
    }

    func testMunicipalCardEveryField() throws {
        let (d, c) = try details("municipal-normal")
        XCTAssertEqual(d.read.key, CardKey(medium: .municipalCard, number: "1000751234567890"))
        XCTAssertEqual(d.read.key.number, "1000751234567890")
        XCTAssertEqual(d.read.application, .beijingMunicipal)
        XCTAssertEqual(d.read.balanceFen, 2000)
        XCTAssertEqual(d.read.validFrom, date("2015-03-01"))
        XCTAssertEqual(d.read.validUntil, date("2035-02-28"))
        XCTAssertFalse(d.read.disabled)
        XCTAssertFalse(d.read.blacklistedOnCard)
        XCTAssertEqual(
            Array(c.receivedCommands.suffix(5)),
            [
                .select(fileID: 0x3F00), .readBinary(sfi: 0x04), .readBinary(sfi: 0x05), .select(fileID: 0x1001),
                .getBalance,
            ])
        assertNeverReadsCardholderFile(c)
    }

    func testMunicipalFlags() throws {
        XCTAssertTrue(try details("municipal-disabled").0.read.disabled)
        XCTAssertTrue(try details("municipal-blacklisted").0.read.blacklistedOnCard)
        XCTAssertFalse(try details("municipal-blacklisted").0.read.disabled)
    }

    func testUnknownApplication() throws {
        var c = try card("unknown-application")
        let report = read(&c)
        guard case .failure(let e) = report.outcome else { return XCTFail("read an unknown card") }
        XCTAssertEqual(e.failure, .unknownApplication)
        XCTAssertEqual(report.tapResult, .failed(.unknownApplication, nil))
        // A municipal-looking card whose serial is not Beijing's is unknown too.
        var p = CardProfile(atr: CardProfile.defaultATR, application: .beijingMunicipal, number: "3100751234567890")
        p.validUntil = "2030-01-01"
        var other = SimulatedSmartCard(card: try p.compile())
        other.powerOn()
        XCTAssertEqual(read(&other).tapResult, .failed(.unknownApplication, nil))
    }

    func testMalformedNumberIsAReadError() throws {
        var c = try card("tunion-malformed-number")
        let report = read(&c)
        XCTAssertEqual(report.tapResult, .failed(.malformedResponse, nil))
        guard case .failure(let e) = report.outcome else { return XCTFail() }
        XCTAssertEqual(e.step, "READ BINARY SFI 15")
    }

    func testRemovalAfterEveryAPDUIsACardRemovedFailure() throws {
        for name in ["tunion-normal", "municipal-normal"] {
            var total = try card(name)
            _ = read(&total)
            let n = total.apduCount
            for after in 0..<n {
                var c = try card(name, faults: [.removeAfter(after)])
                let report = read(&c)
                guard case .failure(let e) = report.outcome else { return XCTFail("\(name) after \(after) read") }
                XCTAssertEqual(e.failure, .cardRemoved, "\(name) after \(after)")
                XCTAssertEqual(report.exchanges.count, after + 1)
                XCTAssertNotNil(report.exchanges.last?.error)
                // Once the number is read, the aborted read names the card.
                if case .failed(_, let key?) = report.tapResult {
                    XCTAssertEqual(key.medium, name.hasPrefix("tunion") ? .transitCard : .municipalCard)
                }
            }
            var c = try card(name, faults: [.removeAfter(n)])
            XCTAssertNoThrow(try read(&c).outcome.get(), "removal after the last APDU does not matter")
        }
    }

    func testTruncatedResponses() throws {
        // T-Union: APDU 3 = SFI 15, 5 = GET BALANCE are malformed when cut; half of SFI 17 (48
        // bytes) still holds the type at byte 10, so that read succeeds.
        for n in 3...5 {
            var c = try card("tunion-normal", faults: [.truncate(apdu: n)])
            let r = read(&c)
            if n == 4 {
                XCTAssertEqual(try r.outcome.get().read.cardType, .normal)
            } else {
                XCTAssertEqual(r.outcome.failureValue?.code, .malformedData, "APDU \(n)")
            }
        }
        // Municipal (after the two failed T-Union SELECTs): 4 = SFI 04, 5 = SFI 05, 7 = GET BALANCE.
        for n in [4, 5, 7] {
            var c = try card("municipal-normal", faults: [.truncate(apdu: n)])
            let r = read(&c)
            if n == 5 {
                XCTAssertNoThrow(try r.outcome.get(), "half of SFI 05 still holds byte 0")
            } else {
                XCTAssertEqual(r.tapResult.failure, .malformedResponse, "APDU \(n)")
            }
        }
    }

    func testWrongStatusWords() throws {
        // SELECT AID answering an error that is not "absent" is a read error, not a fallback.
        var c = try card("tunion-normal", faults: [.wrongStatus(apdu: 2, status: .securityNotSatisfied)])
        XCTAssertEqual(read(&c).outcome.failureValue?.code, .unexpectedStatus(.securityNotSatisfied))
        for n in 3...5 {
            var c = try card("tunion-normal", faults: [.wrongStatus(apdu: n, status: .noPreciseDiagnosis)])
            let r = read(&c)
            XCTAssertEqual(r.tapResult.failure, .malformedResponse, "APDU \(n)")
            if n > 3 { XCTAssertEqual(r.tapResult.key?.number, "3104100075100000017") }
        }
        // A PPSE error does not matter: the AID is selected directly.
        var ppse = try card("tunion-normal", faults: [.wrongStatus(apdu: 1, status: .noPreciseDiagnosis)])
        XCTAssertNoThrow(try read(&ppse).outcome.get())
        // SFI 04 missing on a card that has an MF: unknown application.
        var m = try card("municipal-normal", faults: [.wrongStatus(apdu: 4, status: .fileNotFound)])
        XCTAssertEqual(read(&m).tapResult.failure, .unknownApplication)
        var m2 = try card("municipal-normal", faults: [.wrongStatus(apdu: 7, status: .conditionsNotSatisfied)])
        XCTAssertEqual(read(&m2).tapResult.failure, .malformedResponse)
    }

    func testTransportErrorsMapToReadFailures() {
        let kinds: [(CardIOError.Kind, ReadFailure)] = [
            (.cardRemoved, .cardRemoved), (.transmitFailed, .transmitFailed), (.timeout, .timeout),
            (.malformedResponse, .malformedResponse),
        ]
        for (kind, failure) in kinds {
            let r = CardApplicationReader().read { (_: CommandAPDU) throws(CardIOError) -> ResponseAPDU in
                throw CardIOError(kind, "test")
            }
            XCTAssertEqual(r.tapResult, .failed(failure, nil))
            XCTAssertTrue(r.exchanges.isEmpty, "not recording unless asked")
        }
    }

    func testSelectedCallbackAndRecording() throws {
        var c = try card("tunion-normal")
        var selectedAfter = -1
        var sent = 0
        let report = CardApplicationReader(recordExchanges: true).read(onSelected: { selectedAfter = sent }) {
            (cmd: CommandAPDU) throws(CardIOError) in
            sent += 1
            return try c.transmit(cmd)
        }
        XCTAssertEqual(selectedAfter, 2)
        XCTAssertEqual(
            report.exchanges.map(\.step),
            [
                "SELECT PPSE", "SELECT T-Union AID", "READ BINARY SFI 15", "READ BINARY SFI 17", "GET BALANCE",
            ])
        XCTAssertEqual(report.exchanges.last?.response?.data, [0, 0, 0x14, 0x6E])
    }

    func testGarbageNeverCrashes() throws {
        // Random responses of random lengths: every read ends in a typed outcome.
        var rng = SplitMix64(seed: 7)
        for _ in 0..<2000 {
            let r = CardApplicationReader().read { (_: CommandAPDU) throws(CardIOError) -> ResponseAPDU in
                let n = Int(rng.next() % 40)
                var bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                if rng.next() % 2 == 0 { bytes += [0x90, 0x00] }
                guard let resp = ResponseAPDU(bytes: bytes) else { throw CardIOError(.malformedResponse, "short") }
                return resp
            }
            _ = r.tapResult
        }
    }
}

extension Result {
    var failureValue: Failure? {
        if case .failure(let f) = self { return f }
        return nil
    }
}

extension Tap.Result {
    var failure: ReadFailure? {
        if case .failed(let f, _) = self { return f }
        return nil
    }
    var key: CardKey? {
        switch self {
        case .card(let r): r.key
        case .failed(_, let k): k
        }
    }
}
