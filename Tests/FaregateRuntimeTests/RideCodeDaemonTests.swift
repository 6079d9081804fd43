import FaregateCore
import FaregateModbus
import FaregateSQLite
import FaregateSodium
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// The scanner path as it ships: codes made by `farectl ride-code`, written to a pseudo-terminal
/// the real `faregated` reads as its serial scanner (termios), decided and journalled; the same
/// code again is a replay, also after a restart; garbage is refused and counted; an unplugged
/// scanner comes back.
final class RideCodeDaemonTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-qr-daemon-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/journal", withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func run(_ tool: URL, _ args: [String]) throws -> (status: Int32, out: String, err: String) {
        try DaemonProcess.run(tool, args)
    }

    func write(_ pty: PseudoTerminal, _ s: String) {
        let b = Array(s.utf8)
        XCTAssertEqual(b.withUnsafeBytes { Glibc.write(pty.master, $0.baseAddress, $0.count) }, b.count)
    }

    func testScannedCodesAreDecidedReplaysRefusedAcrossARestartAndGarbageCounted() throws {
        let daemon = try DaemonProcess.binary("faregated")
        let farectl = try DaemonProcess.binary("farectl")
        // An issuer key, a phone with a certificate for account 4242, codes from `show`.
        let k = try run(
            farectl, ["ride-code", "issuer-keygen", "--alg", "ed25519", "--issuer", "2", "--key-id", "7", "--out", dir])
        XCTAssertEqual(k.status, 0, k.err)
        try k.out.write(toFile: dir + "/keys.json", atomically: true, encoding: .utf8)
        let phone = dir + "/phone.json"
        let issue = try run(
            farectl,
            [
                "ride-code", "issue", "--issuer-secret", "\(dir!)/issuer-2-key-7.secret.json", "--account", "4242",
                "--valid-from", String(Int(Date().timeIntervalSince1970) - 3600), "--out", phone,
            ])
        XCTAssertEqual(issue.status, 0, issue.err)
        func show() throws -> String {
            let s = try run(farectl, ["ride-code", "show", "--phone", phone, "--json"])
            XCTAssertEqual(s.status, 0, s.err)
            let o = try JSONSerialization.jsonObject(with: Data(s.out.utf8)) as? [String: Any]
            return try XCTUnwrap(o?["text"] as? String)
        }
        let key = CardKey(rideCodeIssuer: .alipay, account: 4242)!
        try SQLiteCentralStore.create(at: dir + "/central.sqlite").insertCards(
            [.init(key: key, cardType: .normal, identityHash: [UInt8](repeating: 1, count: 32), health: .green)],
            wallMillis: 1)

        let link = dir + "/scanner"
        var pty: PseudoTerminal? = try PseudoTerminal(link: link)
        let config = dir + "/gate.json"
        try """
        {"gate_id": "QR-1", "journal_dir": "journal", "control_socket": "gate.sock",
         "central": {"sqlite": "central.sqlite"}, "sync": {"interval_seconds": 3600},
         "readers": {"backend": "simulated", "count": 1}, "log_level": "debug",
         "ride_codes": {"issuer_keys": "keys.json", "scanners": [
           {"backend": "serial", "device": "scanner", "baud": 115200, "terminator": "crlf", "max_length": 1024},
           {"backend": "simulated"}]}}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let check = try run(daemon, ["--check-config", config])
        XCTAssertEqual(check.status, 0, check.out)
        XCTAssertTrue(check.out.contains("ride codes: 2 scanner(s)"), check.out)
        let socket = dir + "/gate.sock"

        var (p, err) = try DaemonProcess.start(daemon, config: config)
        var log = LogLines(err)
        XCTAssertTrue(log.wait { $0.contains("table version") }, log.text)
        XCTAssertTrue(log.wait { $0.contains("control socket") }, log.text)

        let first = try show()
        write(pty!, first + "\r\n")
        XCTAssertTrue(log.wait { $0.contains("tap seq=1\t") && $0.contains("\tr1\t\(key.text)\topen\tok") }, log.text)
        write(pty!, first + "\r\n")
        XCTAssertTrue(log.wait { $0.contains("tap seq=2\t") && $0.contains("deny\tride_code_reused") }, log.text)
        write(pty!, "\u{1}\u{2}junk\u{7f}\r\n" + String(repeating: "A", count: 3000) + "\r\nNOT A CODE\r\n")
        XCTAssertTrue(log.wait { $0.contains("tap seq=5\t") && $0.contains("deny\tride_code_malformed") }, log.text)
        let metrics = try run(farectl, ["metrics", "--socket", socket])
        XCTAssertTrue(metrics.out.contains("faregate_scan_lines_refused_total{gate=\"QR-1\"} 2"), metrics.out)

        // Unplugged and back: a new device at the same path; the next code is read from it.
        pty = nil
        XCTAssertTrue(log.wait { $0.contains("scanner scanner-0 lost") }, log.text)
        pty = try PseudoTerminal(link: link)
        XCTAssertTrue(log.wait { $0.contains("scanner scanner-0 restored") }, log.text)
        let second = try show()
        write(pty!, second + "\r\n")
        XCTAssertTrue(log.wait { $0.contains("tap seq=6\t") && $0.contains("open\tok") }, log.text)

        // Restart: both codes stay used (the replay cache file); the control socket's scanner says so.
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        (p, err) = try DaemonProcess.start(daemon, config: config)
        log = LogLines(err)
        defer {
            if p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
            }
        }
        XCTAssertTrue(log.wait { $0.contains("control socket") }, log.text)
        XCTAssertTrue(log.wait { $0.contains("table version") }, log.text)
        for text in [first, second] {
            let again = try run(farectl, ["tap", "--ride-code", text, "--socket", socket])
            XCTAssertEqual(again.status, 0, again.err)
            XCTAssertTrue(again.out.contains("\tr2\t\(key.text)\tdeny\tride_code_reused"), again.out)
        }
        let fresh = try run(farectl, ["tap", "--ride-code", try show(), "--socket", socket])
        XCTAssertTrue(fresh.out.contains("\tr2\t\(key.text)\topen\tok"), fresh.out + fresh.err)
        let garbage = try run(farectl, ["tap", "--ride-code", "RC1:%%%", "--socket", socket])
        XCTAssertTrue(garbage.out.contains("deny\tride_code_malformed"), garbage.out + garbage.err)
        let journal = try String(contentsOfFile: dir + "/journal/journal.log", encoding: .utf8)
        XCTAssertEqual(journal.split(separator: "\n").count, 10, "every scan journalled, none twice")
        try checkEvidence(journal: journal, accepted: [1: first, 6: second], farectl: farectl)
        XCTAssertTrue(p.isRunning, "the daemon is alive")
    }

    /// Issue 17.6: each accepted code's journal line keeps the code's dynamic part (certificate
    /// hash, generated_at, counter, flags, phone signature) and central's row has the same after
    /// a sync; a refused code's line carries its reason and no evidence. `accepted`: sequence →
    /// the text of the code shown, for the passages whose code the test still holds.
    func checkEvidence(journal: String, accepted: [UInt64: String], farectl: URL) throws {
        let entries = try journal.split(separator: "\n").map { try JournalCodec.decode($0) }
        for e in entries {
            if e.decision.outcome == .open {
                let ev = try XCTUnwrap(e.rideCode, "seq \(e.sequence): an accepted code keeps its evidence")
                XCTAssertEqual(ev.cardKey, e.key)
                XCTAssertEqual(ev.certificateHash.count, 32)
                XCTAssertEqual(ev.userSignature.count, 64)
                XCTAssertFalse(ev.clearing, "Alipay is a Beijing issuer: not cleared between cities")
                if let text = accepted[e.sequence], let code = try? RideCode(text: text) {
                    XCTAssertEqual(ev.counter, code.dynamicPart.counter, "seq \(e.sequence)")
                    XCTAssertEqual(ev.generatedAt, code.dynamicPart.generatedAt)
                    XCTAssertEqual(ev.flags, code.dynamicPart.flags)
                    XCTAssertEqual(ev.userSignature, code.dynamicPart.signature)
                    XCTAssertEqual(ev.issuerKeyID, code.certificate.issuerKeyID)
                    XCTAssertEqual(ev.certificateHash, SodiumSHA256().sha256(code.certificate.bytes))
                }
            } else {
                XCTAssertNil(e.rideCode, "seq \(e.sequence): a refusal carries its reason only")
                XCTAssertTrue(e.decision.reason.code.hasPrefix("ride_code_"), "\(e.decision)")
            }
        }
        XCTAssertEqual(entries.filter { $0.rideCode != nil }.map(\.sequence), [1, 6, 9])
        // Central holds the same evidence once the journal is uploaded.
        let sync = try run(farectl, ["sync-now", "--socket", dir + "/gate.sock"])
        XCTAssertEqual(sync.status, 0, sync.err)
        let rides = try SQLiteCentralStore(path: dir + "/central.sqlite").rideCodeRides(
            issuer: nil, clearingOnly: false)
        XCTAssertEqual(rides.map(\.sequence), [1, 6, 9])
        XCTAssertEqual(rides.map(\.evidence), entries.compactMap(\.rideCode), "central's rows are the journal's")
        XCTAssertEqual(rides.map(\.gate), ["QR-1", "QR-1", "QR-1"])
        let clearing = try run(farectl, ["central", "clearing", "--db", dir + "/central.sqlite", "--all", "--json"])
        XCTAssertEqual(clearing.status, 0, clearing.err)
        XCTAssertTrue(clearing.out.contains("\"count\":3"), clearing.out)
        let none = try run(farectl, ["central", "clearing", "--db", dir + "/central.sqlite"])
        XCTAssertTrue(none.out.hasPrefix("0 ride-code passage(s) to settle by clearing"), none.out)
    }
}
