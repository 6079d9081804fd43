import FaregateCore
import FaregateSodium
import XCTest

/// Checks 3–8 of RIDECODE.md, one table per check, on real signatures of both algorithms.
final class RideCodeVerifierTests: XCTestCase {
    let now = RideCodeFixture.now
    let verifier = RideCodeFixture.verifier

    func verdict(
        _ f: RideCodeFixture, _ code: RideCode, now: Int64? = nil, freshness: RideCodeFreshness = .init(),
        replay: RideCodeReplayCache = RideCodeReplayCache(capacity: 64)
    ) -> RideCodeVerdict {
        verifier.verify(text: code.text, keys: f.keys, now: now ?? self.now, freshness: freshness, replay: replay)
    }

    func testAcceptsEveryAlgorithmPairWithItsEvidence() throws {
        for (c, u) in RideCodeFixture.algorithmPairs {
            let f = try RideCodeFixture(cert: c, user: u)
            let code = f.code(generatedAt: now - 5, counter: 42, flags: 1)
            guard case .accepted(let e) = verdict(f, code) else { return XCTFail("\(c)/\(u): \(verdict(f, code))") }
            XCTAssertEqual(e.issuer, .alipay)
            XCTAssertEqual(e.issuerKeyID, 7)
            XCTAssertEqual(e.account, RideCodeFixture.account)
            XCTAssertEqual(e.cardKey, CardKey(rideCodeIssuer: .alipay, account: RideCodeFixture.account))
            XCTAssertEqual(e.cardKey.medium, .rideCode)
            XCTAssertEqual(e.cardKey.rideCodeIssuer, .alipay)
            XCTAssertEqual(e.cardKey.rideCodeAccount, RideCodeFixture.account)
            XCTAssertEqual(e.generatedAt, UInt32(now - 5))
            XCTAssertEqual(e.counter, 42)
            XCTAssertTrue(e.madeOffline)
            XCTAssertEqual(e.userSignature, code.dynamicPart.signature)
            XCTAssertEqual(e.certificateHash, SodiumSHA256().sha256(code.certificate.bytes))
        }
    }

    /// Check 3: the issuer key must be known, of the certificate's algorithm, not revoked, and
    /// valid when the code was made (boundaries included).
    func testCheck3IssuerKey() throws {
        var f = try RideCodeFixture(cert: .sm2, user: .ed25519)
        let made = UInt32(now)
        let code = f.code(generatedAt: now)
        let base = f.keyEntry
        let table: [(String, (inout RideCodeIssuerKey) -> Void, Reason)] = [
            ("as issued", { _ in }, .ok),
            ("other key id", { $0.keyID = 8 }, .rideCodeUnknownKey),
            ("other issuer", { $0.issuer = .unionPay }, .rideCodeUnknownKey),
            ("revoked", { $0.revoked = true }, .rideCodeUnknownKey),
            ("not yet valid", { $0.validFrom = made + 1 }, .rideCodeUnknownKey),
            ("valid from generated_at", { $0.validFrom = made }, .ok),
            ("valid until generated_at", { $0.validUntil = made }, .ok),
            ("expired before generated_at", { $0.validUntil = made - 1 }, .rideCodeUnknownKey),
            (
                "other algorithm",
                {
                    $0.algorithm = .ed25519; $0.publicKey = Array($0.publicKey.prefix(32))
                }, .rideCodeUnknownKey
            ),
        ]
        for (name, change, reason) in table {
            f.keyEntry = base
            change(&f.keyEntry)
            XCTAssertEqual(verdict(f, code).reason, reason, name)
        }
        f.keyEntry = base
        XCTAssertEqual(
            verifier.verify(text: code.text, keys: .empty, now: now, replay: RideCodeReplayCache()).reason,
            .rideCodeUnknownKey)
    }

    /// Check 4: the certificate must be signed by the issuer key it names.
    func testCheck4CertificateSignature() throws {
        for (c, u) in RideCodeFixture.algorithmPairs {
            var f = try RideCodeFixture(cert: c, user: u)
            let other = try TestKey.make(c)
            f.certificate = f.certificate.signed(by: other.sign)
            XCTAssertEqual(verdict(f, f.code()).reason, .rideCodeBadSignature, "\(c)/\(u)")
            f.certificate.signature = [UInt8](repeating: 0, count: 64)
            XCTAssertEqual(verdict(f, f.code()).reason, .rideCodeBadSignature)
        }
    }

