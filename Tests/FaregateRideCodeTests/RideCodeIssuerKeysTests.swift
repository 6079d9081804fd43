import FaregateCore
import XCTest

/// The issuer-key file of RIDECODE.md, through the strict JSON reader.
final class RideCodeIssuerKeysTests: XCTestCase {
    static let sm2Key = "04" + String(repeating: "ab", count: 64)
    static let edKey = String(repeating: "cd", count: 32)

    func entry(
        issuer: String = "2", keyID: String = "7", alg: String = "\"sm2\"", key: String = sm2Key,
        from: String = "1767225600", until: String = "1798761600", revoked: String = "false", extra: String = ""
    ) -> String {
        """
        {"issuer": \(issuer), "key_id": \(keyID), "alg": \(alg), "public_key": "\(key)", "valid_from": \(from),
         "valid_until": \(until), "revoked": \(revoked)\(extra)}
        """
    }

    func decode(_ json: String) throws -> RideCodeIssuerKeyList {
        try RideCodeIssuerKeyList.decode(json: Array(json.utf8))
    }

    func testReadsTheDocumentedForm() throws {
        let list = try decode(
            "[" + entry() + "," + entry(issuer: "16", keyID: "1", alg: "\"ed25519\"", key: Self.edKey, revoked: "true")
                + "]")
        XCTAssertEqual(list.keys.count, 2)
        let k = try XCTUnwrap(list.key(issuer: 2, keyID: 7))
        XCTAssertEqual(k.issuer, .alipay)
        XCTAssertEqual(k.algorithm, .sm2)
        XCTAssertEqual(k.publicKey.count, 65)
        XCTAssertEqual(k.validFrom, 1_767_225_600)
        XCTAssertEqual(k.validUntil, 1_798_761_600)
        XCTAssertFalse(k.revoked)
        XCTAssertEqual(list.key(issuer: 16, keyID: 1)?.revoked, true)
        XCTAssertNil(list.key(issuer: 2, keyID: 1))
        XCTAssertEqual(try decode("[]").keys, [])
        // Upper-case hex is hex too.
        XCTAssertEqual(try decode("[" + entry(key: Self.sm2Key.uppercased()) + "]").keys.first?.publicKey, k.publicKey)
    }

    /// Each bad file names the field and says what is wrong.
    func testRefusalsNameTheField() {
        let table: [(String, String)] = [
            ("[" + entry() + "," + entry() + "]", "[1].key_id duplicates [0] (issuer 2, key 7)"),
            ("[" + entry(key: "04zz") + "]", "[0].public_key must be hex"),
            ("[" + entry(key: "0") + "]", "[0].public_key must be hex"),
            ("[" + entry(key: Self.edKey) + "]", "[0].public_key must be 65 bytes for sm2, not 32"),
            ("[" + entry(alg: "\"ed25519\"") + "]", "[0].public_key must be 32 bytes for ed25519, not 65"),
            (
                "[" + entry(key: "02" + String(repeating: "ab", count: 64)) + "]",
                "[0].public_key must be an uncompressed"
            ),
            ("[" + entry(alg: "\"rsa\"") + "]", "[0].alg must be ed25519 or sm2"),
            ("[" + entry(issuer: "5") + "]", "[0].issuer must be an issuer number"),
            ("[" + entry(issuer: "300") + "]", "[0].issuer"),
            ("[" + entry(keyID: "65536") + "]", "[0].key_id"),
            ("[" + entry(from: "-1") + "]", "[0].valid_from"),
            ("[" + entry(from: "1798761601") + "]", "[0].valid_until must not be before valid_from"),
            ("[" + entry(revoked: "0") + "]", "[0].revoked"),
            ("[" + entry(extra: ", \"note\": 1") + "]", "[0].note"),
            ("[{\"issuer\": 2}]", "is required"),
            ("{}", "top level"),
            ("[" + entry() + ",]", "trailing comma"),
        ]
        for (json, says) in table {
            XCTAssertThrowsError(try decode(json), says) { error in
                XCTAssertTrue("\(error)".contains(says), "expected '\(says)' in: \(error)")
            }
        }
    }

    func testDuplicateIsLocated() {
        XCTAssertThrowsError(try decode("[\n" + entry() + ",\n" + entry() + "\n]")) { error in
            guard let e = error as? JSONDecodingError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.field, "[1].key_id")
            XCTAssertEqual(e.position.line, 4)
        }
    }

    func testEncodesBackToTheSameList() throws {
        let list = try decode("[" + entry() + "]")
        let k = try XCTUnwrap(list.keys.first)
        XCTAssertEqual(Hex.lowercase(k.publicKey), Self.sm2Key)
        XCTAssertThrowsError(try RideCodeIssuerKeyList([k, k]))
    }
}
