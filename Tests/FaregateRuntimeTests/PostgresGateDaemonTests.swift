import FaregateCore
import FaregatePostgres
import FaregateRuntime
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// `faregated` against a real PostgreSQL as a gate is deployed (README "Central store on
/// PostgreSQL"): its own login made by `farectl central gate-role add`, the password in a libpq
/// passfile, `sslmode=verify-full` against the CA the test server was made with. The gate takes
/// the signed snapshot, decides, and its journal reaches central, all on that login.
final class PostgresGateDaemonTests: XCTestCase {
    var dir = ""
    var base = ""
    var schema = ""
    var login = ""

    override func setUpWithError() throws {
        let env = ProcessInfo.processInfo.environment
        guard let b = env["FAREGATE_TEST_PG"], !b.isEmpty, let ca = env["FAREGATE_TEST_PG_CA"], !ca.isEmpty else {
            if env["FAREGATE_REQUIRE_SERVICES"] == "1" {
                XCTFail("FAREGATE_TEST_PG(_CA) is not set but services are required (scripts/services/postgres)")
            }
            throw XCTSkip("FAREGATE_TEST_PG not set: start scripts/services/postgres")
        }
        base = b
        let suffix = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
        schema = "d_" + suffix
        login = "fg_daemon_" + suffix
        try PostgresConnection(base).execute("CREATE SCHEMA \(schema)")
        // Short: the control socket's path must fit in sockaddr_un.
        dir = "/tmp/fg-pg-\(suffix.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if !dir.isEmpty { try? FileManager.default.removeItem(atPath: dir) }
        guard !schema.isEmpty else { return }
        let c = try PostgresConnection(base)
        try c.execute("DROP SCHEMA \(schema) CASCADE")
        try c.execute("DROP ROLE IF EXISTS \(login)")
    }

    func setting(_ key: String) -> String {
        for part in base.split(separator: " ") {
            let kv = part.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0] == key { return String(kv[1]) }
        }
        return ""
    }

    func testGateRunsOnItsOwnLoginOverVerifiedTLS() throws {
        let daemon = try DaemonProcess.binary("faregated")
        let farectl = try DaemonProcess.binary("farectl")
        let ca = ProcessInfo.processInfo.environment["FAREGATE_TEST_PG_CA"] ?? ""
        let admin = base + " options='-c search_path=\(schema)'"
        func farectlOK(_ args: [String], input: String? = nil) throws -> String {
            let r = try DaemonProcess.run(farectl, args, environment: [:], input: input)
            XCTAssertEqual(r.status, 0, "\(args): \(r.err)")
            return r.out
        }
        _ = try farectlOK(["central", "migrate", "--pg", admin])
        let green = try XCTUnwrap(CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001))
        let returned = try XCTUnwrap(CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_002))
        let central = try PostgresCentralStore(connecting: admin)
        try central.insertCards(
            [
                .init(key: green, cardType: .normal, identityHash: [UInt8](repeating: 1, count: 32), health: .green),
                .init(
                    key: returned, cardType: .normal, returned: true,
                    identityHash: [UInt8](repeating: 2, count: 32), health: .green),
            ], wallMillis: 1)
        _ = try farectlOK(["central", "keygen", "--signing", dir + "/central"])
        let scope = ["--network", "metro", "--environment", "production"]
        _ = try farectlOK(
            ["central", "publish", "--pg", admin, "--signing-key", dir + "/central.sec", "--snapshot"] + scope)
        // The signed timestamp statement the gate counts its data's age from (issue 16.1).
        _ = try farectlOK(["central", "timestamp", "--pg", admin, "--signing-key", dir + "/central.sec"] + scope)
        _ = try farectlOK(
            ["central", "gate-role", "add", "--pg", admin, "--gate", "PG-1", "--login", login, "--password-stdin"],
            input: "gate-pg-1-password\n")
        XCTAssertTrue(try farectlOK(["central", "gate-role", "list", "--pg", admin]).contains("\(login): gate PG-1"))

        // The password goes to the passfile (0600), never into the configuration.
        let passfile = dir + "/pgpass"
        XCTAssertTrue(
            FileManager.default.createFile(
                atPath: passfile,
                contents: Data(
                    "\(setting("host")):\(setting("port")):\(setting("dbname")):\(login):gate-pg-1-password\n".utf8),
                attributes: [.posixPermissions: 0o600]))
        let conninfo =
            "host=\(setting("host")) port=\(setting("port")) dbname=\(setting("dbname")) user=\(login)"
            + " sslmode=verify-full sslrootcert=\(ca) passfile=\(passfile) options='-c search_path=\(schema)'"
        let config = dir + "/gate.json"
        try """
        {"gate_id": "PG-1", "journal_dir": "journal", "control_socket": "gate.sock",
         "central": {"postgres": "\(conninfo)", "public_key": "central.pub",
                     "network": "metro", "environment": "production"}, "sync": {"interval_seconds": 3600},
         "readers": {"backend": "simulated", "count": 1}}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let check = try DaemonProcess.run(daemon, ["--check-config", config])
        XCTAssertEqual(check.status, 0, check.out + check.err)
        XCTAssertTrue(check.out.contains("central: PostgreSQL, sslmode verify-full"), check.out)
        XCTAssertFalse(check.out.contains("warning: central"), "TLS set up as the README says: \(check.out)")

        // The same gate dialling a remote server without verify-full: the check warns.
        let unverified = dir + "/unverified.json"
        try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(
            of: "host=\(setting("host"))", with: "host=central.example"
        ).replacingOccurrences(of: "sslmode=verify-full", with: "sslmode=require").write(
            toFile: unverified, atomically: true, encoding: .utf8)
        let warned = try DaemonProcess.run(daemon, ["--check-config", unverified])
        XCTAssertEqual(warned.status, 0, warned.out)
        XCTAssertTrue(
            warned.out.contains("warning: central.postgres: sslmode require does not authenticate the remote server"),
            warned.out)

        let (p, log) = try DaemonProcess.start(daemon, config: config)
        defer {
            if p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
            }
        }
        let started = DaemonProcess.waitForLines(log, containing: "in service", count: 1)
        XCTAssertTrue(started.contains { $0.contains("table version 1 in service") }, "\(started)")
        DaemonProcess.drain(log)
        let socket = dir + "/gate.sock"
        XCTAssertEqual(try ControlClient.send(.tap(card: green), to: socket).entry?.decision.outcome, .open)
        XCTAssertEqual(try ControlClient.send(.tap(card: returned), to: socket).entry?.decision.outcome, .deny)
        let synced = try ControlClient.send(.syncNow, to: socket)
        guard case .synced = synced else { return XCTFail("sync on the gate's own login: \(synced)") }

        XCTAssertEqual(try central.journal(gate: "PG-1").map(\.key), [green, returned])
        XCTAssertEqual(try central.acknowledgedSequence(gate: "PG-1"), 2)
        // The gate's session: its own login, over TLS.
        let session = try PostgresConnection(base).query(
            "SELECT s.ssl::text FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.usename = $1", [login])
        XCTAssertEqual(session.rows, 1)
        XCTAssertEqual(session.text(0, 0), "true")

        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit, "stopped by SIGTERM, not by the watchdog")
        XCTAssertEqual(p.terminationStatus, 0)
    }
}
