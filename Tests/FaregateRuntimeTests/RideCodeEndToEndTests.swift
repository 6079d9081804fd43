import FaregateCore
import FaregateSQLite
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 17 part 8, end to end with the tools a tester holds: a code issued by `farectl ride-code
/// issue`, rendered to an image (`show --pbm`, libqrencode), read back from it (`decode --image`,
/// libzbar), played by `farectl ride-code emulate --pty` as a scanner on a pseudo-terminal, read by
/// a running `faregated` through its serial scanner (termios) at the emulator's link, decided and
/// journalled; status and metrics agree. Both algorithms in both roles (issuer Ed25519 / phone SM2,
/// issuer SM2 / phone Ed25519). Then garbage and over-long lines (refused, counted, no trap), the
/// scanner unplugged and back (scans after the replug are served), and a daemon restart between
/// two uses of one code (the second is `ride_code_reused`).
///
/// `RideCodeDaemonTests` drives the pty from the test itself and the control socket's `scan`;
/// this suite drives everything through the shipped tools as processes.
final class RideCodeEndToEndTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-qr-e2e-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/journal", withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// `farectl ride-code emulate --pty` running: lines go to its standard input, its answers are
    /// read as they come.
    struct Emulator {
        var process: Process
        var input: FileHandle
        var output: LogLines

        func send(_ line: String) { input.write(Data((line + "\n").utf8)) }

        /// Waits until `n` answers in all satisfy `matches`.
        func waitFor(_ n: Int, _ matches: @escaping (String) -> Bool) -> Bool {
            output.wait { _ in output.lines.filter(matches).count >= n }
        }
    }

    func startEmulator(_ farectl: URL, _ arguments: [String]) throws -> Emulator {
        let p = Process()
        p.executableURL = farectl
        p.arguments = ["ride-code", "emulate", "--pty"] + arguments
        let stdin = Pipe()
        let stdout = Pipe()
        p.standardInput = stdin
        p.standardOutput = stdout
        p.standardError = FileHandle.standardError
        try p.run()
        DaemonProcess.watchdog(p, seconds: 240)
        return Emulator(process: p, input: stdin.fileHandleForWriting, output: LogLines(stdout.fileHandleForReading))
    }

    func testRenderedDecodedCodesThroughThePtyScannerAreDecidedJournalledAndSurviveUnplugAndRestart() throws {
        let daemon = try DaemonProcess.binary("faregated")
        let farectl = try DaemonProcess.binary("farectl")
        func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
            try DaemonProcess.run(farectl, args)
        }
        func json(_ text: String) throws -> [String: Any] {
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
        }
        // Issuer 2 (Alipay) signs with Ed25519 for a phone with an SM2 key; issuer 3 (UnionPay) the
        // other way round.
        var entries: [Any] = []
        for (alg, issuer) in [("ed25519", "2"), ("sm2", "3")] {
            let k = try run([
                "ride-code", "issuer-keygen", "--alg", alg, "--issuer", issuer, "--key-id", "7", "--out", dir,
            ])
            XCTAssertEqual(k.status, 0, k.err)
            entries += try XCTUnwrap(JSONSerialization.jsonObject(with: Data(k.out.utf8)) as? [Any])
        }
        try JSONSerialization.data(withJSONObject: entries).write(to: URL(fileURLWithPath: dir + "/keys.json"))
        let validFrom = String(Int(Date().timeIntervalSince1970) - 3600)
        var phones: [String] = []
        for (issuer, account, userAlg) in [("2", "4242", "sm2"), ("3", "5151", "ed25519")] {
            let phone = "\(dir!)/phone-\(issuer).json"
            let issue = try run([
                "ride-code", "issue", "--issuer-secret", "\(dir!)/issuer-\(issuer)-key-7.secret.json", "--account",
                account, "--user-alg", userAlg, "--valid-from", validFrom, "--out", phone,
            ])
            XCTAssertEqual(issue.status, 0, issue.err)
            phones.append(phone)
        }
        let keyA = try XCTUnwrap(CardKey(rideCodeIssuer: .alipay, account: 4242))
        let keyB = try XCTUnwrap(CardKey(rideCodeIssuer: .unionPay, account: 5151))
        let card = try XCTUnwrap(CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001))
        try SQLiteCentralStore.create(at: dir + "/central.sqlite").insertCards(
            [keyA, keyB, card].map {
                .init(key: $0, cardType: .normal, identityHash: [UInt8](repeating: 1, count: 32), health: .green)
            }, wallMillis: 1)

        // The phone's next code, rendered to an image by libqrencode and read back by libzbar: the
        // text the scanner sends is the decoded one.
        var images = 0
        func scanned(_ phone: String) throws -> String {
            images += 1
            let pbm = "\(dir!)/code-\(images).pbm"
            let shown = try run(["ride-code", "show", "--phone", phone, "--pbm", pbm, "--json"])
            XCTAssertEqual(shown.status, 0, shown.err)
            let decoded = try run(["ride-code", "decode", "--image", pbm, "--json"])
            XCTAssertEqual(decoded.status, 0, decoded.err)
            let texts = try XCTUnwrap(try json(decoded.out)["texts"] as? [String])
            XCTAssertEqual(texts, [try XCTUnwrap(try json(shown.out)["text"] as? String)])
            return try XCTUnwrap(texts.first)
        }

        let link = dir + "/ttyACM0"
        let scanner = try startEmulator(farectl, ["--link", link, "--terminator", "lf"])
        defer {
            if scanner.process.isRunning {
                kill(scanner.process.processIdentifier, SIGKILL)
                scanner.process.waitUntilExit()
            }
        }
        XCTAssertTrue(scanner.waitFor(1) { $0.hasPrefix("scanner on /dev/pts/") }, scanner.output.text)
        let slave = try FileManager.default.destinationOfSymbolicLink(atPath: link)
        XCTAssertTrue(scanner.output.text.contains("scanner on \(slave), linked at \(link), terminator lf"))

        let config = dir + "/gate.json"
        try """
        {"gate_id": "QR-E2E", "journal_dir": "journal", "control_socket": "gate.sock",
         "central": {"sqlite": "central.sqlite"}, "sync": {"interval_seconds": 3600},
         "readers": {"backend": "simulated", "count": 1}, "log_level": "debug",
         "ride_codes": {"issuer_keys": "keys.json", "scanners": [
           {"backend": "serial", "device": "ttyACM0", "baud": 9600, "terminator": "lf", "max_length": 1024}]}}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let socket = dir + "/gate.sock"
        var (gate, err) = try DaemonProcess.start(daemon, config: config, watchdogSeconds: 240)
        var log = LogLines(err)
        defer {
            if gate.isRunning {
                kill(gate.processIdentifier, SIGKILL)
                gate.waitUntilExit()
            }
        }
        XCTAssertTrue(log.wait { $0.contains("table version") }, log.text)
        XCTAssertTrue(log.wait { $0.contains("control socket") }, log.text)
        func decided(_ seq: Int, _ key: CardKey, _ decision: String) -> Bool {
            log.wait { $0.contains("tap seq=\(seq)\t") && $0.contains("\tr1\t\(key.text)\t\(decision)") }
        }
        func journal() throws -> [JournalEntry] {
            try String(contentsOfFile: dir + "/journal/journal.log", encoding: .utf8).split(separator: "\n").map {
                try JournalCodec.decode($0)
            }
        }
        func metrics() throws -> Set<String> {
            let m = try run(["metrics", "--socket", socket])
            XCTAssertEqual(m.status, 0, m.err)
            return Set(m.out.split(separator: "\n").map(String.init))
        }

        // Both codes accepted for the right accounts, on the scanner (reader 1).
        let a1 = try scanned(phones[0])
        scanner.send(a1)
        XCTAssertTrue(decided(1, keyA, "open\tok"), log.text)
        let b1 = try scanned(phones[1])
        scanner.send(b1)
        XCTAssertTrue(decided(2, keyB, "open\tok"), log.text)
        var records = try journal()
        XCTAssertEqual(records.map(\.sequence), [1, 2])
        XCTAssertEqual(records.map(\.key), [keyA, keyB])
        XCTAssertEqual(records.map(\.reader), [1, 1])
        XCTAssertEqual(records.map(\.decision), [.open(.ok), .open(.ok)])
        XCTAssertTrue(records.allSatisfy { $0.timings.read > 0 }, "the scanner thread's checks are timed")

        // Garbage, an over-long line and a non-printable byte: refused, journalled, counted. A card
        // tap between them is no scan: the scan latency summary counts scans only.
        scanner.send("\u{1}\u{2}junk\u{7f}")
        scanner.send(String(repeating: "A", count: 3000))
        scanner.send("!hex 52 43 31 3a ff 0a")
        XCTAssertTrue(scanner.waitFor(5) { $0.hasPrefix("sent ") }, scanner.output.text)
        XCTAssertTrue(log.wait { $0.contains("tap seq=5\t") && $0.contains("deny\tride_code_malformed") }, log.text)
        let tap = try run(["tap", "--card", card.text, "--socket", socket])
        XCTAssertEqual(tap.status, 0, tap.err)
        XCTAssertTrue(tap.out.contains("\tr0\t\(card.text)\topen\tok"), tap.out)
        var m = try metrics()
        for expected in [
            #"faregate_scan_lines_refused_total{gate="QR-E2E"} 3"#,
            #"faregate_decisions_total{gate="QR-E2E",outcome="open",reason="ok"} 3"#,
            #"faregate_decisions_total{gate="QR-E2E",outcome="deny",reason="ride_code_malformed"} 3"#,
            #"faregate_scan_decided_seconds_count{gate="QR-E2E"} 5"#,
            #"faregate_tap_latency_seconds_count{gate="QR-E2E"} 6"#,
            #"faregate_reader_up{gate="QR-E2E",reader="scanner-0",index="1"} 1"#,
        ] {
            XCTAssertTrue(m.contains(expected), "\(expected) in\n\(m.sorted().joined(separator: "\n"))")
        }
        let status = try json(try run(["status", "--socket", socket, "--json"]).out)
        XCTAssertEqual(status["taps"] as? Int, 6, "\(status)")
        XCTAssertEqual(status["journal_last_sequence"] as? Int, 6, "\(status)")

        // Unplugged: the device node goes, the gate says so; a code shown meanwhile is lost (the
        // scanner had no host). Plugged in again at the same link: the next code is served.
        scanner.send("!unplug")
        XCTAssertTrue(scanner.waitFor(1) { $0.hasPrefix("unplugged: \(link) removed") }, scanner.output.text)
        XCTAssertFalse(FileManager.default.fileExists(atPath: link))
        XCTAssertTrue(log.wait { $0.contains("scanner scanner-0 lost") }, log.text)
        scanner.send(try scanned(phones[0]))
        XCTAssertTrue(scanner.waitFor(1) { $0.hasPrefix("unplugged: line dropped") }, scanner.output.text)
        m = try metrics()
        XCTAssertTrue(m.contains(#"faregate_reader_up{gate="QR-E2E",reader="scanner-0",index="1"} 0"#))
        scanner.send("!replug")
        XCTAssertTrue(scanner.waitFor(1) { $0.hasPrefix("plugged in: /dev/pts/") }, scanner.output.text)
        XCTAssertTrue(log.wait { $0.contains("scanner scanner-0 restored") }, log.text)
        scanner.send(try scanned(phones[0]))
        XCTAssertTrue(decided(7, keyA, "open\tok"), log.text)

        // A restart between two uses of one code: the second is a replay.
        let b2 = try scanned(phones[1])
        scanner.send(b2)
        XCTAssertTrue(decided(8, keyB, "open\tok"), log.text)
        kill(gate.processIdentifier, SIGTERM)
        gate.waitUntilExit()
        XCTAssertEqual(gate.terminationStatus, 0, log.text)
        (gate, err) = try DaemonProcess.start(daemon, config: config, watchdogSeconds: 240)
        log = LogLines(err)
        XCTAssertTrue(log.wait { $0.contains("table version") }, log.text)
        scanner.send(b2)
        XCTAssertTrue(decided(9, keyB, "deny\tride_code_reused"), log.text)
        scanner.send(try scanned(phones[1]))
        XCTAssertTrue(decided(10, keyB, "open\tok"), log.text)
        m = try metrics()
        XCTAssertTrue(
            m.contains(#"faregate_decisions_total{gate="QR-E2E",outcome="deny",reason="ride_code_reused"} 1"#))
        XCTAssertTrue(m.contains(#"faregate_scan_decided_seconds_count{gate="QR-E2E"} 2"#))

        records = try journal()
        XCTAssertEqual(records.map(\.sequence), Array(1...10), "every scan journalled once, none twice")
        XCTAssertEqual(
            records.map(\.decision),
            [
                .open(.ok), .open(.ok), .deny(.rideCodeMalformed), .deny(.rideCodeMalformed),
                .deny(.rideCodeMalformed), .open(.ok), .open(.ok), .open(.ok), .deny(.rideCodeReused), .open(.ok),
            ])
        XCTAssertTrue(gate.isRunning, "the daemon is alive")

        // The input ends: the emulator lets the gate read what is queued, removes the link, exits 0.
        try scanner.input.close()
        scanner.process.waitUntilExit()
        XCTAssertEqual(scanner.process.terminationStatus, 0, scanner.output.text)
        XCTAssertFalse(FileManager.default.fileExists(atPath: link))
    }
}