    /// Check 5: valid_from ≤ now ≤ valid_until, boundaries included.
    func testCheck5CertificateValidity() throws {
        var f = try RideCodeFixture(cert: .ed25519, user: .sm2)
        let table: [(Int64, Int64, Reason)] = [
            (now - 10, now + 10, .ok), (now, now, .ok), (now + 1, now + 10, .rideCodeCertificateExpired),
            (now - 10, now - 1, .rideCodeCertificateExpired), (now - 10, now, .ok), (now, now + 10, .ok),
        ]
        for (from, until, reason) in table {
            f.reissue {
                $0.validFrom = UInt32(from)
                $0.validUntil = UInt32(until)
            }
            XCTAssertEqual(verdict(f, f.code()).reason, reason, "\(from - now)…\(until - now)")
        }
        XCTAssertEqual(Reason.rideCodeCertificateExpired.messageZH, "请联网刷新乘车码")
        XCTAssertEqual(Reason.rideCodeCertificateExpired.messageEN, "Go online to refresh your ride code")
    }

    /// Check 6: the dynamic part must be signed by the phone key in the certificate.
    func testCheck6PhoneSignature() throws {
        for (c, u) in RideCodeFixture.algorithmPairs {
            let f = try RideCodeFixture(cert: c, user: u)
            let other = try TestKey.make(u)
            let forged = RideCode(certificate: f.certificate, generatedAt: UInt32(now), counter: 1) { other.sign($0) }
            XCTAssertEqual(verdict(f, forged).reason, .rideCodeBadSignature, "\(c)/\(u)")
            // The phone's signature of another dynamic part does not carry over.
            var swapped = f.code(counter: 2)
            swapped.dynamicPart.signature = f.code(counter: 3).dynamicPart.signature
            XCTAssertEqual(verdict(f, swapped).reason, .rideCodeBadSignature)
        }
    }

    /// Check 7: now − max_age ≤ generated_at ≤ now + max_skew, boundaries included.
    func testCheck7Freshness() throws {
        let f = try RideCodeFixture(cert: .ed25519, user: .ed25519)
        let table: [(Int64, RideCodeFreshness, Reason)] = [
            (0, .init(), .ok), (-60, .init(), .ok), (-61, .init(), .rideCodeExpired), (30, .init(), .ok),
            (31, .init(), .rideCodeExpired), (-3600, .init(), .rideCodeExpired), (-10, .init(maxAgeSeconds: 10), .ok),
            (-11, .init(maxAgeSeconds: 10), .rideCodeExpired), (5, .init(maxSkewSeconds: 5), .ok),
            (6, .init(maxSkewSeconds: 5), .rideCodeExpired), (1, .init(maxSkewSeconds: 0), .rideCodeExpired),
        ]
        for (offset, freshness, reason) in table {
            XCTAssertEqual(
                verdict(f, f.code(generatedAt: now + offset), freshness: freshness).reason, reason,
                "offset \(offset), \(freshness)")
        }
        XCTAssertEqual(Reason.rideCodeExpired.messageZH, "二维码已过期，请刷新")
        XCTAssertEqual(Reason.rideCodeExpired.messageEN, "Code expired: please refresh")
    }

    /// Check 8 through the verifier: the same code twice, an older code, a newer code.
    func testCheck8Replay() throws {
        let f = try RideCodeFixture(cert: .sm2, user: .sm2)
        let freshness = RideCodeFreshness()
        var cache = RideCodeReplayCache(capacity: 64)
        let first = f.code(generatedAt: now - 2, counter: 10)
        guard case .accepted(let e) = verdict(f, first, replay: cache) else { return XCTFail() }
        cache.record(e, now: now, freshness: freshness)
        XCTAssertEqual(verdict(f, first, now: now + 1, replay: cache).reason, .rideCodeReused)
        XCTAssertEqual(verdict(f, f.code(generatedAt: now - 3, counter: 9), replay: cache).reason, .rideCodeReused)
        XCTAssertEqual(verdict(f, f.code(generatedAt: now, counter: 11), replay: cache).reason, .ok)
        // Another account of the same issuer is not affected.
        var g = f
        g.reissue { $0.account = 5 }
        XCTAssertEqual(verdict(g, g.code(generatedAt: now, counter: 10), replay: cache).reason, .ok)
        XCTAssertEqual(Reason.rideCodeReused.messageZH, "请勿重复使用二维码")
        XCTAssertEqual(Reason.rideCodeReused.messageEN, "Code already used: please refresh")
    }

