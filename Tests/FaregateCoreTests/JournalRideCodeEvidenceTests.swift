import FaregateCore
import Foundation
import XCTest

/// The ride-code group of a journal line (`JournalCodec+RideCode.swift`): a passage on a code
/// keeps the code's evidence and clearing mark, round trip exact; damaged evidence is refused
/// with an error, never a trap; card taps' lines do not change.
final class JournalRideCodeEvidenceTests: XCTestCase {
    static let certHash = (0..<32).map { UInt8($0 * 7 & 0xFF) }
    static let userSig = (0..<64).map { UInt8(255 - $0) }

    static func evidence(issuer: RideCodeIssuer = .shanghai, account: UInt64 = 4242, flags: UInt8 = 1)
        -> RideCodeEvidence
    {
        RideCodeEvidence(
            issuerNumber: issuer.rawValue, issuerKeyID: 7, account: account, certificateHash: certHash,
            generatedAt: 1_767_300_000, counter: 42, flags: flags, userSignature: userSig)
    }

    static func entry(_ e: RideCodeEvidence?, key: CardKey? = nil, shadow: Decision? = nil) -> JournalEntry {
        let k = key ?? e?.cardKey ?? CardKey(rideCodeIssuer: .alipay, account: 1)!
        return JournalEntry(
            sequence: 9, wallMillis: 1_767_300_000_123, reader: 2, key: k, kind: .decision, decision: .open(.ok),
            balanceFen: nil, dataVersion: 17,
            timings: StageTimings(select: 0, read: 1500, queue: 3, lookup: 1, decide: 2),
            shadowDecision: shadow, rideCode: e)
    }

    /// Re-seals a line whose body was changed, so the CRC passes and the field itself is judged.
    static func sealed(_ fields: [String]) -> Substring {
        let body = fields.joined(separator: "\t")
        return Substring(body + "\t" + String(CRC32.checksum(body.utf8), radix: 16))
    }

