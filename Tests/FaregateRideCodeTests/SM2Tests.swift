import FaregateCore
import FaregateSM2
import Foundation
import XCTest

/// SM2 with SM3 against the `openssl` command line (OpenSSL 3): its signatures verify with
/// faregate's code and faregate's verify with it, with the default distinguishing ID.
final class SM2Tests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("faregate-sm2-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// Runs `openssl args`; returns its exit status, standard output and error.
    @discardableResult
    func openssl(_ args: [String], expect status: Int32? = 0) throws -> (status: Int32, out: Data, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["openssl"] + args
        p.currentDirectoryURL = dir
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        if let status { XCTAssertEqual(p.terminationStatus, status, "openssl \(args.joined(separator: " ")): \(e)") }
        return (p.terminationStatus, o, e)
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
    func write(_ name: String, _ bytes: [UInt8]) throws { try Data(bytes).write(to: dir.appendingPathComponent(name)) }
    func read(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: dir.appendingPathComponent(name))) }

    /// A key made by `openssl genpkey -algorithm SM2`: its secret scalar and public point.
    func opensslKey(_ name: String) throws -> (secret: [UInt8], point: [UInt8]) {
        try openssl(["genpkey", "-algorithm", "SM2", "-out", name + ".pem"])
        try openssl(["pkey", "-in", name + ".pem", "-pubout", "-outform", "DER", "-out", name + ".pub.der"])
        let text = String(decoding: try openssl(["pkey", "-in", name + ".pem", "-text", "-noout"]).out, as: UTF8.self)
        func hexBlock(after label: String) -> [UInt8] {
            guard let start = text.range(of: label + "\n") else { return [] }
            let lines = text[start.upperBound...].split(separator: "\n").prefix { $0.hasPrefix(" ") }
            return hexBytes(lines.joined().replacingOccurrences(of: ":", with: ""))
        }
        var secret = hexBlock(after: "priv:")
        // openssl prints the scalar without leading zero bytes, sometimes with one extra 00.
        while secret.count > 32, secret.first == 0 { secret.removeFirst() }
        secret = [UInt8](repeating: 0, count: max(0, 32 - secret.count)) + secret
        let point = Array(try read(name + ".pub.der").suffix(65))
        XCTAssertEqual(hexBlock(after: "pub:"), point)
        return (secret, point)
    }

    func sign(withOpenSSL key: String, message: String, distid: String = "1234567812345678") throws -> [UInt8] {
        try openssl([
            "pkeyutl", "-sign", "-in", message, "-inkey", key + ".pem", "-out", message + ".sig", "-rawin", "-digest",
            "sm3", "-pkeyopt", "distid:" + distid,
        ])
        return try SM2.rawSignature(der: try read(message + ".sig"))
    }

    func verifyWithOpenSSL(publicDER: String, message: String, signature: [UInt8]) throws -> Bool {
        try write(message + ".fsig", try SM2.derSignature(raw: signature))
        let r = try openssl(
            [
                "pkeyutl", "-verify", "-in", message, "-sigfile", message + ".fsig", "-pubin", "-keyform", "DER",
                "-inkey", publicDER, "-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678",
            ], expect: nil)
        return r.status == 0
    }

    func messages() throws -> [(String, [UInt8])] {
        let cert = try RideCodeFixture(cert: .sm2, user: .sm2).certificate.signedBytes
        let m: [(String, [UInt8])] = [
            ("empty", []), ("one", [0x61]), ("cert", cert), ("long", Array(repeating: 0x5A, count: 1000)),
        ]
        for (name, bytes) in m { try write(name, bytes) }
        return m
    }

    func testOpenSSLSignaturesVerify() throws {
        let key = try opensslKey("a")
        for (name, bytes) in try messages() {
            let sig = try sign(withOpenSSL: "a", message: name)
            XCTAssertTrue(SM2.verify(publicKey: key.point, message: bytes, signature: sig), name)
            XCTAssertFalse(SM2.verify(publicKey: key.point, message: bytes + [0], signature: sig), name)
            for i in 0..<64 {
                var bad = sig
                bad[i] ^= 0x80
                XCTAssertFalse(SM2.verify(publicKey: key.point, message: bytes, signature: bad), "\(name) byte \(i)")
            }
        }
        // Another distinguishing ID is another signature.
        let other = try sign(withOpenSSL: "a", message: "one", distid: "other-id")
        XCTAssertFalse(SM2.verify(publicKey: key.point, message: [0x61], signature: other))
    }

    func testFaregateSignaturesVerifyWithOpenSSL() throws {
        // A key faregate made; openssl reads its point in an SPKI whose header openssl wrote.
        _ = try opensslKey("template")
        let header = Array(try read("template.pub.der").dropLast(65))
        let ours = try SM2KeyPair()
        try write("ours.pub.der", header + ours.publicKey)
        for (name, bytes) in try messages() {
            let sig = try ours.signature(of: bytes)
            XCTAssertEqual(sig.count, 64)
            XCTAssertTrue(try verifyWithOpenSSL(publicDER: "ours.pub.der", message: name, signature: sig), name)
            var bad = sig
            bad[10] ^= 1
            XCTAssertFalse(try verifyWithOpenSSL(publicDER: "ours.pub.der", message: name, signature: bad), name)
        }
    }

    /// openssl's secret key in faregate's signer gives openssl's public point and signatures
    /// openssl accepts.
    func testOpenSSLSecretKeyInFaregate() throws {
        let key = try opensslKey("b")
        let pair = try SM2KeyPair(secretKey: key.secret)
        XCTAssertEqual(pair.publicKey, key.point)
        XCTAssertEqual(pair.secretKeyBytes, key.secret)
        _ = try messages()
        let sig = try pair.signature(of: [0x61])
        XCTAssertTrue(try verifyWithOpenSSL(publicDER: "b.pub.der", message: "one", signature: sig))
    }

    func testDERConversionBothWays() throws {
        var g = SplitMix64(seed: 2)
        for i in 0..<500 {
            var raw = (0..<64).map { _ in UInt8(truncatingIfNeeded: g.next()) }
            if i % 3 == 0 { raw[0] = 0 }  // r shorter than 32 bytes
            if i % 5 == 0 { raw[32...40] = [0, 0, 0, 0, 0, 0, 0, 0, 0] }
            if i % 2 == 0 { raw[0] |= 0x80 }  // r needs a DER 00 pad
            raw[63] |= 1  // s nonzero
            if raw[0...31].allSatisfy({ $0 == 0 }) { raw[31] = 1 }
            let der = try SM2.derSignature(raw: raw)
            XCTAssertEqual(der.first, 0x30)
            XCTAssertEqual(try SM2.rawSignature(der: der), raw)
        }
        XCTAssertThrowsError(try SM2.derSignature(raw: [UInt8](repeating: 1, count: 63)))
        XCTAssertThrowsError(try SM2.rawSignature(der: []))
        XCTAssertThrowsError(try SM2.rawSignature(der: [0x30, 0x00, 0x00]))
        let der = try SM2.derSignature(raw: [UInt8](repeating: 1, count: 64))
        XCTAssertThrowsError(try SM2.rawSignature(der: der + [0]))
        XCTAssertThrowsError(try SM2.rawSignature(der: Array(der.dropLast())))
        // An integer of 33 significant bytes does not fit r ‖ s.
        let wide: [UInt8] = [0x30, 0x26, 0x02, 0x21, 0x01] + [UInt8](repeating: 1, count: 32) + [0x02, 0x01, 0x01]
        XCTAssertThrowsError(try SM2.rawSignature(der: wide))
    }

    func testMalformedKeysAreRefused() throws {
        let pair = try SM2KeyPair()
        let sig = try pair.signature(of: [1, 2, 3])
        XCTAssertTrue(SM2.verify(publicKey: pair.publicKey, message: [1, 2, 3], signature: sig))
        var offCurve = pair.publicKey
        offCurve[64] ^= 1
        XCTAssertFalse(SM2.verify(publicKey: offCurve, message: [1, 2, 3], signature: sig))
        XCTAssertThrowsError(try SM2.checkedVerify(publicKey: offCurve, message: [1, 2, 3], signature: sig)) {
            XCTAssertEqual(($0 as? SM2Error)?.code, .badKey)
        }
        XCTAssertFalse(SM2.verify(publicKey: Array(pair.publicKey.prefix(64)), message: [], signature: sig))
        XCTAssertFalse(
            SM2.verify(publicKey: pair.publicKey, message: [1, 2, 3], signature: [UInt8](repeating: 0, count: 64)))
        XCTAssertThrowsError(try SM2KeyPair(secretKey: [UInt8](repeating: 0, count: 32)))
        XCTAssertThrowsError(try SM2KeyPair(secretKey: [UInt8](repeating: 0xFF, count: 32)))
        XCTAssertThrowsError(try SM2KeyPair(secretKey: [1]))
        XCTAssertEqual(try SM2KeyPair(secretKey: pair.secretKeyBytes).publicKey, pair.publicKey)
    }
}