    /// The first failing check decides, in RIDECODE.md's order.
    func testChecksRunInOrder() throws {
        var f = try RideCodeFixture(cert: .ed25519, user: .sm2)
        let goodCert = f.certificate
        let forger = try TestKey.make(.ed25519)
        // Certificate expired AND badly signed: 4 before 5.
        f.reissue { $0.validUntil = UInt32(now - 100) }
        let expiredCert = f.certificate
        f.certificate = expiredCert.signed(by: forger.sign)
        XCTAssertEqual(verdict(f, f.code(generatedAt: now - 1000)).reason, .rideCodeBadSignature)
        // Expired certificate, forged phone signature, stale code: 5 before 6 and 7.
        f.certificate = expiredCert
        let phoneForger = try TestKey.make(.sm2)
        let forged = RideCode(certificate: expiredCert, generatedAt: UInt32(now - 1000), counter: 1) {
            phoneForger.sign($0)
        }
        XCTAssertEqual(verdict(f, forged).reason, .rideCodeCertificateExpired)
        // Forged phone signature on a stale code: 6 before 7.
        f.certificate = goodCert
        let staleForged = RideCode(certificate: goodCert, generatedAt: UInt32(now - 1000), counter: 1) {
            phoneForger.sign($0)
        }
        XCTAssertEqual(verdict(f, staleForged).reason, .rideCodeBadSignature)
        // Revoked key and forged everything: 3 first.
        f.keyEntry.revoked = true
        XCTAssertEqual(verdict(f, staleForged).reason, .rideCodeUnknownKey)
        // Stale and replayed: 7 before 8.
        f.keyEntry.revoked = false
        var cache = RideCodeReplayCache(capacity: 64)
        let code = f.code(generatedAt: now - 50, counter: 3)
        guard case .accepted(let e) = verdict(f, code) else { return XCTFail() }
        cache.record(e, now: now, freshness: .init())
        XCTAssertEqual(verdict(f, code, now: now + 20, replay: cache).reason, .rideCodeExpired)
        XCTAssertEqual(verdict(f, code, now: now + 5, replay: cache).reason, .rideCodeReused)
    }

    /// A changed bit at every byte offset of a code is refused, with the reason its field gives.
    func testTamperedByteAtEveryOffset() throws {
        for (c, u) in RideCodeFixture.algorithmPairs {
            let f = try RideCodeFixture(cert: c, user: u)
            let bytes = f.code(counter: 77).bytes
            let keyEnd = 25 + u.publicKeyLength
            for i in 0..<bytes.count {
                var b = bytes
                b[i] ^= 0x01
                let expected: Reason
                switch i {
                // magic, version, certificate algorithm; account ≥ 2^52; phone algorithm, key length
                case 0...3, 7, 23, 24: expected = .rideCodeMalformed
                case 25 where u == .sm2: expected = .rideCodeMalformed  // 04 → 05
                case 4...6: expected = .rideCodeUnknownKey  // issuer, key id
                default: expected = .rideCodeBadSignature
                }
                let text = RideCode.textPrefix + Base45.encode(b)
                let got = verifier.verify(text: text, keys: f.keys, now: now, replay: RideCodeReplayCache(capacity: 8))
                XCTAssertEqual(
                    got.reason, expected, "\(c)/\(u) byte \(i) of \(bytes.count) (phone key ends at \(keyEnd))")
            }
        }
    }

    /// A changed character anywhere in the text is never accepted.
    func testTamperedCharacterAnywhere() throws {
        let f = try RideCodeFixture(cert: .sm2, user: .ed25519)
        let text = Array(f.code().text.utf8)
        for i in 0..<text.count {
            var t = text
            t[i] = t[i] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
            let v = verifier.verify(
                text: String(decoding: t, as: UTF8.self), keys: f.keys, now: now,
                replay: RideCodeReplayCache(capacity: 8))
            XCTAssertNotEqual(v.reason, .ok, "character \(i)")
        }
    }

    /// Bench verification runs checks 1 and 3–7 only: a replayed code still passes it.
    func testVerifySignedHasNoReplayCheck() throws {
        let f = try RideCodeFixture(cert: .ed25519, user: .ed25519)
        let text = f.code().text
        XCTAssertEqual(verifier.verifySigned(text: text, keys: f.keys, now: now).reason, .ok)
        XCTAssertEqual(verifier.verifySigned(text: text, keys: f.keys, now: now).reason, .ok)
        XCTAssertEqual(verifier.verifySigned(text: "RC1:", keys: f.keys, now: now).reason, .rideCodeMalformed)
    }

    func testSuiteRefusesMalformedKeysAndSignatures() throws {
        let suite = RideCodeSignatureSuite(ed25519: Ed25519Verifier.verify, sm2: { _, _, _ in true })
        XCTAssertFalse(
            suite.verify(
                .sm2, publicKey: [4] + [UInt8](repeating: 1, count: 63), message: [],
                signature: [UInt8](repeating: 0, count: 64)))
        XCTAssertFalse(
            suite.verify(
                .sm2, publicKey: [2] + [UInt8](repeating: 1, count: 64), message: [],
                signature: [UInt8](repeating: 0, count: 64)))
        XCTAssertFalse(
            suite.verify(
                .sm2, publicKey: [4] + [UInt8](repeating: 1, count: 64), message: [],
                signature: [UInt8](repeating: 0, count: 63)))
        XCTAssertTrue(
            suite.verify(
                .sm2, publicKey: [4] + [UInt8](repeating: 1, count: 64), message: [],
                signature: [UInt8](repeating: 0, count: 64)))
        XCTAssertFalse(
            suite.verify(
                .ed25519, publicKey: [UInt8](repeating: 1, count: 33), message: [],
                signature: [UInt8](repeating: 0, count: 64)))
    }
}
