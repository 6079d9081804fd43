import FaregateCore
import FaregateModbus
import FaregateSQLite
import Foundation
import Synchronization
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 17's "Will be checked": ride codes made by another implementation of RIDECODE.md
/// (`Tests/RideCode/independent_ridecode.py`, written from the spec alone: its own SM2/SM3, Ed25519
/// and Base45, fresh issuer and phone keys every run, every signature checked by the `openssl`
/// command line) through `farectl ride-code verify` and through a running gate's pty scanner. Each
/// code comes with the outcome RIDECODE.md prescribes: valid codes on both algorithms and every
/// issuer kind accepted; every byte of a code per algorithm pair changed, expired certificates,
/// stale and future codes, unknown, revoked and out-of-date keys, replays and malformed texts
/// refused with their reason; the scanner survives garbage, an over-long line and unplugging.
final class IndependentRideCodeTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-independent-qr-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/journal", withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// corpus.json (see the generator's doc comment).
    struct Corpus: Decodable {
        struct Expectation: Decodable {
            var at: Int?
            var accepted: Bool
            var reasons: [String]?
            var issuer: UInt8?
            var account: UInt64?
            var counter: UInt32?
            var note: String?
        }
        struct Code: Decodable {
            var name: String
            var phase: String
            var text: String
            var verify: Expectation?
            var gate: Expectation?
        }
        struct Gate: Decodable {
            var max_age: Int
            var max_skew: Int
            var accepted_issuers: [String]
        }
        struct Account: Decodable {
            var issuer: UInt8
            var account: UInt64
        }
        var now: Int
        var gate: Gate
        var table: [Account]
        var codes: [Code]
    }

    /// Runs the independent generator for `now`: DIR/issuer-keys.json and the corpus.
    func makeCorpus(now: Int) throws -> Corpus {
        let python = URL(fileURLWithPath: "/usr/bin/python3")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("RideCode/independent_ridecode.py")
        let r = try DaemonProcess.run(
            python, [script.path, "corpus", "--now", String(now), "--out", dir, "--self-check"], environment: [:],
            watchdogSeconds: 600)
        XCTAssertEqual(r.status, 0, r.err)
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/corpus.json"))
        return try JSONDecoder().decode(Corpus.self, from: data)
    }

    /// "accepted" or the reason, as faregate said it; and whether it is what the corpus expects.
    static func judge(_ e: Corpus.Expectation, accepted: Bool, reason: String?) -> Bool {
        e.accepted ? accepted : (!accepted && (e.reasons ?? []).contains(reason ?? ""))
    }

    /// The corpus is large (about 1,850 subprocesses here, 1,000 scans below): these run on the
    /// release binaries only, in `scripts/test`'s second pass (`FAREGATE_DAEMON_BIN_DIR`).
    func releaseBinary(_ name: String) throws -> URL {
        guard ProcessInfo.processInfo.environment["FAREGATE_DAEMON_BIN_DIR"] != nil else {
            throw XCTSkip("runs on the release binaries (FAREGATE_DAEMON_BIN_DIR, scripts/test)")
        }
        return try DaemonProcess.binary(name)
    }

    func testIndependentCodesThroughFarectlVerify() throws {
        let farectl = try releaseBinary("farectl")
        let corpus = try makeCorpus(now: Int(Date().timeIntervalSince1970))
        let codes = corpus.codes.filter { $0.verify != nil }
        XCTAssertGreaterThan(codes.count, 1500)
        let keys = dir + "/issuer-keys.json"
        // (index, what went wrong) and the outcomes, from four workers (each runs farectl as a subprocess).
        let results = Mutex<(failures: [(Int, String)], outcomes: [String: Int], choices: [String: Int])>(
            ([], [:], [:]))
        let workers = 4
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            for i in stride(from: w, to: codes.count, by: workers) {
                let code = codes[i]
                guard let e = code.verify, let at = e.at else { continue }
                let r: (status: Int32, out: String, err: String)
                do {
                    r = try DaemonProcess.run(
                        farectl,
                        ["ride-code", "verify", code.text, "--issuer-keys", keys, "--at", String(at), "--json"])
                } catch {
                    results.withLock { $0.failures.append((i, "\(error)")) }
                    continue
                }
                let o = (try? JSONSerialization.jsonObject(with: Data(r.out.utf8))) as? [String: Any] ?? [:]
                let accepted = o["accepted"] as? Bool ?? false
                let reason = o["reason"] as? String
                var ok = Self.judge(e, accepted: accepted, reason: reason) && r.status == (e.accepted ? 0 : 1)
                if e.accepted {
                    ok =
                        ok && (o["issuer"] as? Int).map(UInt8.init) == e.issuer
                        && (o["account"] as? UInt64) == e.account
                        && (o["counter"] as? Int).map(UInt32.init) == e.counter
                        && Set(o.keys) == ["accepted", "issuer", "account", "counter"]
                } else {
                    ok = ok && Set(o.keys) == ["accepted", "reason"]
                }
                let outcome = accepted ? "accepted" : (reason ?? "?")
                // Where RIDECODE.md allows two reasons, which one faregate gives (printed below).
                let choice = (e.reasons?.count ?? 0) > 1 ? "\(e.note ?? "") -> \(outcome)" : nil
                results.withLock {
                    $0.outcomes[outcome, default: 0] += 1
                    if let choice { $0.choices[choice, default: 0] += 1 }
                    if !ok {
                        $0.failures.append(
                            (i, "exit \(r.status) \(r.out.trimmingCharacters(in: .whitespacesAndNewlines)) \(r.err)"))
                    }
                }
            }
        }
        let (failures, outcomes, choices) = results.withLock { ($0.failures, $0.outcomes, $0.choices) }
        for (i, what) in failures.sorted(by: { $0.0 < $1.0 }) {
            let c = codes[i]
            XCTFail(
                "\(c.name): expected \(c.verify!.accepted ? "accepted" : "\(c.verify!.reasons ?? [])"), got \(what)")
        }
        XCTAssertEqual(
            outcomes["accepted"], codes.filter { $0.verify!.accepted }.count, "every valid code accepted: \(outcomes)")
        print("independent ride codes through farectl ride-code verify: \(codes.count) codes, \(outcomes)")
        for (choice, n) in choices.sorted(by: { $0.key < $1.key }) {
            print("  spec allows two reasons: \(choice) (\(n))")
        }
    }

    func write(_ pty: PseudoTerminal, _ s: String) {
        let b = Array(s.utf8)
        XCTAssertEqual(b.withUnsafeBytes { Glibc.write(pty.master, $0.baseAddress, $0.count) }, b.count)
    }

    func testIndependentCodesThroughARunningGatesScanner() throws {
        let daemon = try releaseBinary("faregated")
        let farectl = try releaseBinary("farectl")
        let corpus = try makeCorpus(now: Int(Date().timeIntervalSince1970))
        let accounts = corpus.table.compactMap { CardKey(rideCodeIssuerNumber: $0.issuer, account: $0.account) }
        XCTAssertEqual(accounts.count, corpus.table.count)
        try SQLiteCentralStore.create(at: dir + "/central.sqlite").insertCards(
            accounts.map {
                .init(key: $0, cardType: .normal, identityHash: [UInt8](repeating: 1, count: 32), health: .green)
            },
            wallMillis: 1)

        let link = dir + "/scanner"
        var pty: PseudoTerminal? = try PseudoTerminal(link: link)
        let issuers = corpus.gate.accepted_issuers.map { "\"\($0)\"" }.joined(separator: ", ")
        let config = dir + "/gate.json"
        try """
        {"gate_id": "QR-IND", "journal_dir": "journal", "control_socket": "gate.sock",
         "central": {"sqlite": "central.sqlite"}, "sync": {"interval_seconds": 3600},
         "readers": {"backend": "simulated", "count": 1}, "log_level": "debug",
         "policy": {"accepted_ride_code_issuers": [\(issuers)]},
         "ride_codes": {"issuer_keys": "issuer-keys.json",
           "max_age_seconds": \(corpus.gate.max_age), "max_skew_seconds": \(corpus.gate.max_skew),
           "scanners": [{"backend": "serial", "device": "scanner", "baud": 115200, "terminator": "crlf",
                         "max_length": 1024}]}}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let check = try DaemonProcess.run(daemon, ["--check-config", config])
        XCTAssertEqual(check.status, 0, check.out + check.err)

        let (p, err) = try DaemonProcess.start(daemon, config: config, watchdogSeconds: 1500)
        defer {
            if p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
            }
        }
        let log = LogLines(err)
        XCTAssertTrue(log.wait { $0.contains("table version") }, log.text)
        XCTAssertTrue(log.wait { $0.contains("control socket") }, log.text)

        // One scan at a time (the next is written once the last is decided, so no ring overflows):
        // the decision as the debug log line says it, `tap seq=N\twall\tr0\tkey\toutcome\treason\t…`.
        var seq = 0
        var expected: [Int: (Corpus.Code, String?)] = [:]  // seq -> code (nil: garbage), key text when accepted
        var outcomes: [String: Int] = [:]
        func scan(_ line: String) -> [String]? {
            seq += 1
            let marker = "tap seq=\(seq)\t"
            write(pty!, line + "\r\n")
            guard log.wait({ $0.contains(marker) }) else {
                XCTFail("no decision for scan \(seq)")
                return nil
            }
            guard let l = log.lines.last(where: { $0.contains(marker) }) else { return nil }
            return l.components(separatedBy: "\t")
        }
        func present(_ phase: String) {
            for code in corpus.codes where code.phase == phase {
                guard let e = code.gate else { continue }
                guard let f = scan(code.text), f.count >= 6 else { return }
                let accepted = f[4] == "open" && f[5] == "ok"
                let said = accepted ? "accepted" : f[5]
                outcomes[said, default: 0] += 1
                var key: String? = nil
                if e.accepted, let issuer = e.issuer, let account = e.account {
                    key = CardKey(rideCodeIssuerNumber: issuer, account: account)?.text
                    XCTAssertEqual(f[3], key, code.name)
                }
                XCTAssertTrue(
                    Self.judge(e, accepted: accepted, reason: accepted ? nil : f[5]) && (accepted || f[4] == "deny"),
                    "\(code.name): expected \(e.accepted ? "open ok" : "deny \(e.reasons ?? [])"), got \(f[4]) \(f[5])")
                expected[seq] = (code, key)
            }
        }
        present("main")
        // Garbage (bytes outside printable ASCII) and a line over max_length: refused before
        // parsing, counted and journalled malformed; the gate goes on serving.
        for garbage in ["\u{1}\u{2}junk\u{7f}", String(repeating: "A", count: 3000), "RC1:\u{1b}[2J"] {
            let f = scan(garbage) ?? []
            XCTAssertEqual(
                f.count >= 6 ? Array(f[4...5]) : f, ["deny", "ride_code_malformed"], garbage.debugDescription)
        }
        let metrics = try DaemonProcess.run(farectl, ["metrics", "--socket", dir + "/gate.sock"])
        XCTAssertTrue(metrics.out.contains("faregate_scan_lines_refused_total{gate=\"QR-IND\"} 3"), metrics.out)
        present("after_garbage")
        // Unplugged and back: a new device at the same path; scans are served again.
        pty = nil
        XCTAssertTrue(log.wait { $0.contains("scanner scanner-0 lost") }, log.text)
        pty = try PseudoTerminal(link: link)
        XCTAssertTrue(log.wait { $0.contains("scanner scanner-0 restored") }, log.text)
        present("after_unplug")

        // The journal holds one record per scan, each with the decision the log showed
        // (`farectl journal tail --dir`, the journal file as the gate wrote it).
        let tail = try DaemonProcess.run(
            farectl, ["journal", "tail", "--dir", dir + "/journal", "-n", "100000", "--json"])
        XCTAssertEqual(tail.status, 0, tail.err)
        let tailed = (try? JSONSerialization.jsonObject(with: Data(tail.out.utf8))) as? [String: Any]
        let journal = tailed?["entries"] as? [[String: Any]] ?? []
        XCTAssertEqual(journal.count, seq, "every scan journalled once")
        for record in journal {
            guard let s = record["seq"] as? Int, let (code, key) = expected[s], let e = code.gate else { continue }
            let accepted = record["outcome"] as? String == "open" && record["reason"] as? String == "ok"
            XCTAssertTrue(
                Self.judge(e, accepted: accepted, reason: record["reason"] as? String), "journal: \(code.name)")
            if let key { XCTAssertEqual(record["card"] as? String, key, "journal: \(code.name)") }
        }
        let presented = corpus.codes.filter { $0.gate != nil }
        XCTAssertEqual(outcomes["accepted"], presented.filter { $0.gate!.accepted }.count, "\(outcomes)")
        XCTAssertTrue(p.isRunning, "the daemon is alive")
        print(
            "independent ride codes through a running gate's pty scanner: \(presented.count) codes + 3 garbage lines, "
                + "\(outcomes)")
    }
}