    static func fields(_ e: JournalEntry) -> [String] {
        JournalCodec.encode(e).split(separator: "\t", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    func testClearingIsDerivedFromTheIssuer() {
        for issuer in RideCodeIssuer.allCases {
            XCTAssertEqual(Self.evidence(issuer: issuer).clearing, issuer.rawValue >= 16, "\(issuer)")
        }
        XCTAssertFalse(RideCodeEvidence.needsClearing(issuerNumber: 200), "an issuer this build does not name")
        XCTAssertTrue(Self.evidence(issuer: .tianjin).clearing)
        XCTAssertFalse(Self.evidence(issuer: .transitApp).clearing)
    }

    func testEvidenceRoundTripsExactlyWithAndWithoutShadowAndClearing() throws {
        for issuer in [RideCodeIssuer.transitApp, .alipay, .shanghai, .hohhot] {
            for flags: UInt8 in [0, 1] {
                for shadow in [nil, Decision.deny(.healthRed)] {
                    var ev = Self.evidence(issuer: issuer, account: (1 << 52) - 1, flags: flags)
                    ev.counter = .max
                    ev.generatedAt = .max
                    ev.issuerKeyID = .max
                    let e = Self.entry(ev, shadow: shadow)
                    let line = JournalCodec.encode(e)
                    XCTAssertEqual(try JournalCodec.decode(Substring(line)), e)
                    XCTAssertEqual(JournalCodec.encode(try JournalCodec.decode(Substring(line))), line)
                    XCTAssertEqual(
                        line.contains("\tclearing\t"), issuer.isOtherCity, "the mark is stated in the record")
                }
            }
        }
        // The documented layout, field by field.
        let f = Self.fields(Self.entry(Self.evidence()))
        XCTAssertEqual(f.count, 15 + 8)
        XCTAssertEqual(
            Array(f[15...]).map { $0.count > 20 ? "\($0.count) hex" : $0 },
            [
                "rc", "7", "64 hex", "1767300000", "42", "1", "128 hex", "clearing",
            ])
        XCTAssertEqual(f[17], JournalCodec.lowercaseHex(Self.certHash))
        XCTAssertEqual(f[21], JournalCodec.lowercaseHex(Self.userSig))
    }

    func testCardTapLinesAreUnchanged() {
        // The checked-in line of a card tap (the same as before ride codes had evidence).
        let card = JournalEntry(
            sequence: 41, wallMillis: 1_654_041_600_123, reader: 0, key: CardKey(rawValue: 1), kind: .decision,
            decision: .open(.ok), balanceFen: 1234, dataVersion: 17,
            timings: StageTimings(select: 1, read: 2, queue: 3, lookup: 4, decide: 5))
        XCTAssertEqual(
            JournalCodec.encode(card),
            "J1\t41\t1654041600123\t0\t1\tdecision\topen\tok\t1234\t17\t1\t2\t3\t4\t5\ta3ab96e5")
        var refused = Self.entry(nil)
        refused.decision = .deny(.rideCodeReused)
        XCTAssertFalse(JournalCodec.encode(refused).contains("\trc\t"), "a refusal carries its reason only")
        XCTAssertEqual(
            try JournalCodec.decode(Substring(JournalCodec.encode(refused))).decision, .deny(.rideCodeReused))
    }

    /// Every damaged evidence field, re-sealed so the CRC passes: a `DecodeError`, never a trap.
    func testDamagedEvidenceFieldsAreRefused() {
        let good = Self.fields(Self.entry(Self.evidence()))
        let upper = good[17].uppercased()
        let damage: [(Int, String)] = [
            (16, "-1"), (16, "+7"), (16, "65536"), (16, ""), (16, "x"),
            (17, upper), (17, String(good[17].dropLast(2))), (17, good[17] + "00"), (17, "zz" + good[17].dropFirst(2)),
            (18, "4294967296"), (18, "-5"), (18, " 1"), (19, "4294967296"), (19, "1e3"),
            (20, "2"), (20, "255"), (20, "256"), (20, "-0"),
            (21, String(good[21].dropLast(1))), (21, good[21].uppercased()), (21, ""),
            (22, "yes"), (22, ""), (22, "Clearing"),
        ]
        for (i, value) in damage {
            var f = good
            f[i] = value
            XCTAssertThrowsError(try JournalCodec.decode(Self.sealed(f)), "field \(i) = '\(value)'") { error in
                XCTAssertTrue(error is JournalCodec.DecodeError, "\(error)")
            }
        }
        // A group cut short or grown, a group on a refusal, on a card key, or twice.
        for n in 1...7 {
            XCTAssertThrowsError(try JournalCodec.decode(Self.sealed(Array(good.dropLast(n)))), "\(n) fewer")
        }
        XCTAssertThrowsError(try JournalCodec.decode(Self.sealed(good + ["x"])))
        var deny = good
        deny[6] = "deny"
        XCTAssertThrowsError(try JournalCodec.decode(Self.sealed(deny)))
        var card = good
        card[4] = "1"
        XCTAssertThrowsError(try JournalCodec.decode(Self.sealed(card)))
        XCTAssertThrowsError(try JournalCodec.decode(Self.sealed(good + Array(good[15...]))))
        var staff = good
        staff[5] = "staff_command"
        XCTAssertThrowsError(try JournalCodec.decode(Self.sealed(staff)))
    }

    func testEveryTruncationAndByteFlipOfAnEvidenceLineIsRefused() {
        let line = Array(JournalCodec.encode(Self.entry(Self.evidence())).utf8)
        for n in 0..<line.count {
            XCTAssertThrowsError(try JournalCodec.decode(Substring(String(decoding: line.prefix(n), as: UTF8.self))))
        }
        for i in 0..<line.count {
            var d = line
            d[i] ^= 0x01
            XCTAssertThrowsError(try JournalCodec.decode(Substring(String(decoding: d, as: UTF8.self))), "byte \(i)")
        }
    }

    func testJSONCarriesTheEvidenceAndRoundTrips() throws {
        let e = Self.entry(Self.evidence())
        let data = try JSONEncoder().encode(e)
        let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let rc = try XCTUnwrap(o["ride_code"] as? [String: Any])
        XCTAssertEqual(rc["counter"] as? Int, 42)
        XCTAssertEqual(rc["clearing"] as? Bool, true)
        XCTAssertEqual(rc["issuer"] as? Int, 16)
        XCTAssertEqual(rc["account"] as? Int, 4242)
        XCTAssertEqual(rc["cert_sha256"] as? String, JournalCodec.lowercaseHex(Self.certHash))
        XCTAssertEqual(rc["user_sig"] as? String, JournalCodec.lowercaseHex(Self.userSig))
        XCTAssertEqual(try JSONDecoder().decode(JournalEntry.self, from: data), e)
        XCTAssertTrue(e.textLine.hasSuffix("\tride_code counter=42 generated_at=1767300000 clearing"), e.textLine)
        // Evidence of another account than the entry's card is refused.
        let other = Self.entry(Self.evidence(), key: CardKey(rideCodeIssuer: .shanghai, account: 1)!)
        XCTAssertThrowsError(try JSONDecoder().decode(JournalEntry.self, from: try JSONEncoder().encode(other)))
    }
}
