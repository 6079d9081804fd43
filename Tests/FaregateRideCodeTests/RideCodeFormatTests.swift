import FaregateCore
import XCTest

/// Check 1: the bytes and text of ride code v1, refused as `ride_code_malformed`.
final class RideCodeFormatTests: XCTestCase {
    func testEveryAlgorithmPairRoundTripsThroughText() throws {
        for (c, u) in RideCodeFixture.algorithmPairs {
            let code = try RideCodeFixture(cert: c, user: u).code(counter: 9, flags: 1)
            let text = code.text
            XCTAssertTrue(text.hasPrefix("RC1:"))
            XCTAssertTrue(text.utf8.allSatisfy { Base45.alphabet.contains($0) }, "QR alphanumeric mode")
            XCTAssertLessThanOrEqual(text.utf8.count, RideCode.maxTextLength)
            XCTAssertEqual(try RideCode(text: text), code)
            XCTAssertEqual(code.bytes.count, 25 + u.publicKeyLength + 64 + 73)
        }
        XCTAssertEqual(RideCode.maxByteCount, 227)
        XCTAssertEqual(RideCode.maxTextLength, 345)
    }

    /// The field offsets of RIDECODE.md, read back from a code built field by field.
    func testFieldLayout() throws {
        let f = try RideCodeFixture(cert: .ed25519, user: .sm2, account: 0x0123_4567_89AB)
        let code = f.code(generatedAt: 0x6955_0000, counter: 0x0102_0304, flags: 1)
        let b = code.bytes
        XCTAssertEqual(Array(b[0..<5]), [0x52, 0x43, 1, 1, 2])
        XCTAssertEqual(Array(b[5..<7]), [0, 7])
        XCTAssertEqual(Array(b[7..<15]), [0, 0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB])
        XCTAssertEqual(b[23], 2)
        XCTAssertEqual(b[24], 65)
        XCTAssertEqual(Array(b[25..<90]), f.phoneKey.publicKey)
        XCTAssertEqual(Array(b[90..<154]), f.certificate.signature)
        XCTAssertEqual(Array(b[154..<163]), [0x69, 0x55, 0, 0, 1, 2, 3, 4, 1])
        XCTAssertEqual(b.count, 154 + 73)
    }

    func testEveryTruncationIsMalformed() throws {
        for (c, u) in RideCodeFixture.algorithmPairs {
            let bytes = try RideCodeFixture(cert: c, user: u).code().bytes
            for n in 0..<bytes.count {
                XCTAssertThrowsError(try RideCode(bytes: Array(bytes.prefix(n))), "\(c)/\(u) prefix \(n)")
                let text = RideCode.textPrefix + Base45.encode(bytes.prefix(n))
                XCTAssertEqual(RideCodeVerifier.parse(text).refusal?.reason, .rideCodeMalformed)
            }
            // Text cut inside a Base45 group, too.
            let text = RideCode.textPrefix + Base45.encode(bytes)
            for n in 0..<text.utf8.count {
                XCTAssertThrowsError(try RideCode(textBytes: Array(text.utf8.prefix(n))), "text prefix \(n)")
            }
        }
    }

    func testTrailingBytesAreMalformed() throws {
        let bytes = try RideCodeFixture(cert: .sm2, user: .ed25519).code().bytes
        for extra in [[0], [0, 0], [0xFF], Array(repeating: UInt8(7), count: 20)] as [[UInt8]] {
            XCTAssertThrowsError(try RideCode(bytes: bytes + extra)) { error in
                XCTAssertTrue("\(error)".contains("after the phone's signature"), "\(error)")
            }
        }
        let text = try RideCodeFixture(cert: .ed25519, user: .ed25519).code().text
        for suffix in ["\r\n", "\n", " ", "0"] {
            XCTAssertNotNil(RideCodeVerifier.parse(text + suffix).refusal, "suffix \(suffix.debugDescription)")
        }
    }

