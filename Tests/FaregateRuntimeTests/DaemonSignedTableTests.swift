import FaregateCore
import FaregateRuntime
import FaregateSQLite
import FaregateSodium
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 16, authenticity and scope, against the running `faregated` with a pinned key: an
/// unsigned table (version 10^18), a bundle signed by a foreign key, a staging bundle signed with
/// the production key, and a genuinely signed bundle at version 2^64 − 1 are each refused by
/// `load-snapshot` with the table in service untouched (a card returned at central stays
/// refused), and the daemon keeps running; a bundle from `farectl central export` is taken. At a
/// restart the local table is verified again: the gate's own signed table is served, an unsigned
/// file put in its place is refused.
final class DaemonSignedTableTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = "/tmp/fg-sig-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testOnlyTablesSignedForThisGatesScopeAreEverServed() throws {
        let daemon = try DaemonProcess.binary("faregated")
        let farectl = try DaemonProcess.binary("farectl")
        let green = try XCTUnwrap(CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001))
        let returned = try XCTUnwrap(CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_002))
        let central = dir + "/central.sqlite"
        try SQLiteCentralStore.create(at: central).insertCards(
            [green, returned].enumerated().map { i, key in
                .init(
                    key: key, cardType: .normal, identityHash: [UInt8](repeating: UInt8(i + 1), count: 32),
                    health: .green)
            }, wallMillis: 1)
        func ctl(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
            try DaemonProcess.run(farectl, args)
        }
        let production = ["--network", "metro", "--environment", "production"]
        // Central's timestamp signer, as faregate-timestamp.timer runs it: without its statement
        // a gate with a pinned key counts its data as of unknown age.
        let timestamp = ["central", "timestamp", "--db", central, "--signing-key", dir + "/central.sec"] + production
        for args in [
            ["central", "keygen", "--signing", dir + "/central"], ["central", "keygen", "--signing", dir + "/foreign"],
            ["central", "publish", "--db", central, "--signing-key", dir + "/central.sec", "--snapshot"] + production,
            timestamp,
        ] {
            let r = try ctl(args)
            XCTAssertEqual(r.status, 0, "\(args): \(r.err)")
        }
        let config = dir + "/gate.json"
        try """
        {"gate_id": "SIG-1", "journal_dir": "journal", "control_socket": "gate.sock",
         "snapshot_file": "table.snapshot",
         "central": {"sqlite": "central.sqlite", "public_key": "central.pub",
                     "network": "metro", "environment": "production"},
         "sync": {"interval_seconds": 3600}, "readers": {"backend": "simulated", "count": 1}}
        """.write(toFile: config, atomically: true, encoding: .utf8)
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

        // The card is returned at central: published, signed, synced. It is refused from now on.
        _ = try SQLiteCentralStore(path: central).setHealth(of: returned, to: .red, wallMillis: 2)
        let signed = try ctl(
            ["central", "publish", "--db", central, "--signing-key", dir + "/central.sec"] + production)
        XCTAssertEqual(signed.status, 0, signed.err)
        XCTAssertEqual(try ctl(timestamp).status, 0)
        let synced = try ControlClient.send(.syncNow, to: socket)
        let version = try XCTUnwrap(synced.syncedReport?.tableVersion, "\(synced)")
        XCTAssertEqual(version, try SQLiteCentralStore(path: central).dataVersion())
        func assertStillInService(_ what: String, outcome: Decision.Outcome = .deny) throws {
            XCTAssertTrue(p.isRunning, "the daemon survives \(what)")
            let status = try ControlClient.send(.status, to: socket)
            XCTAssertEqual(status.statusReport?.tableVersion, version, "\(what): \(status)")
            let tap = try ControlClient.send(.tap(card: returned), to: socket)
            XCTAssertEqual(tap.entry?.decision.outcome, outcome, "\(what): the returned card is not let in: \(tap)")
        }
        try assertStillInService("the sync")

        // 1. An unsigned table of version 10^18 in which every card is green (issue 16's attack).
        var allGreen: [CardKey: CardStatus] = [:]
        for key in [green, returned] { allGreen[key] = CardStatus(health: .green, binding: .bound) }
        try SnapshotFile.write(
            CompactStatusTable(dataVersion: 1_000_000_000_000_000_000, entries: allGreen), to: dir + "/unsigned.table")
        // 2. A bundle signed by another key; 3. one signed with the production key for staging.
        for (name, key, scope) in [
            ("foreign", "foreign", production),
            ("staging", "central", ["--network", "metro", "--environment", "staging"]),
        ] {
            let r = try ctl(
                [
                    "central", "export", "--db", central, "--signing-key", dir + "/\(key).sec", "--snapshot", "--out",
                    dir + "/\(name).table",
                ] + scope)
            XCTAssertEqual(r.status, 0, "\(name): \(r.err)")
        }
        // 4. Genuinely signed with the production key, for production, at version 2^64 − 1.
        let keys = try Ed25519KeyPair(secretKey: try KeyFile.read(dir + "/central.sec", bytes: 64))
        let huge = SignedPublication(
            kind: .snapshot, from: 0, to: .max,
            body: SyncPublisher.deltaFormatSnapshot(
                allGreen.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, .max),
            scope: try .production, signer: keys, digest: SodiumSHA256())
        XCTAssertTrue(
            FileManager.default.createFile(
                atPath: dir + "/max-version.table", contents: Data(SignedBundle([huge]).encoded())))

        for (name, check) in [
            ("unsigned", "not a signed bundle"), ("foreign", "bad_signature"), ("staging", "wrong_scope"),
            ("max-version", "malformed"),
        ] {
            let answer = try ctl(["load-snapshot", "--file", dir + "/\(name).table", "--socket", socket])
            XCTAssertEqual(answer.status, 1, "\(name): \(answer)")
            XCTAssertTrue(
                answer.err.contains("\(name).table") && answer.err.contains(check) && answer.err.contains("stays"),
                "\(name): \(answer.err)")
            try assertStillInService("the \(name) table")
        }

        // What `farectl central export` writes is what `load-snapshot` takes.
        let exported = try ctl(
            [
                "central", "export", "--db", central, "--signing-key", dir + "/central.sec", "--snapshot", "--out",
                dir + "/genuine.table",
            ] + production)
        XCTAssertEqual(exported.status, 0, exported.err)
        let verified = try ctl(
            ["central", "verify", "--public-key", dir + "/central.pub", "--in", dir + "/genuine.table"] + production)
        XCTAssertEqual(verified.status, 0, verified.err)
        let staged = try ctl(
            ["central", "verify", "--public-key", dir + "/central.pub", "--in", dir + "/staging.table"] + production)
        XCTAssertEqual(staged.status, 1, "farectl central verify refuses the staging bundle too: \(staged)")
        let loaded = try ctl(["load-snapshot", "--file", dir + "/genuine.table", "--socket", socket])
        XCTAssertEqual(loaded.status, 0, "\(loaded)")
        // Taken; of unknown age (nothing signed says when it was current), so staff decide.
        try assertStillInService("the genuine bundle", outcome: .staff)

        // A restart with central unreachable: the gate's own signed table is verified and served.
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        try FileManager.default.moveItem(atPath: central, toPath: central + ".away")
        (p, log) = try DaemonProcess.start(daemon, config: config)
        let restarted = DaemonProcess.waitForLines(log, containing: "from signed bundle", count: 1)
        XCTAssertTrue(restarted.contains { $0.contains("table version \(version) in service") }, "\(restarted)")
        DaemonProcess.drain(log)
        let status = try ControlClient.send(.status, to: socket)
        XCTAssertEqual(status.statusReport?.tableVersion, version)
        // Its age comes from central's signed timestamp statement kept beside it: fresh enough.
        let fresh = try ControlClient.send(.tap(card: green), to: socket)
        XCTAssertEqual(fresh.entry?.decision.outcome, .open, "\(fresh)")
        XCTAssertEqual(
            try ControlClient.send(.tap(card: returned), to: socket).entry?.decision.outcome, .deny)
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()

        // The unsigned table put in its place: refused at start, nothing is served from it.
        try FileManager.default.removeItem(atPath: dir + "/table.snapshot")
        try FileManager.default.copyItem(atPath: dir + "/unsigned.table", toPath: dir + "/table.snapshot")
        (p, log) = try DaemonProcess.start(daemon, config: config)
        let refused = DaemonProcess.waitForLines(log, containing: "starting without it", count: 1)
        XCTAssertTrue(refused.contains { $0.contains("not a signed bundle") }, "\(refused)")
        DaemonProcess.drain(log)
        let empty = try ControlClient.send(.status, to: socket)
        XCTAssertEqual(empty.statusReport?.tableVersion, 0, "no table: \(empty)")
        let tap = try ControlClient.send(.tap(card: green), to: socket)
        XCTAssertEqual(tap.entry?.decision.reason.code, "stale_data", "\(tap)")
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit, "stopped by SIGTERM, not by the watchdog")
        XCTAssertEqual(p.terminationStatus, 0)
    }
}
