import FaregateCore
import FaregatePostgres
import FaregateRuntime
import FaregateSQLite
import FaregateSodium
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 16.4 against the running `faregated` and a real central, SQLite and PostgreSQL (the
/// gate on its own least-privilege login there): the gate pins only the offline root key
/// (`central.root_key`); its configuration never changes while online key A is replaced by B
/// (rotation: B's publications taken), A is revoked (a publication A signs afterwards is refused
/// at the next sync and the table in service stays), and, on SQLite, B is stolen and used to push
/// the gate to version 10^18, which the documented recovery (revoke B, issue C, `reset-epoch`,
/// publish) undoes: the gate comes back to central's real version and moves forward from there.
final class DaemonKeyRotationTests: XCTestCase {
    var dir = ""
    var pgBase = ""
    var pgSchema = ""
    var pgLogin = ""

    override func setUpWithError() throws {
        let suffix = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
        dir = "/tmp/fg-keys-\(suffix.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        pgSchema = "k_" + suffix
        pgLogin = "fg_keys_" + suffix
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
        guard !pgBase.isEmpty else { return }
        let c = try PostgresConnection(pgBase)
        try c.execute("DROP SCHEMA \(pgSchema) CASCADE")
        try c.execute("DROP ROLE IF EXISTS \(pgLogin)")
    }

    let card = CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_002)!
    let other = CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001)!
    let scope = ["--network", "metro", "--environment", "production"]

    func testRotationRevocationAndCompromiseRecoveryOnSQLite() throws {
        let db = dir + "/central.sqlite"
        try SQLiteCentralStore.create(at: db).insertCards(records, wallMillis: 1)
        try flow(backend: ["--db", db], gateCentral: "\"sqlite\": \"central.sqlite\"", compromise: true) {
            try SQLiteCentralStore(path: db)
        }
    }

    func testRotationAndRevocationOnPostgreSQLWithTheGatesOwnLogin() throws {
        let env = ProcessInfo.processInfo.environment
        guard let base = env["FAREGATE_TEST_PG"], !base.isEmpty, let ca = env["FAREGATE_TEST_PG_CA"], !ca.isEmpty
        else {
            if env["FAREGATE_REQUIRE_SERVICES"] == "1" {
                XCTFail("FAREGATE_TEST_PG(_CA) is not set but services are required (scripts/services/postgres)")
            }
            throw XCTSkip("FAREGATE_TEST_PG not set: start scripts/services/postgres")
        }
        try PostgresConnection(base).execute("CREATE SCHEMA \(pgSchema)")
        pgBase = base
        let admin = base + " options='-c search_path=\(pgSchema)'"
        let farectl = try DaemonProcess.binary("farectl")
        XCTAssertEqual(try DaemonProcess.run(farectl, ["central", "migrate", "--pg", admin]).status, 0)
        try PostgresCentralStore(connecting: admin).insertCards(records, wallMillis: 1)
        let added = try DaemonProcess.run(
            farectl,
            ["central", "gate-role", "add", "--pg", admin, "--gate", "KEYS-1", "--login", pgLogin, "--password-stdin"],
            environment: [:], input: "gate-keys-password\n")
        XCTAssertEqual(added.status, 0, added.err)
        func setting(_ key: String) -> String {
            for part in base.split(separator: " ") {
                let kv = part.split(separator: "=", maxSplits: 1)
                if kv.count == 2, kv[0] == key { return String(kv[1]) }
            }
            return ""
        }
        let passfile = dir + "/pgpass"
        XCTAssertTrue(
            FileManager.default.createFile(
                atPath: passfile,
                contents: Data(
                    "\(setting("host")):\(setting("port")):\(setting("dbname")):\(pgLogin):gate-keys-password\n".utf8),
                attributes: [.posixPermissions: 0o600]))
        let conninfo =
            "host=\(setting("host")) port=\(setting("port")) dbname=\(setting("dbname")) user=\(pgLogin)"
            + " sslmode=verify-full sslrootcert=\(ca) passfile=\(passfile) options='-c search_path=\(pgSchema)'"
        try flow(backend: ["--pg", admin], gateCentral: "\"postgres\": \"\(conninfo)\"", compromise: false) {
            try PostgresCentralStore(connecting: admin)
        }
        // The gate's login reads key sets but cannot write one.
        let gate = try PostgresCentralStore(connecting: conninfo)
        let held = try XCTUnwrap(try gate.latestKeySet())
        XCTAssertThrowsError(try gate.storeKeySet(held, version: 99), "the gate role writes no key set")
        XCTAssertThrowsError(try gate.discardPublications(), "nor deletes publications")
    }

    var records: [CentralCardRecord] {
        [other, card].enumerated().map { i, key in
            .init(
                key: key, cardType: .normal, identityHash: [UInt8](repeating: UInt8(i + 1), count: 32), health: .green)
        }
    }

    func flow(
        backend: [String], gateCentral: String, compromise: Bool,
        store open: () throws -> any PublicationStore
    ) throws {
        let daemon = try DaemonProcess.binary("faregated")
        let farectl = try DaemonProcess.binary("farectl")
        @discardableResult
        func ctl(_ args: [String]) throws -> String {
            let r = try DaemonProcess.run(farectl, args)
            XCTAssertEqual(r.status, 0, "\(args): \(r.err)")
            return r.out
        }
        let root = ["--root-key", dir + "/root.sec"] + scope
        func publish(_ key: String, snapshot: Bool = false) throws {
            try ctl(
                ["central", "publish"] + backend + ["--signing-key", dir + "/\(key).sec"] + scope
                    + (snapshot ? ["--snapshot"] : []))
            try ctl(["central", "timestamp"] + backend + ["--signing-key", dir + "/\(key).sec"] + scope)
        }
        func keyID(_ name: String) throws -> String {
            let pub = try KeyFile.read(dir + "/\(name).pub", bytes: 32)
            return PublicationKeySet.hex(PublicationKeySet.Key.id(of: pub))
        }
        try ctl(["central", "keys", "root-keygen", "--out", dir + "/root"])
        for k in ["a", "b", "c"] { try ctl(["central", "keys", "online-keygen", "--out", dir + "/\(k)"]) }
        // The root secret is only ever a file on the command line: never in the central store.
        try ctl(["central", "keys", "issue"] + backend + root + ["--key", dir + "/a.pub"])
        try publish("a", snapshot: true)

        let config = dir + "/gate.json"
        try """
        {"gate_id": "KEYS-1", "journal_dir": "journal", "control_socket": "gate.sock",
         "snapshot_file": "table.snapshot",
         "central": {\(gateCentral), "root_key": "root.pub", "network": "metro", "environment": "production"},
         "sync": {"interval_seconds": 3600}, "readers": {"backend": "simulated", "count": 1}}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let configBytes = try Data(contentsOf: URL(fileURLWithPath: config))
        let socket = dir + "/gate.sock"
        var (p, log) = try DaemonProcess.start(daemon, config: config)
        defer {
            if p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
            }
        }
        XCTAssertFalse(DaemonProcess.waitForLines(log, containing: "in service", count: 1).isEmpty)
        DaemonProcess.drain(log)
        func sync() throws -> ControlResponse { try ControlClient.send(.syncNow, to: socket) }
        func version() throws -> UInt64? { try ControlClient.send(.status, to: socket).statusReport?.tableVersion }
        func outcome() throws -> Decision.Outcome? {
            try ControlClient.send(.tap(card: card), to: socket).entry?.decision.outcome
        }
        XCTAssertNotEqual(try outcome(), .deny, "green under key A")

        // Rotation: the root vouches for B beside A; the card is returned and published with B.
        try ctl(["central", "keys", "issue"] + backend + root + ["--key", dir + "/b.pub"])
        _ = try open().setHealth(of: card, to: .red, wallMillis: 2)
        try publish("b")
        let v2 = try open().dataVersion()
        XCTAssertEqual(try sync().syncedReport?.tableVersion, v2, "B's delta taken, no gate change")
        XCTAssertEqual(try outcome(), .deny)

        // Revocation of A. Its table was built on A's snapshot: until central serves a snapshot
        // signed by a key in force the gate keeps taking B's deltas; then it rebuilds its table
        // from B's snapshot, and refuses a publication A signs (a thief of A, or a forgotten
        // publisher) at the next sync.
        try ctl(["central", "keys", "revoke"] + backend + root + ["--key-id", try keyID("a")])
        _ = try open().setHealth(of: other, to: .yellow, wallMillis: 3)
        try publish("b")
        let v3 = try open().dataVersion()
        XCTAssertEqual(try sync().syncedReport?.tableVersion, v3, "B's deltas still taken before B's snapshot")
        try publish("b", snapshot: true)
        XCTAssertEqual(try sync().syncedReport?.tableVersion, v3)
        let keysA = try Ed25519KeyPair(secretKey: try KeyFile.read(dir + "/a.sec", bytes: 64))
        let green = CardStatus(health: .green, binding: .bound)
        try open().storePublication(
            SignedPublication(
                kind: .delta, from: v3, to: v3 + 1,
                body: DeltaBody(
                    fromVersion: v3, toVersion: v3 + 1, entries: [.init(key: card, operation: .upsert(green))]
                )
                .encoded(), scope: try .production, signer: keysA, digest: SodiumSHA256()))
        let stale = try DaemonProcess.run(
            farectl, ["central", "publish"] + backend + ["--signing-key", dir + "/a.sec"] + scope)
        XCTAssertEqual(stale.status, 1, "farectl refuses to sign with a revoked key: \(stale)")
        XCTAssertTrue(stale.err.contains("revoked in central's key set"), stale.err)
        let refused = try sync()
        XCTAssertNil(refused.syncedReport, "\(refused)")
        XCTAssertTrue(refused.failure?.message.contains("revoked_key") == true, "\(refused)")
        XCTAssertEqual(try version(), v3, "the table in service stays")
        XCTAssertEqual(try outcome(), .deny)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: config)), configBytes, "never re-provisioned")

        // A restart serves the local table, verified under the key set kept beside it.
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        (p, log) = try DaemonProcess.start(daemon, config: config)
        let lines = DaemonProcess.waitForLines(log, containing: "in service", count: 1)
        XCTAssertTrue(lines.contains { $0.contains("from signed bundle") }, lines.joined(separator: "\n"))
        DaemonProcess.drain(log)
        XCTAssertEqual(try version(), v3)
        XCTAssertEqual(try outcome(), .deny)
        guard compromise else { return }

        // Compromise of B. The operator first clears A's row (stored publications are signed again
        // with B), then a thief of B pushes the gate to version 10^18 with the card green.
        try open().discardPublications()
        try publish("b", snapshot: true)
        XCTAssertEqual(try sync().syncedReport?.tableVersion, v3)
        let keysB = try Ed25519KeyPair(secretKey: try KeyFile.read(dir + "/b.sec", bytes: 64))
        let high: UInt64 = 1_000_000_000_000_000_000
        try open().storePublication(
            SignedPublication(
                kind: .delta, from: v3, to: high,
                body: DeltaBody(
                    fromVersion: v3, toVersion: high, entries: [.init(key: card, operation: .upsert(green))]
                )
                .encoded(), scope: try .production, signer: keysB, digest: SodiumSHA256()))
        XCTAssertEqual(try sync().syncedReport?.tableVersion, high, "a stolen online key is believed until revoked")
        XCTAssertNotEqual(try outcome(), .deny)

        // Recovery (README "Trust model"): revoke B, vouch for C, a new epoch whose floor is
        // central's real version (this discards the stored publications), publish with C.
        try ctl(["central", "keys", "revoke"] + backend + root + ["--key-id", try keyID("b")])
        try ctl(["central", "keys", "issue"] + backend + root + ["--key", dir + "/c.pub"])
        let real = try open().dataVersion()
        try ctl(["central", "keys", "reset-epoch"] + backend + root + ["--floor", String(real)])
        try publish("c", snapshot: true)
        XCTAssertEqual(try sync().syncedReport?.tableVersion, real, "back below the attacker's version, once")
        XCTAssertEqual(try outcome(), .deny)
        let listed = try ctl(["central", "keys", "list"] + backend + ["--root-public-key", dir + "/root.pub"] + scope)
        XCTAssertTrue(listed.contains("epoch 1 (floor \(real))"), listed)
        // Forward from there as usual; the old epoch's publications are gone and, if replayed,
        // signed by a revoked key.
        _ = try open().setHealth(of: other, to: .red, wallMillis: 4)
        try publish("c")
        XCTAssertEqual(try sync().syncedReport?.tableVersion, real + 1)
        try open().storePublication(
            SignedPublication(
                kind: .delta, from: real + 1, to: high,
                body: DeltaBody(
                    fromVersion: real + 1, toVersion: high, entries: [.init(key: card, operation: .upsert(green))]
                ).encoded(), scope: try .production, signer: keysB, digest: SodiumSHA256()))
        XCTAssertTrue(try sync().failure?.message.contains("revoked_key") == true)
        XCTAssertEqual(try version(), real + 1)
        XCTAssertEqual(try outcome(), .deny)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: config)), configBytes, "never re-provisioned")
    }
}
