import FaregateCore
import XCTest

final class Base45Tests: XCTestCase {
    /// RFC 9285 §4.3 and §4.4 examples.
    func testRFC9285Examples() throws {
        let table: [(String, String)] = [
            ("AB", "BB8"), ("Hello!!", "%69 VD92EX0"), ("base-45", "UJCLQE7W581"), ("ietf!", "QED8WEX0"),
        ]
        for (plain, encoded) in table {
            XCTAssertEqual(Base45.encode(Array(plain.utf8)), encoded)
            XCTAssertEqual(try Base45.decode(Array(encoded.utf8)), Array(plain.utf8))
        }
    }

    func testBoundariesOfEachGroup() throws {
        XCTAssertEqual(Base45.encode([0xFF, 0xFF]), "FGW")
        XCTAssertEqual(Base45.encode([0xFF]), "U5")
        XCTAssertEqual(Base45.encode([]), "")
        XCTAssertEqual(try Base45.decode(Array("".utf8)), [])
        XCTAssertEqual(try Base45.decode(Array("FGW".utf8)), [0xFF, 0xFF])
        XCTAssertEqual(try Base45.decode(Array("U5".utf8)), [0xFF])
        XCTAssertEqual(try Base45.decode(Array("000".utf8)), [0, 0])
        XCTAssertEqual(try Base45.decode(Array("00".utf8)), [0])
    }

    func testEveryTwoByteValueRoundTrips() throws {
        for n in 0...0xFFFF {
            let b = [UInt8(n >> 8), UInt8(n & 0xFF)]
            let t = Base45.encode(b)
            XCTAssertEqual(t.utf8.count, 3)
            XCTAssertEqual(try Base45.decode(Array(t.utf8)), b)
        }
        for n in 0...0xFF {
            XCTAssertEqual(try Base45.decode(Array(Base45.encode([UInt8(n)]).utf8)), [UInt8(n)])
        }
    }

    func testRefusals() {
        let table: [(String, Base45.DecodingError)] = [
            ("GGW", .groupTooLarge(offset: 0)),  // 65 536
            ("ZZZ", .groupTooLarge(offset: 0)),
            ("000ZZ", .groupTooLarge(offset: 3)),  // 1610 > 255
            ("V5", .groupTooLarge(offset: 0)),  // 256
            ("0", .badLength(1)),
            ("0000", .badLength(4)),
            ("00a", .notInAlphabet(offset: 2, byte: UInt8(ascii: "a"))),
            ("0\n0", .notInAlphabet(offset: 1, byte: 0x0A)),
            ("0\u{FF}", .notInAlphabet(offset: 1, byte: 0xC3)),
        ]
        for (text, error) in table {
            XCTAssertThrowsError(try Base45.decode(Array(text.utf8)), text) {
                XCTAssertEqual($0 as? Base45.DecodingError, error, text)
            }
        }
    }

    /// Random texts over the alphabet and beyond: decoding returns or throws, and what it returns
    /// encodes back to the same text.
    func testRandomTextsNeverTrap() {
        var g = SplitMix64(seed: 45)
        for _ in 0..<5_000 {
            let n = Int(g.next() % 40)
            let text = (0..<n).map { _ in
                g.next() % 8 == 0 ? UInt8(truncatingIfNeeded: g.next()) : Base45.alphabet[Int(g.next() % 45)]
            }
            if let bytes = try? Base45.decode(text) {
                XCTAssertEqual(Array(Base45.encode(bytes).utf8), text)
            }
        }
    }
}
