import FaregateCore
import FaregateModbus
import FaregateRuntime
import FaregateSQLite
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 17.3 as it ships: issuer keys are central data. A key added at central
/// (`farectl central issuer-keys add`) and signed (`… publish`) reaches the running release
/// `faregated` with a pinned central key at its next sync, and a code signed under it, written
/// to the pty the gate reads as its serial scanner, opens the gate; the key revoked at central
/// and published again is refused (`ride_code_unknown_key`) from the next sync on; after a
/// restart with central out of reach the gate checks codes against the document it kept beside
/// its table (verified again); a kept document with one byte changed is refused at the start.
final class RideCodeIssuerKeyDaemonTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = "/tmp/fg-ik-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir + "/journal", withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func write(_ pty: PseudoTerminal, _ s: String) {
        let b = Array(s.utf8)
        XCTAssertEqual(b.withUnsafeBytes { Glibc.write(pty.master, $0.baseAddress, $0.count) }, b.count)
    }

    func testIssuerKeysAddedAndRevokedAtCentralRuleTheRunningGatesScanner() throws {
        let daemon = try DaemonProcess.binary("faregated")
        let farectl = try DaemonProcess.binary("farectl")
        func ctl(_ args: [String], _ line: UInt = #line) throws -> String {
            let r = try DaemonProcess.run(farectl, args)
            XCTAssertEqual(r.status, 0, "\(args): \(r.err)", line: line)
            return r.out
        }
        let central = dir + "/central.sqlite"
        let db = ["--db", central]
        let production = ["--network", "metro", "--environment", "production"]
        let signing = ["--signing-key", dir + "/central.sec"] + production
        // Two riders, one per issuer key (7 and 8 of Alipay), each with a phone certified by it.
        let rider7 = try XCTUnwrap(CardKey(rideCodeIssuer: .alipay, account: 4242))
        let rider8 = try XCTUnwrap(CardKey(rideCodeIssuer: .alipay, account: 4343))
        try SQLiteCentralStore.create(at: central).insertCards(
            [rider7, rider8].enumerated().map { i, key in
                .init(
                    key: key, cardType: .normal, identityHash: [UInt8](repeating: UInt8(i + 1), count: 32),
                    health: .green)
            }, wallMillis: 1)
        _ = try ctl(["central", "keygen", "--signing", dir + "/central"])
        _ = try ctl(["central", "publish"] + db + signing + ["--snapshot"])
        _ = try ctl(["central", "timestamp"] + db + signing)
        let validFrom = String(Int(Date().timeIntervalSince1970) - 3600)
        for (keyID, account) in [(7, 4242), (8, 4343)] {
            _ = try ctl(
                [
                    "ride-code", "issuer-keygen", "--alg", keyID == 7 ? "ed25519" : "sm2", "--issuer", "2", "--key-id",
                    "\(keyID)", "--valid-from", validFrom, "--out", dir,
                ])
            _ = try ctl(
                [
                    "ride-code", "issue", "--issuer-secret", "\(dir!)/issuer-2-key-\(keyID).secret.json", "--account",
                    "\(account)", "--valid-from", validFrom, "--out", "\(dir!)/phone-\(keyID).json",
                ])
        }
        func show(_ keyID: Int) throws -> String {
            let s = try ctl(["ride-code", "show", "--phone", "\(dir!)/phone-\(keyID).json", "--json"])
            let o = try JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any]
            return try XCTUnwrap(o?["text"] as? String)
        }
        // Key 7 only, at first: added at central from its public file and signed as version 1.
        _ = try ctl(["central", "issuer-keys", "add"] + db + ["--file", dir + "/issuer-2-key-7.public.json"])
        let published = try ctl(["central", "issuer-keys", "publish"] + db + signing + ["--json"])
        XCTAssertTrue(published.contains("\"version\":1"), published)

        let link = dir + "/scanner"
        let pty = try PseudoTerminal(link: link)
        let config = dir + "/gate.json"
        try """
        {"gate_id": "IK-1", "journal_dir": "journal", "control_socket": "gate.sock",
         "snapshot_file": "table.snapshot",
         "central": {"sqlite": "central.sqlite", "public_key": "central.pub",
                     "network": "metro", "environment": "production"},
         "sync": {"interval_seconds": 3600}, "readers": {"backend": "simulated", "count": 1},
         "log_level": "debug",
         "ride_codes": {"scanners": [
           {"backend": "serial", "device": "scanner", "baud": 115200, "terminator": "crlf", "max_length": 1024},
           {"backend": "simulated"}]}}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let check = try DaemonProcess.run(daemon, ["--check-config", config])
        XCTAssertEqual(check.status, 0, check.out + check.err)
        XCTAssertTrue(check.out.contains("issuer keys from central"), check.out)
        let socket = dir + "/gate.sock"

        var (p, err) = try DaemonProcess.start(daemon, config: config)
        var log = LogLines(err)
        defer {
            if p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
            }
        }
        XCTAssertTrue(
            log.wait { $0.contains("issuer keys version 1 in force from central: 1 key(s), 0 revoked") }, log.text)
        XCTAssertTrue(log.wait { $0.contains("control socket") }, log.text)

        // A code under key 7 opens; one under key 8 (not at central yet) is an unknown key.
        write(pty, try show(7) + "\r\n")
        XCTAssertTrue(log.wait { $0.contains("tap seq=1\t") && $0.contains("\t\(rider7.text)\topen\tok") }, log.text)
        write(pty, try show(8) + "\r\n")
        XCTAssertTrue(
            log.wait { $0.contains("tap seq=2\t") && $0.contains("deny\tride_code_unknown_key") }, log.text)

        // At central: key 8 added, key 7 revoked, signed as version 2. The running gate still has
        // version 1 until it syncs: key 7 keeps opening.
        _ = try ctl(["central", "issuer-keys", "add"] + db + ["--file", dir + "/issuer-2-key-8.public.json"])
        _ = try ctl(["central", "issuer-keys", "revoke"] + db + ["2", "7"])
        let listed = try ctl(["central", "issuer-keys", "list"] + db + ["--json"])
        XCTAssertTrue(listed.contains("\"revoked\":true") && listed.contains("\"revoked\":false"), listed)
        _ = try ctl(["central", "issuer-keys", "publish"] + db + signing)
        write(pty, try show(7) + "\r\n")
        XCTAssertTrue(log.wait { $0.contains("tap seq=3\t") && $0.contains("\t\(rider7.text)\topen\tok") }, log.text)

        // The next sync: version 2 in force; key 7's codes are refused, key 8's open.
        let synced = try ControlClient.send(.syncNow, to: socket)
        XCTAssertNotNil(synced.syncedReport, "\(synced)")
        XCTAssertTrue(
            log.wait { $0.contains("issuer keys version 2 in force from central: 2 key(s), 1 revoked") }, log.text)
        write(pty, try show(7) + "\r\n")
        XCTAssertTrue(
            log.wait { $0.contains("tap seq=4\t") && $0.contains("\t\(rider7.text)\tdeny\tride_code_unknown_key") },
            log.text)
        write(pty, try show(8) + "\r\n")
        XCTAssertTrue(log.wait { $0.contains("tap seq=5\t") && $0.contains("\t\(rider8.text)\topen\tok") }, log.text)

        // Restart with central out of reach: the kept document (verified again) is in force.
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let kept = dir + "/table.snapshot.issuer-keys"
        XCTAssertTrue(FileManager.default.fileExists(atPath: kept))
        try FileManager.default.moveItem(atPath: central, toPath: central + ".away")
        (p, err) = try DaemonProcess.start(daemon, config: config)
        log = LogLines(err)
        XCTAssertTrue(
            log.wait { $0.contains("issuer keys version 2 in force from \(kept) (verified): 2 key(s), 1 revoked") },
            log.text)
        XCTAssertTrue(log.wait { $0.contains("control socket") }, log.text)
        for (keyID, rider, outcome) in [(7, rider7, "deny\tride_code_unknown_key"), (8, rider8, "open\tok")] {
            let tap = try DaemonProcess.run(farectl, ["tap", "--ride-code", try show(keyID), "--socket", socket])
            XCTAssertTrue(tap.out.contains("\t\(rider.text)\t\(outcome)"), "key \(keyID): " + tap.out + tap.err)
        }

        // One byte of the kept document changed: refused at the start, no key in force.
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: kept)))
        bytes[100] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: kept))
        (p, err) = try DaemonProcess.start(daemon, config: config)
        log = LogLines(err)
        XCTAssertTrue(log.wait { $0.contains("issuer keys \(kept) refused") }, log.text)
        XCTAssertTrue(log.wait { $0.contains("control socket") }, log.text)
        let tap = try DaemonProcess.run(farectl, ["tap", "--ride-code", try show(8), "--socket", socket])
        XCTAssertTrue(tap.out.contains("\t\(rider8.text)\tdeny\tride_code_unknown_key"), tap.out + tap.err)
        XCTAssertTrue(p.isRunning, "the daemon is alive")
    }
}
