import FaregateCore
import FaregateSimulation
import Foundation
import XCTest

final class CardProfileTests: XCTestCase {
    func decode(_ json: String) -> CardProfileError? {
        do {
            _ = try CardProfile.decode(Data(json.utf8), source: "t.json")
            return nil
        } catch {
            return error
        }
    }

    func testEverySeedProfileLoads() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: CardApplicationReaderTests.seeds.path)
            .filter { $0.hasSuffix(".json") }
        XCTAssertGreaterThanOrEqual(files.count, 10)
        for f in files {
            XCTAssertNoThrow(
                try CardProfile.load(path: CardApplicationReaderTests.seeds.appendingPathComponent(f).path), f)
        }
    }

    func testErrorsNameTheField() {
        XCTAssertEqual(decode("{").map(\.field), "json")
        XCTAssertEqual(decode(#"{"application":"t-union"}"#).map(\.field), "atr")
        XCTAssertEqual(decode(#"{"atr":"3B00","application":"bank"}"#).map(\.field), "application")
        XCTAssertEqual(decode(#"{"atr":"3B0","application":"none"}"#).map(\.field), "atr")
        XCTAssertEqual(decode(#"{"atr":"3B00","application":"t-union"}"#).map(\.field), "number")
        XCTAssertEqual(decode(#"{"atr":"3B00","application":"t-union","number":"12"}"#).map(\.field), "number")
        XCTAssertEqual(
            decode(#"{"atr":"3B00","application":"t-union","number":"1000751000000000001","validUntil":"2023-02-30"}"#)
                .map(\.field), "validUntil")
        XCTAssertEqual(
            decode(#"{"atr":"3B00","application":"t-union","number":"1000751000000000001","cardType":"vip"}"#)
                .map(\.field), "cardType")
        XCTAssertEqual(
            decode(#"{"atr":"3B00","application":"beijing-municipal","number":"1000751000000000001"}"#).map(\.field),
            "number")
        XCTAssertEqual(
            decode(#"{"atr":"3B00","application":"none","files":{"40":"00"}}"#).map(\.field), "files.40")
        XCTAssertEqual(
            decode(#"{"atr":"3B00","application":"none","balanceFen":-1}"#).map(\.field), "balanceFen")
        XCTAssertNil(decode(#"{"atr":"3B00","application":"none"}"#))
        XCTAssertEqual(
            (try? CardProfile.load(path: "/nonexistent/card.json")).map { _ in "loaded" } ?? "failed", "failed")
    }

    func testFaultParsing() {
        XCTAssertEqual(CardFault(parsing: "remove-after:3"), .removeAfter(3))
        XCTAssertEqual(CardFault(parsing: "wrong-sw:2:6A82"), .wrongStatus(apdu: 2, status: .fileNotFound))
        XCTAssertEqual(CardFault(parsing: "truncate:4"), .truncate(apdu: 4))
        XCTAssertEqual(CardFault(parsing: "slow:1:250"), .slow(apdu: 1, millis: 250))
        for bad in ["", "remove-after", "wrong-sw:2", "wrong-sw:0:9000", "truncate:x", "slow:1", "explode:1"] {
            XCTAssertNil(CardFault(parsing: bad), bad)
        }
        for f in [CardFault.removeAfter(2), .wrongStatus(apdu: 3, status: .securityNotSatisfied), .truncate(apdu: 1)] {
            XCTAssertEqual(CardFault(parsing: f.description), f)
        }
    }

    func testSlowFaultReportsDelayAndCardAnswersGarbageCommands() throws {
        let compiled = try CardProfile(atr: "3B00", application: .tUnion, number: "1000751000000000001").compile()
        var c = SimulatedSmartCard(card: compiled, faults: [.slow(apdu: 2, millis: 300)])
        c.powerOn()
        XCTAssertEqual(c.answer([0x00, 0xA4]), .respond([0x67, 0x00], delayMillis: 0))
        guard case .respond(_, let delay) = c.answer(CommandAPDU.select(aid: CardApplicationReader.tUnionAID).bytes)
        else { return XCTFail() }
        XCTAssertEqual(delay, 300)
        XCTAssertEqual(c.answer([0xFF, 0x00, 0x00, 0x00]), .respond([0x6E, 0x00], delayMillis: 0))
        XCTAssertEqual(c.answer([0x00, 0x84, 0x00, 0x00, 0x08]), .respond([0x6D, 0x00], delayMillis: 0))
    }
}
