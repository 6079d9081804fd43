import FaregateCore
import XCTest

final class APDUCodecTests: XCTestCase {
    func testCommandCasesRoundTrip() throws {
        let cases: [CommandAPDU] = [
            try XCTUnwrap(CommandAPDU(cla: 0, ins: 0xA4, p1: 4, p2: 0)),
            try XCTUnwrap(CommandAPDU(cla: 0, ins: 0xB0, p1: 0x95, p2: 0, le: 256)),
            try XCTUnwrap(CommandAPDU(cla: 0, ins: 0xB0, p1: 0x95, p2: 0, le: 30)),
            try XCTUnwrap(CommandAPDU(cla: 0, ins: 0xA4, p1: 0, p2: 0, data: [0x3F, 0x00])),
            try XCTUnwrap(CommandAPDU(cla: 0, ins: 0xA4, p1: 4, p2: 0, data: [1, 2, 3], le: 256)),
            try XCTUnwrap(CommandAPDU(cla: 0, ins: 0xA4, p1: 4, p2: 0, data: [UInt8](repeating: 7, count: 255), le: 1)),
        ]
        for c in cases {
            XCTAssertEqual(CommandAPDU(bytes: c.bytes), c, "\(c)")
        }
        XCTAssertEqual(cases[1].bytes, [0x00, 0xB0, 0x95, 0x00, 0x00])
        XCTAssertEqual(cases[3].bytes, [0x00, 0xA4, 0x00, 0x00, 0x02, 0x3F, 0x00])
    }

    func testWellKnownCommandsEncodeAsTheSpecsSay() {
        XCTAssertEqual(CommandAPDU.getBalance.bytes, [0x80, 0x5C, 0x00, 0x02, 0x04])
        XCTAssertEqual(CommandAPDU.readBinary(sfi: 0x15).bytes, [0x00, 0xB0, 0x95, 0x00, 0x00])
        XCTAssertEqual(CommandAPDU.readBinary(sfi: 0x15).readBinarySFI, 0x15)
        XCTAssertEqual(
            CommandAPDU.select(aid: CardApplicationReader.tUnionAID).bytes,
            [0x00, 0xA4, 0x04, 0x00, 0x08, 0xA0, 0x00, 0x00, 0x06, 0x32, 0x01, 0x01, 0x05, 0x00])
        XCTAssertEqual(CommandAPDU.select(aid: CardApplicationReader.ppseName).bytes.count, 5 + 14 + 1)
        XCTAssertEqual(CommandAPDU.select(fileID: 0x1001).bytes, [0x00, 0xA4, 0x00, 0x00, 0x02, 0x10, 0x01, 0x00])
    }

    func testMalformedCommandsAreRejected() {
        XCTAssertNil(CommandAPDU(bytes: [0x00, 0xA4, 0x04]))
        XCTAssertNil(CommandAPDU(bytes: [0x00, 0xA4, 0x04, 0x00, 0x03, 0x01]))  // Lc 3, one byte
        XCTAssertNil(CommandAPDU(bytes: [0x00, 0xA4, 0x04, 0x00, 0x00, 0x01, 0x00]))  // extended length
        XCTAssertNil(CommandAPDU(cla: 0, ins: 0, p1: 0, p2: 0, data: [UInt8](repeating: 0, count: 256)))
        XCTAssertNil(CommandAPDU(cla: 0, ins: 0, p1: 0, p2: 0, le: 0))
        XCTAssertNil(CommandAPDU(cla: 0, ins: 0, p1: 0, p2: 0, le: 257))
    }

    func testResponseParsing() throws {
        XCTAssertNil(ResponseAPDU(bytes: [0x90]))
        XCTAssertNil(ResponseAPDU(bytes: []))
        let r = try XCTUnwrap(ResponseAPDU(bytes: [0x01, 0x02, 0x62, 0x83]))
        XCTAssertEqual(r.data, [1, 2])
        XCTAssertEqual(r.status, .selectedFileInvalidated)
        XCTAssertEqual(r.status.sw1, 0x62)
        XCTAssertEqual(r.status.sw2, 0x83)
        XCTAssertEqual(r.bytes, [0x01, 0x02, 0x62, 0x83])
        XCTAssertEqual(ResponseAPDU(bytes: [0x90, 0x00])?.status, .success)
        XCTAssertEqual(StatusWord(rawValue: 0x6A82).description, "6A 82")
        XCTAssertTrue(StatusWord.fileNotFound.meansNotPresent)
        XCTAssertFalse(StatusWord.securityNotSatisfied.meansNotPresent)
    }

    func testHex() {
        XCTAssertEqual(Hex.bytes("3b 8a:80-01"), [0x3B, 0x8A, 0x80, 0x01])
        XCTAssertNil(Hex.bytes("3b8"))
        XCTAssertNil(Hex.bytes("zz"))
        XCTAssertEqual(Hex.string([0x00, 0xAB]), "00 AB")
    }

    func testBCD() {
        XCTAssertEqual(BCD.digits([0x10, 0x00, 0x75]), "100075")
        XCTAssertNil(BCD.digits([0x1A]))
        XCTAssertEqual(BCD.encode("20351231"), [0x20, 0x35, 0x12, 0x31])
        XCTAssertNil(BCD.encode("123"))
        XCTAssertNil(BCD.encode("12a4"))
        XCTAssertEqual(BCD.date([0x20, 0x35, 0x12, 0x31]), .date(CalendarDate(year: 2035, month: 12, day: 31)!))
        XCTAssertEqual(BCD.date([0, 0, 0, 0]), .unset)
        XCTAssertEqual(BCD.date([0xFF, 0xFF, 0xFF, 0xFF]), .unset)
        XCTAssertNil(BCD.date([0x20, 0x23, 0x02, 0x30]))  // 30 February
        XCTAssertNil(BCD.date([0x20, 0x23, 0x1A, 0x01]))
        XCTAssertNil(BCD.date([0x20, 0x23, 0x01]))
        for days in stride(from: 0, to: 30000, by: 37) {
            let d = CalendarDate(daysSinceEpoch: days)
            XCTAssertEqual(BCD.date(BCD.encode(d)), .date(d))
        }
    }
}