    /// One field wrong at a time, each with what the error says.
    func testEachFormatRule() throws {
        let f = try RideCodeFixture(cert: .ed25519, user: .sm2)
        let good = f.code().bytes
        func damaged(_ at: Int, _ value: UInt8) -> [UInt8] {
            var b = good
            b[at] = value
            return b
        }
        let table: [(String, [UInt8], String)] = [
            ("magic", damaged(0, 0x53), "magic"),
            ("magic 2", damaged(1, 0x44), "magic"),
            ("version 0", damaged(2, 0), "version 0"),
            ("version 2", damaged(2, 2), "version 2"),
            ("cert alg 0", damaged(3, 0), "certificate algorithm 0"),
            ("cert alg 3", damaged(3, 3), "certificate algorithm 3"),
            ("account ≥ 2^52", damaged(8, 0x10), "2^52"),
            ("account top byte", damaged(7, 0x01), "2^52"),
            ("user alg 0", damaged(23, 0), "phone key algorithm 0"),
            ("user alg 3", damaged(23, 3), "phone key algorithm 3"),
            ("user key length 32 for SM2", damaged(24, 32), "phone key length 32"),
            ("user key length 64", damaged(24, 64), "phone key length 64"),
            ("compressed point", damaged(25, 0x02), "uncompressed"),
            ("flags bit 1", damaged(162, 0x02), "flags"),
            ("flags 0x81", damaged(162, 0x81), "flags"),
        ]
        for (name, bytes, says) in table {
            XCTAssertThrowsError(try RideCode(bytes: bytes), name) { error in
                XCTAssertTrue("\(error)".contains(says), "\(name): \(error)")
            }
        }
        // Ed25519 phone key with the SM2 length, and the other way round.
        let ed = try RideCodeFixture(cert: .ed25519, user: .ed25519).code().bytes
        var b = ed
        b[24] = 65
        XCTAssertThrowsError(try RideCode(bytes: b))
        // Every flag value but 0 and 1 is refused; those two parse.
        for flags in 0...255 {
            let r = try? RideCode(bytes: damaged(162, UInt8(flags)))
            XCTAssertEqual(r != nil, flags <= 1, "flags \(flags)")
        }
    }

    func testTextRules() throws {
        let text = try RideCodeFixture(cert: .ed25519, user: .ed25519).code().text
        let body = text.dropFirst(4)
        let table: [(String, String)] = [
            ("", "does not start"),
            ("RC1", "does not start"),
            ("rc1:" + body, "does not start"),
            ("RC2:" + body, "does not start"),
            (" RC1:" + body, "does not start"),
            ("RC1:" + body.lowercased(), "not Base45"),
            ("RC1:" + body.dropLast(2), "not Base45"),
            ("RC1:" + String(repeating: "0", count: 342), "longer than any ride code"),
            ("RC1:", "no RC magic"),
        ]
        for (t, says) in table {
            XCTAssertThrowsError(try RideCode(text: t), t) { error in
                XCTAssertTrue("\(error)".contains(says), "\(t.prefix(12)): \(error)")
            }
        }
    }

    /// Random bytes and texts: parsing returns a code or a format error, never traps; a code it
    /// returns gives back exactly the bytes it was parsed from.
    func testRandomInputNeverTraps() throws {
        var g = SplitMix64(seed: 17)
        let good = try RideCodeFixture(cert: .sm2, user: .sm2).code().bytes
        for i in 0..<20_000 {
            var b: [UInt8]
            if i % 2 == 0 {
                b = (0..<Int(g.next() % 260)).map { _ in UInt8(truncatingIfNeeded: g.next()) }
                if b.count > 3 && g.next() % 2 == 0 { b[0...2] = [0x52, 0x43, 1] }
            } else {
                b = good
                for _ in 0..<(1 + g.next() % 4) {
                    b[Int(g.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: g.next())
                }
            }
            if let code = try? RideCode(bytes: b) { XCTAssertEqual(code.bytes, b) }
            let text = (0..<Int(g.next() % 400)).map { _ in UInt8(truncatingIfNeeded: g.next() % 128) }
            _ = try? RideCode(textBytes: Array("RC1:".utf8) + text)
        }
    }
}

extension Result {
    var refusal: Failure? {
        if case .failure(let f) = self { return f }
        return nil
    }
}
