import FaregateCore
import FaregateRuntime
import FaregateSQLite
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Bad snapshot files handed to the running `faregated` process through `farectl load-snapshot`,
/// as an operator would: each is refused with an error naming the file, the daemon keeps running
/// and keeps deciding from the table it had, and a good file is then taken.
final class DaemonSnapshotTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        // Short: the control socket's path must fit in sockaddr_un.
        dir = "/tmp/fg-snap-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testBadSnapshotsHandedToTheRunningDaemonChangeNothing() throws {
        let daemon = try DaemonProcess.binary("faregated")
        let farectl = try DaemonProcess.binary("farectl")
        let green = try XCTUnwrap(CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001))
        let other = try XCTUnwrap(CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_002))
        let central = dir + "/central.sqlite"
        try SQLiteCentralStore.create(at: central).insertCards(
            [green, other].enumerated().map { i, key in
                .init(
                    key: key, cardType: .normal, identityHash: [UInt8](repeating: UInt8(i + 1), count: 32),
                    health: .green)
            }, wallMillis: 1)
        let config = dir + "/gate.json"
        try """
        {"gate_id": "SNAP-1", "journal_dir": "journal", "control_socket": "gate.sock",
         "central": {"sqlite": "central.sqlite"}, "sync": {"interval_seconds": 3600},
         "readers": {"backend": "simulated", "count": 1}}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let socket = dir + "/gate.sock"

        let (p, log) = try DaemonProcess.start(daemon, config: config)
        defer {
            if p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
            }
        }
        // Every wait below (log, socket, exit) ends when the daemon does: `start` armed a watchdog.
        // The socket is bound before the readers start and the first sync runs beside them: the
        // first table's line comes after the socket's.
        let started = DaemonProcess.waitForLines(log, containing: "in service", count: 1)
        XCTAssertTrue(started.contains { $0.contains("in service") }, "\(started)")
        XCTAssertTrue(started.contains { $0.contains("control socket") }, "\(started)")
        DaemonProcess.drain(log)
        let versionInService = try SQLiteCentralStore(path: central).dataVersion()
        XCTAssertGreaterThan(versionInService, 0, "inserting cards advanced the central version")

        // A valid snapshot one version ahead, in which `other` is red: loading it changes a decision.
        var entries: [CardKey: CardStatus] = [:]
        _ = try SQLiteCentralStore(path: central).forEachStatus { entries[$0] = $1 }
        entries[other] = CardStatus(health: .red, binding: .bound)
        let good = dir + "/good.snapshot"
        try SnapshotFile.write(CompactStatusTable(dataVersion: versionInService + 1, entries: entries), to: good)
        let goodBytes = try Data(contentsOf: URL(fileURLWithPath: good))

        var corrupt = goodBytes
        corrupt[corrupt.count - 3] ^= 0xFF  // a body byte: the checksum no longer matches
        var wrongVersion = goodBytes
        wrongVersion[8] = 99  // format version (header bytes 8–11)
        let older = dir + "/older.snapshot"
        try SnapshotFile.write(CompactStatusTable(dataVersion: versionInService - 1, entries: entries), to: older)
        let bad: [(name: String, bytes: Data?)] = [
            ("corrupt", corrupt), ("truncated", goodBytes.prefix(goodBytes.count / 2)),
            ("wrong-version", wrongVersion), ("garbage", Data("not a snapshot".utf8)), ("empty", Data()),
            ("older", nil), ("missing", nil),
        ]
        for (name, bytes) in bad where bytes != nil {
            XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/\(name).snapshot", contents: bytes))
        }
        // 64 GiB (sparse) behind a valid header: refused from its header and size, before the
        // gate allocates memory for it (issue 13: it used to abort the daemon).
        try SnapshotSizeTests.sparseFile(
            at: dir + "/huge.snapshot", header: Array(goodBytes.prefix(StatusSnapshot.headerSize)), size: 64 << 30)

        for name in bad.map(\.name) + ["huge"] {
            let path = dir + "/\(name).snapshot"
            let answer = try DaemonProcess.run(farectl, ["load-snapshot", "--file", path, "--socket", socket])
            XCTAssertEqual(answer.status, 1, "\(name): \(answer)")
            XCTAssertTrue(
                answer.err.contains("\(name).snapshot") && answer.err.contains("stays"), "\(name): \(answer.err)")
            XCTAssertTrue(p.isRunning, "the daemon survives the \(name) file")
        }

        // Still the table it had: same version, and both cards open.
        let status = try ControlClient.send(.status, to: socket)
        XCTAssertEqual(status.statusReport?.tableVersion, versionInService, "\(status)")
        for key in [green, other] {
            let tap = try ControlClient.send(.tap(card: key), to: socket)
            XCTAssertEqual(tap.entry?.decision.outcome, .open, "\(key): \(tap)")
        }

        // The good file is taken: one version ahead. Nothing says how old its data is (no signed
        // word on it: this gate pins no key), so it sends riders to staff rather than trust it,
        // and its statuses are what the gate looks up.
        let loaded = try DaemonProcess.run(farectl, ["load-snapshot", "--file", good, "--socket", socket])
        XCTAssertEqual(loaded.status, 0, "\(loaded)")
        XCTAssertTrue(loaded.out.contains("table version \(versionInService + 1) in service"), loaded.out)
        let unverified = try ControlClient.send(.tap(card: green), to: socket)
        XCTAssertEqual(unverified.entry?.decision.reason.code, "stale_data", "\(unverified)")
        let lookup = try ControlClient.send(.lookup(card: other), to: socket)
        XCTAssertTrue("\(lookup)".contains("red"), "\(lookup)")

        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit, "stopped by SIGTERM, not by the watchdog")
        XCTAssertEqual(p.terminationStatus, 0, "a clean stop after all of it")
    }
}
