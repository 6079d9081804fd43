import Foundation
import XCTest

/// `farectl ride-code …` as a bench tester uses it, on the built binary: keys, a certificate,
/// codes shown as images and read back, and `verify`'s exit statuses and JSON (RIDECODE.md).
extension CLITests {
    func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    func testRideCodeBenchToolsEndToEnd() throws {
        let farectl = try DaemonProcess.binary("farectl")
        var entries: [Any] = []
        for (alg, issuer) in [("sm2", "2"), ("ed25519", "16")] {
            let k = try run(
                farectl,
                ["ride-code", "issuer-keygen", "--alg", alg, "--issuer", issuer, "--key-id", "7", "--out", dir])
            XCTAssertEqual(k.status, 0, k.err)
            entries += try XCTUnwrap(JSONSerialization.jsonObject(with: Data(k.out.utf8)) as? [Any])
            let secret = "\(dir!)/issuer-\(issuer)-key-7.secret.json"
            let mode = try FileManager.default.attributesOfItem(atPath: secret)[.posixPermissions] as? Int
            XCTAssertEqual(mode, 0o600)
            // Never over an existing key.
            let again = try run(
                farectl,
                ["ride-code", "issuer-keygen", "--alg", alg, "--issuer", issuer, "--key-id", "7", "--out", dir])
            XCTAssertEqual(again.status, 1, again.err)
        }
        let keys = dir + "/keys.json"
        try JSONSerialization.data(withJSONObject: entries).write(to: URL(fileURLWithPath: keys))

        for (issuer, userAlg) in [("2", "ed25519"), ("16", "sm2")] {
            let phone = "\(dir!)/phone-\(issuer).json"
            let issue = try run(
                farectl,
                [
                    "ride-code", "issue", "--issuer-secret", "\(dir!)/issuer-\(issuer)-key-7.secret.json", "--account",
                    "4242",
                    "--user-alg", userAlg, "--valid-from", String(Int(Date().timeIntervalSince1970) - 3600), "--out",
                    phone,
                    "--json",
                ])
            XCTAssertEqual(issue.status, 0, issue.err)
            let pbm = "\(dir!)/code-\(issuer).pbm"
            let show = try run(farectl, ["ride-code", "show", "--phone", phone, "--pbm", pbm, "--json"])
            XCTAssertEqual(show.status, 0, show.err)
            let shown = try json(show.out)
            let text = try XCTUnwrap(shown["text"] as? String)
            XCTAssertEqual(shown["counter"] as? Int, 1)
            let decoded = try run(farectl, ["ride-code", "decode", "--image", pbm, "--json"])
            XCTAssertEqual(try json(decoded.out)["texts"] as? [String], [text])

            let ok = try run(farectl, ["ride-code", "verify", text, "--issuer-keys", keys, "--json"])
            XCTAssertEqual(ok.status, 0, ok.err)
            let accepted = try json(ok.out)
            XCTAssertEqual(Set(accepted.keys), ["accepted", "issuer", "account", "counter"])
            XCTAssertEqual(accepted["accepted"] as? Bool, true)
            XCTAssertEqual(accepted["issuer"] as? Int, Int(issuer))
            XCTAssertEqual(accepted["account"] as? Int, 4242)
            XCTAssertEqual(accepted["counter"] as? Int, 1)

            // The next code has the next counter.
            let next = try json(try run(farectl, ["ride-code", "show", "--phone", phone, "--json"]).out)
            XCTAssertEqual(next["counter"] as? Int, 2)

            let at = Int(Date().timeIntervalSince1970)
            let table: [(String, [String], String)] = [
                ("stale", [text, "--at", String(at + 120)], "ride_code_expired"),
                ("future", [text, "--at", String(at - 120)], "ride_code_expired"),
                ("certificate not yet valid", [text, "--at", String(at - 100_000)], "ride_code_certificate_expired"),
                ("tampered", [String(text.dropLast()) + (text.last == "0" ? "1" : "0")], "ride_code_bad_signature"),
                ("malformed", ["RC1:0"], "ride_code_malformed"),
            ]
            for (name, extra, reason) in table {
                let r = try run(farectl, ["ride-code", "verify"] + extra + ["--issuer-keys", keys, "--json"])
                XCTAssertEqual(r.status, 1, "\(name): \(r.err)")
                let refused = try json(r.out)
                XCTAssertEqual(Set(refused.keys), ["accepted", "reason"], name)
                XCTAssertEqual(refused["accepted"] as? Bool, false, name)
                XCTAssertEqual(refused["reason"] as? String, reason, name)
            }
            // Keys the code was not made with: unknown key.
            let other = try run(
                farectl,
                [
                    "ride-code", "verify", text, "--issuer-keys",
                    "\(dir!)/issuer-\(issuer == "2" ? "16" : "2")-key-7.public.json", "--json",
                ])
            XCTAssertEqual(try json(other.out)["reason"] as? String, "ride_code_unknown_key")
        }
        // Usage errors exit 2.
        for bad in [
            ["ride-code", "verify", "--json"], ["ride-code", "verify", "RC1:", "--json"],
            ["ride-code", "verify", "RC1:", "--issuer-keys", keys, "--at", "soon", "--json"],
        ] {
            let r = try run(farectl, bad)
            XCTAssertEqual(r.status, 2, "\(bad): \(r.out)")
            XCTAssertEqual((try json(r.out)["error"] as? [String: Any])?["code"] as? String, "usage")
        }
        // A bad key file is a failure (exit 1) that names the field.
        try Data("[{\"issuer\": 2}]".utf8).write(to: URL(fileURLWithPath: dir + "/bad.json"))
        let bad = try run(farectl, ["ride-code", "verify", "RC1:", "--issuer-keys", dir + "/bad.json"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.err.contains("is required"), bad.err)
    }
}
