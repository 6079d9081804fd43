import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// The command-line conventions of `farectl` and `faregated` (issue 14, part 7), checked on the
/// built binaries run as subprocesses, the way an operator meets them: `--help` on every command
/// and group, usage errors exit 2, failures exit 1, every `--json` output snake_case and every
/// `--json` error a JSON object, `--version` on both, `faregated --check-config`, and the README's
/// command list being the binary's own.
final class CLITests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    var dir: String!

    override func setUpWithError() throws {
        // Short: a control socket's path must fit in sockaddr_un.
        dir = "/tmp/fg-cli-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// Runs `tool` with `arguments` and extra environment; killed (and the test failed by its
    /// status) if it is still running after `watchdogSeconds`.
    func run(
        _ tool: URL, _ arguments: [String], environment: [String: String] = [:], watchdogSeconds: Double = 60
    ) throws -> (status: Int32, out: String, err: String, reason: Process.TerminationReason) {
        try DaemonProcess.run(
            tool, arguments, environment: environment, directory: Self.repository, watchdogSeconds: watchdogSeconds)
    }

    /// The command words of every row of `farectl help --markdown` (the words before the first
    /// option or placeholder of its usage), and every group those imply.
    func commandsAndGroups(_ farectl: URL) throws -> (commands: [[String]], groups: [[String]]) {
        let table = try run(farectl, ["help", "--markdown"])
        XCTAssertEqual(table.status, 0, table.err)
        var commands: [[String]] = []
        for line in table.out.split(separator: "\n") where line.hasPrefix("| `farectl ") {
            let usage = line.dropFirst("| `farectl ".count)
            let words = usage.split(separator: " ").prefix { word in
                word.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" } && word.first?.isLetter == true
            }.map(String.init)
            commands.append(words)
        }
        var groups: [[String]] = []
        for c in commands {
            for n in stride(from: 1, to: c.count, by: 1) where !groups.contains(Array(c.prefix(n))) {
                groups.append(Array(c.prefix(n)))
            }
        }
        return (commands, groups)
    }

    func testEveryCommandAndGroupAnswersHelp() throws {
        let farectl = try DaemonProcess.binary("farectl")
        let (commands, groups) = try commandsAndGroups(farectl)
        XCTAssertGreaterThan(commands.count, 40)
        for g in ["central", "journal", "policy", "card", "simulate"] { XCTAssertTrue(groups.contains([g]), g) }
        for words in commands {
            let name = words.joined(separator: " ")
            for flag in ["--help", "-h"] {
                let r = try run(farectl, words + [flag])
                XCTAssertEqual(r.status, 0, "\(name) \(flag): \(r.err)")
                XCTAssertTrue(r.out.hasPrefix("usage: farectl \(name)"), "\(name) \(flag): \(r.out)")
                XCTAssertTrue(r.out.contains("exit status: 0"), name)
            }
        }
        for words in groups {
            let name = words.joined(separator: " ")
            let help = try run(farectl, words + ["--help"])
            XCTAssertEqual(help.status, 0, "\(name) --help: \(help.err)")
            // Every command of the group is listed with its summary.
            for c in commands where c.count > words.count && c.starts(with: words) {
                XCTAssertTrue(help.out.contains("  " + c.joined(separator: " ") + " "), "\(name) lists \(c)")
            }
            let viaHelp = try run(farectl, ["help"] + words)
            XCTAssertEqual(viaHelp.status, 0, name)
            XCTAssertEqual(viaHelp.out, help.out, "farectl help \(name) is farectl \(name) --help")
        }
        // A bare group lists its commands too, as a usage error (no command given).
        let bare = try run(farectl, ["central"])
        XCTAssertEqual(bare.status, 2)
        XCTAssertTrue(bare.err.contains("central init"), bare.err)
        let top = try run(farectl, ["--help"])
        XCTAssertEqual(top.status, 0)
        XCTAssertTrue(top.out.contains("exit status: 0 done; 1 refused or failed"), top.out)
        XCTAssertTrue(top.out.contains("central …"), top.out)

        let daemon = try DaemonProcess.binary("faregated")
        for flag in ["--help", "-h"] {
            let r = try run(daemon, [flag])
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertTrue(r.out.contains("--check-config FILE"), r.out)
        }
    }

    func testTheREADMEListsTheCommandsOfTheBinary() throws {
        let farectl = try DaemonProcess.binary("farectl")
        let table = try run(farectl, ["help", "--markdown"]).out
        let readme = try String(contentsOf: Self.repository.appendingPathComponent("README.md"), encoding: .utf8)
        XCTAssertTrue(
            readme.contains(table), "README.md's farectl table differs from `farectl help --markdown`; paste it in")
    }

    func testUnknownCommandsAndArgumentsAreUsageErrors() throws {
        let farectl = try DaemonProcess.binary("farectl")
        let cases: [[String]] = [
            [], ["bogus"], ["central", "bogus"], ["status", "--bogus"],
            ["journal", "tail", "--dir", "x", "--socket", "y"],
            ["tap"], ["tap", "--card", "nonsense"], ["policy", "check"], ["journal", "tail", "-n", "0"],
            ["--version", "extra"],
        ]
        for args in cases {
            let r = try run(farectl, args)
            XCTAssertEqual(r.status, 2, "farectl \(args): \(r.out) \(r.err)")
            XCTAssertFalse(r.err.isEmpty, "\(args) says why")
        }
        let daemon = try DaemonProcess.binary("faregated")
        for args in [["--bogus"], [], ["--config"], ["--check-config"]] {
            let r = try run(daemon, args)
            XCTAssertEqual(r.status, 2, "faregated \(args): \(r.err)")
        }
    }

    func testErrorsInJSONModeAreJSONOnStandardOutput() throws {
        let farectl = try DaemonProcess.binary("farectl")
        let cases: [(args: [String], status: Int32, code: String)] = [
            (["bogus", "--json"], 2, "unknown_command"),
            (["central", "bogus", "--json"], 2, "unknown_command"),
            (["central", "--json"], 2, "usage"),
            (["status", "--bogus", "--json"], 2, "usage"),
            (["tap", "--json"], 2, "usage"),
            (["status", "--socket", dir + "/none.sock", "--json"], 1, "failed"),
            (["journal", "tail", "--socket", dir + "/none.sock", "--json"], 1, "failed"),
            (["journal", "check", "--dir", dir + "/none", "--json"], 1, "failed"),
            (["policy", "check", dir + "/none", "--json"], 1, "failed"),
            (["central", "stats", "--db", dir + "/none.sqlite", "--json"], 1, "failed"),
        ]
        for c in cases {
            let r = try run(farectl, c.args)
            XCTAssertEqual(r.status, c.status, "\(c.args): \(r.out) \(r.err)")
            let lines = r.out.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, "\(c.args): one JSON line: \(r.out)")
            let object = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
            let error = object?["error"] as? [String: Any]
            XCTAssertEqual(error?["code"] as? String, c.code, "\(c.args): \(r.out)")
            XCTAssertFalse((error?["message"] as? String ?? "").isEmpty, "\(c.args): \(r.out)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/none"), "journal check created nothing")
    }

    /// Keys of every object in `value`, recursively.
    func keys(_ value: Any) -> [String] {
        if let d = value as? [String: Any] { return d.keys + d.values.flatMap(keys) }
        if let a = value as? [Any] { return a.flatMap(keys) }
        return []
    }

    /// Fails unless `json` is one JSON value whose keys are snake_case. `dataKeys` names the
    /// objects whose keys are data (a count by medium name), whose keys are not checked.
    func assertSnakeCase(_ json: String, _ what: String, dataKeys: Set<String> = []) throws {
        guard let value = try? JSONSerialization.jsonObject(with: Data(json.utf8)) else {
            return XCTFail("\(what): not JSON: \(json)")
        }
        func walk(_ v: Any) {
            if let d = v as? [String: Any] {
                for (k, child) in d {
                    XCTAssertNotNil(k.wholeMatch(of: /[a-z][a-z0-9_]*/), "\(what): key '\(k)' is not snake_case")
                    if !dataKeys.contains(k) { walk(child) }
                }
            } else if let a = v as? [Any] {
                a.forEach(walk)
            }
        }
        walk(value)
        XCTAssertFalse(keys(value).isEmpty, "\(what) has keys")
    }

    func testEveryJSONOutputUsesSnakeCaseKeys() throws {
        let farectl = try DaemonProcess.binary("farectl")
        let db = dir + "/central.sqlite"
        let journals = dir + "/journals"
        let runs: [[String]] = [
            ["central", "init", "--db", db, "--demo", "50", "--json"],
            ["central", "stats", "--db", db, "--json"],
            ["central", "gates", "--db", db, "--json"],
            ["central", "keygen", "--signing", dir + "/sig", "--json"],
            [
                "central", "publish", "--db", db, "--signing-key", dir + "/sig.sec", "--network", "metro",
                "--environment", "production", "--snapshot", "--json",
            ],
            [
                "central", "export", "--db", db, "--signing-key", dir + "/sig.sec", "--network", "metro",
                "--environment", "production", "--snapshot", "--out", dir + "/pub.bundle", "--json",
            ],
            [
                "central", "verify", "--public-key", dir + "/sig.pub", "--network", "metro", "--environment",
                "production", "--in", dir + "/pub.bundle", "--json",
            ],
            ["policy", "check", "seeds/policies", "--json"],
            ["policy", "explain", "--card", "1000751000000000001", "--at", "2023-05-01", "--json"],
            ["policy", "office", "bind", "--card", "1000751000000000001", "--at", "2024-05-01", "--json"],
            ["simulate", "--taps", "200", "--demo-cards", "100", "--journal-dir", journals, "--no-fsync", "--json"],
            ["--version", "--json"],
            // Makes and verifies codes on all four algorithm pairs: exits 1 if one is refused.
            ["ride-code", "bench", "--codes", "10", "--json"],
        ]
        for a in runs {
            let r = try run(farectl, a, watchdogSeconds: 120)
            // policy office answers 1 for a refused operation; its report is still JSON.
            XCTAssertTrue(r.status == 0 || (a[1] == "office" && r.status == 1), "\(a): \(r.out) \(r.err)")
            try assertSnakeCase(r.out, a.joined(separator: " "), dataKeys: ["cards_by_medium", "identities_by_health"])
            XCTAssertTrue(
                (try? JSONSerialization.jsonObject(with: Data(r.out.utf8))) is [String: Any],
                "\(a): a --json report is one JSON object: \(r.out.prefix(200))")
        }
        // The simulated gate's journal, read from its directory.
        let gateDirs = try FileManager.default.contentsOfDirectory(atPath: journals)
        let gate = try XCTUnwrap(gateDirs.first, "simulate wrote a journal")
        for args in [
            ["journal", "check", "--dir", journals + "/" + gate, "--json"],
            ["journal", "tail", "--dir", journals + "/" + gate, "-n", "3", "--json"],
        ] {
            let r = try run(farectl, args)
            XCTAssertEqual(r.status, 0, "\(args): \(r.err)")
            try assertSnakeCase(r.out, args.joined(separator: " "))
        }
    }

    func testVersionNamesTheVersionAndTheCommit() throws {
        for name in ["farectl", "faregated"] {
            let r = try run(try DaemonProcess.binary(name), ["--version"])
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertNotNil(
                r.out.trimmingCharacters(in: .newlines).wholeMatch(of: /\w+ \d+\.\d+\.\d+ \(commit [0-9A-Za-z.+-]+\)/),
                "\(name): \(r.out)")
            XCTAssertTrue(r.out.hasPrefix(name + " "), r.out)
        }
        let json = try run(try DaemonProcess.binary("farectl"), ["--version", "--json"])
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: String])
        XCTAssertEqual(object["name"], "farectl")
        XCTAssertFalse((object["commit"] ?? "").isEmpty)
        XCTAssertFalse((object["version"] ?? "").isEmpty)
    }

    func testCardReadFailsPromptlyWhenPcscdIsDownOrSilent() throws {
        let farectl = try DaemonProcess.binary("farectl")
        // libpcsclite's PCSCLITE_CSOCK_NAME points the client elsewhere, so the machine's pcscd is
        // never touched: first no socket at all (pcscd stopped), then one that accepts connections
        // and never answers (a pcscd that hangs), where libpcsclite itself would wait forever.
        let missing = try run(
            farectl, ["card", "read", "--timeout-ms", "60000"], environment: ["PCSCLITE_CSOCK_NAME": dir + "/none.comm"]
        )
        XCTAssertEqual(missing.reason, .exit, "ended by itself, not by the watchdog")
        XCTAssertEqual(missing.status, 1, missing.err)
        XCTAssertTrue(missing.err.contains("pcscd is not running"), missing.err)

        let silent = dir + "/silent.comm"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in silent.utf8.enumerated() { raw[i] = b }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        XCTAssertEqual(bound, 0)
        XCTAssertEqual(listen(fd, 8), 0)
        let hung = try run(
            farectl, ["card", "read", "--timeout-ms", "60000", "--json"], environment: ["PCSCLITE_CSOCK_NAME": silent])
        XCTAssertEqual(hung.reason, .exit, "ended by itself, not by the watchdog")
        XCTAssertEqual(hung.status, 1, hung.err)
        let error = try JSONSerialization.jsonObject(with: Data(hung.out.utf8)) as? [String: [String: String]]
        XCTAssertTrue(error?["error"]?["message"]?.contains("pcscd did not answer") == true, hung.out)
    }

    // MARK: The sample configuration

    /// hardware/faregated.json with its absolute paths moved into `dir`, the policies the
    /// repository's, and a signed central store and key in place, as an install would have them.
    func installSample() throws -> String {
        let farectl = try DaemonProcess.binary("farectl")
        var text = try String(
            contentsOf: Self.repository.appendingPathComponent("hardware/faregated.json"), encoding: .utf8)
        for (from, to) in [
            ("/var/lib/faregate", dir + "/state"), ("/etc/faregate", dir + "/etc"), ("/run/faregate", dir + "/run"),
            ("/usr/share/faregate/policies", Self.repository.appendingPathComponent("seeds/policies").path),
            ("/var/lib/node_exporter/textfile", dir + "/metrics"),
        ] {
            text = text.replacingOccurrences(of: from, with: to)
        }
        for d in ["state", "etc", "run", "metrics"] {
            try FileManager.default.createDirectory(atPath: dir + "/" + d, withIntermediateDirectories: true)
        }
        let config = dir + "/etc/faregated.json"
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        let db = dir + "/state/central.sqlite"
        let etc: String = dir + "/etc"
        let steps: [[String]] = [
            ["central", "init", "--db", db, "--demo", "100"],
            ["central", "keys", "root-keygen", "--out", etc + "/root"],
            ["central", "keys", "online-keygen", "--out", etc + "/central"],
            [
                "central", "keys", "issue", "--db", db, "--root-key", etc + "/root.sec", "--network",
                "beijing-metro", "--environment", "production", "--key", etc + "/central.pub",
            ],
            [
                "central", "publish", "--db", db, "--signing-key", etc + "/central.sec", "--network",
                "beijing-metro", "--environment", "production", "--snapshot",
            ],
            // What hardware/faregate-timestamp.timer runs every minute (hardware/README.md).
            [
                "central", "timestamp", "--db", db, "--signing-key", etc + "/central.sec", "--network",
                "beijing-metro", "--environment", "production",
            ],
        ]
        for args in steps {
            let r = try run(farectl, args)
            XCTAssertEqual(r.status, 0, "\(args): \(r.err)")
        }
        return config
    }

    func testCheckConfigAcceptsTheSampleAndNamesWhatIsWrong() throws {
        let daemon = try DaemonProcess.binary("faregated")
        let config = try installSample()
        let ok = try run(daemon, ["--check-config", config])
        XCTAssertEqual(ok.status, 0, ok.out + ok.err)
        XCTAssertTrue(ok.out.contains("config \(config): ok"), ok.out)
        XCTAssertFalse(ok.out.contains("warning"), ok.out)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/state/journal"), "the check started nothing")

        let sample = try String(contentsOfFile: config, encoding: .utf8)
        let broken: [(String, String, expect: String)] = [
            ("\"ring_capacity\"", "\"ring_capacty\"", "ring_capacty is not a known setting"),
            ("seeds/policies", "seeds/no-such-policies", "policy_dir"),
            ("root.pub", "missing.pub", "central.root_key"),
            ("central.sqlite", "missing.sqlite", "central.sqlite"),
            ("\"station\": \"beijing-west\"", "\"station\": \"beijing-west\", \"era\": \"1999-none\"", "era"),
            (
                "\"central\": { \"sqlite\"", "\"central\": { \"postgres\": \"host=db user=g password=pw\", \"sqlite\"",
                "central.postgres must not hold a password"
            ),
        ]
        for (from, to, expect) in broken {
            XCTAssertTrue(sample.contains(from), from)
            let bad = dir + "/etc/bad.json"
            try sample.replacingOccurrences(of: from, with: to).write(toFile: bad, atomically: true, encoding: .utf8)
            let r = try run(daemon, ["--check-config", bad])
            XCTAssertEqual(r.status, 1, "\(to): \(r.out)")
            XCTAssertTrue(r.out.contains(expect), "\(to): names \(expect): \(r.out)")
        }
    }

    func testTheSampleConfigurationStartsWithoutAWarning() throws {
        let daemon = try DaemonProcess.binary("faregated")
        let farectl = try DaemonProcess.binary("farectl")
        let config = try installSample()
        let (p, log) = try DaemonProcess.start(daemon, config: config)
        defer {
            if p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
            }
        }
        var lines = DaemonProcess.waitForLines(log, containing: "control socket", count: 1)
        XCTAssertTrue(lines.contains { $0.contains("control socket") }, "\(lines)")

        // The control commands find the gate without --socket through FAREGATE_CONTROL_SOCKET, as
        // they find /run/faregate/faregated.sock on an installed gate.
        let env = ["FAREGATE_CONTROL_SOCKET": dir + "/run/faregated.sock"]
        let status = try run(farectl, ["status"], environment: env)
        XCTAssertEqual(status.status, 0, status.err)
        XCTAssertTrue(status.out.contains("table_cards"), status.out)
        XCTAssertFalse(status.out.contains("[:]") || status.out.contains("[\""), "no Swift literals: \(status.out)")
        for args in [
            ["status", "--json"], ["mode", "--json"], ["journal", "tail", "--json"], ["sync-now", "--json"],
        ] {
            let r = try run(farectl, args, environment: env)
            XCTAssertEqual(r.status, 0, "\(args): \(r.err)")
            try assertSnakeCase(r.out, args.joined(separator: " "), dataKeys: ["alarms"])
        }
        let tail = try run(farectl, ["journal", "tail"], environment: env)
        XCTAssertEqual(tail.status, 0, "journal tail needs no --socket: \(tail.err)")

        kill(p.processIdentifier, SIGTERM)
        lines += DaemonProcess.waitForLines(log, containing: "\u{0}never", count: 1)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit, "stopped by SIGTERM, not by the watchdog")
        XCTAssertEqual(p.terminationStatus, 0)
        let noisy = lines.filter {
            let l = $0.lowercased()
            return l.contains("warning") || l.contains("error") || l.hasPrefix("<4>") || l.hasPrefix("<3>")
        }
        XCTAssertEqual(noisy, [], "the sample starts and stops without a warning")
        XCTAssertTrue(lines.contains { $0.contains("stopped") }, "\(lines)")
    }
}
