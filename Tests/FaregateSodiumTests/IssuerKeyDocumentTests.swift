import FaregateCore
import FaregateSodium
import XCTest

/// The signed issuer-key document (issue 17.3): canonical round trip, and every refusal of
/// `SyncVerifier.verifyIssuerKeys` with real Ed25519 signatures: tampered bytes, another signer,
/// another scope, a rollback, a conflicting same version, issued in the future, expired; and no
/// byte string, however cut or flipped, traps the parser.
final class IssuerKeyDocumentTests: XCTestCase {
    let now: Int64 = 1_780_000_000_000

    static let ed = RideCodeIssuerKey(
        issuer: .alipay, keyID: 7, algorithm: .ed25519, publicKey: [UInt8](repeating: 0x11, count: 32),
        validFrom: 1_700_000_000, validUntil: 1_900_000_000)
    static let sm2 = RideCodeIssuerKey(
        issuer: .transitApp, keyID: 1, algorithm: .sm2, publicKey: [0x04] + [UInt8](repeating: 0x22, count: 64),
        validFrom: 1_700_000_000, validUntil: 1_900_000_000, revoked: true)

    func document(version: UInt64 = 3, keys: [RideCodeIssuerKey] = [ed, sm2], scope: SyncScope? = nil)
        throws -> IssuerKeyDocument
    {
        IssuerKeyDocument(
            scope: try scope ?? .production, version: version, issuedAtMillis: now - 1000,
            expiresAtMillis: now + 86_400_000, keys: try RideCodeIssuerKeyList(keys))
    }

    func testCanonicalBytesRoundTripSortedWithRevokedFlags() throws {
        let d = try document()
        let bytes = d.canonicalBytes
        XCTAssertEqual(Array(bytes.prefix(4)), Array("FGK1".utf8))
        XCTAssertEqual(bytes.count, IssuerKeyDocument.headerSize + (14 + 32) + (14 + 65))
        let back = try IssuerKeyDocument(canonical: bytes)
        XCTAssertEqual(back.version, 3)
        XCTAssertEqual(back.scope, try .production)
        // Sorted by (issuer, key id): the transit app's key (issuer 0) first, whatever the input order.
        XCTAssertEqual(back.keys.keys.map(\.issuer), [.transitApp, .alipay])
        XCTAssertEqual(back.keys.key(issuer: 0, keyID: 1)?.revoked, true)
        XCTAssertEqual(back.keys.key(issuer: 2, keyID: 7), Self.ed)
        XCTAssertEqual(try document(keys: [Self.sm2, Self.ed]).canonicalBytes, bytes, "one encoding per key set")
        XCTAssertEqual(try IssuerKeyDocument(canonical: try document(keys: []).canonicalBytes).keys.keys, [])
    }

    func testVerifiesOnlyGenuineDocumentsForThisScopeNeverOlder() throws {
        let central = try Ed25519KeyPair()
        let verifier = try SyncVerifier(pinnedPublicKey: central.publicKey, scope: .production)
        let d = try document()
        let sealed = d.sealed(by: central)
        XCTAssertEqual(try verifier.verifyIssuerKeys(sealed, nowMillis: now, held: nil), d)

        func refused(_ bytes: [UInt8], held: IssuerKeyDocument? = nil, at: Int64? = nil, checkExpiry: Bool = true)
            -> SyncVerificationError.Code?
        {
            do {
                _ = try verifier.verifyIssuerKeys(bytes, nowMillis: at ?? now, held: held, checkExpiry: checkExpiry)
                return nil
            } catch { return error.code }
        }
        // Every single-bit change anywhere: refused (the signature covers every byte before it).
        for i in sealed.indices {
            var t = sealed
            t[i] ^= 0x01
            XCTAssertNotNil(refused(t), "byte \(i) flipped")
        }
        XCTAssertEqual(refused(d.sealed(by: try Ed25519KeyPair())), .badSignature, "another signer")
        XCTAssertEqual(refused(try document(scope: .staging).sealed(by: central)), .wrongScope)
        XCTAssertEqual(refused(sealed + [0]), .badSignature, "padded")
        XCTAssertEqual(refused(Array(sealed.dropLast())), .badSignature, "cut")
        XCTAssertEqual(refused([]), .malformed)
        // Rollback: an older version than the one in force; the same version with other keys.
        let newer = try document(version: 4)
        XCTAssertEqual(refused(sealed, held: newer), .rolledBack)
        XCTAssertNil(refused(sealed, held: d), "the same document again is taken (and changes nothing)")
        XCTAssertEqual(refused(try document(keys: [Self.ed]).sealed(by: central), held: d), .malformed)
        XCTAssertNil(refused(newer.sealed(by: central), held: d))
        // Freshness, on the timestamp statement's skew bound.
        let skew = SyncTimestamp.maxClockSkewMillis
        XCTAssertEqual(refused(sealed, at: now - 1000 - skew - 1), .outOfDate, "issued in the future")
        XCTAssertNil(refused(sealed, at: now - 1000 - skew))
        XCTAssertEqual(refused(sealed, at: now + 86_400_000 + skew + 1), .outOfDate, "expired")
        XCTAssertNil(refused(sealed, at: now + 86_400_000 + skew + 1, checkExpiry: false), "kept copy at a restart")
    }

    func testMalformedFieldsAreRefusedWithoutATrap() throws {
        let good = try document().canonicalBytes
        func parse(_ b: [UInt8]) -> Bool { (try? IssuerKeyDocument(canonical: b)) != nil }
        XCTAssertTrue(parse(good))
        // Every prefix, and every byte set to each of a few values: parsed or refused, never a trap.
        for n in 0..<good.count { XCTAssertFalse(parse(Array(good.prefix(n))), "prefix \(n)") }
        for i in good.indices {
            for v: UInt8 in [0x00, 0x01, 0x02, 0x7f, 0x80, 0xff] {
                var t = good
                t[i] = v
                _ = parse(t)
            }
        }
        func with(_ offset: Int, _ bytes: [UInt8]) -> [UInt8] {
            var t = good
            t.replaceSubrange(offset..<offset + bytes.count, with: bytes)
            return t
        }
        XCTAssertFalse(parse(with(53, [UInt8](repeating: 0, count: 8))), "version 0")
        XCTAssertFalse(parse(with(53, [UInt8](repeating: 0xff, count: 8))), "version past 2^63 − 1")
        XCTAssertFalse(parse(with(77, [0xff, 0xff])), "count past the bytes and the limit")
        XCTAssertFalse(parse(with(77, [3, 0])), "count past the bytes")
        let first = IssuerKeyDocument.headerSize
        XCTAssertFalse(parse(with(first, [99])), "unknown issuer")
        XCTAssertFalse(parse(with(first + 3, [3])), "unknown algorithm")
        XCTAssertFalse(parse(with(first + 4, [2])), "unknown flag")
        XCTAssertFalse(parse(with(first + 13, [32])), "SM2 key of Ed25519's length")
        XCTAssertFalse(parse(with(first + 14, [0x02])), "SM2 key not an uncompressed point")
        XCTAssertFalse(parse(good + [0]), "trailing byte")
        // Out of order (the second entry before the first) and a duplicate: refused.
        let a = Array(good[first..<first + 79])
        let b = Array(good[(first + 79)...])
        XCTAssertFalse(parse(Array(good.prefix(first)) + b + a))
        XCTAssertFalse(parse(Array(good.prefix(first)) + b + b))
    }
}
