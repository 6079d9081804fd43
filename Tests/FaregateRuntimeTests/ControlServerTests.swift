import FaregateCore
import FaregateRuntime
import FaregateSQLite
import FaregateSimulation
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

final class ControlServerTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = "/tmp/fg-ctl-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testStatusTapLookupJournalAndMetricsOverTheSocket() throws {
        let clock = ManualClock()
        let central = dir + "/central.sqlite"
        let key = CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001)!
        try SQLiteCentralStore.create(at: central).insertCards(
            [.init(key: key, cardType: .normal, identityHash: [UInt8](repeating: 3, count: 32), health: .green)],
            wallMillis: 1)
        let reader = SimulatedCardReader(name: "r0", index: 0, clock: clock)
        var options = GateRuntime.Options(gateID: "CTL-1")
        options.sync.intervalSeconds = 3600
        let runtime = GateRuntime(
            options: options, journal: try FileJournal(directory: dir + "/journal"), readers: [reader],
            barrier: SimulatedBarrier(), clock: clock,
            storeFactory: { () throws(CentralStoreError) -> any CentralStore in try SQLiteCentralStore(path: central) })
        runtime.start()
        let control = GateControl(runtime: runtime, simulatedReaders: [reader], clock: clock)
        let server = try ControlServer(path: dir + "/gate.sock") { control.handle($0) }
        defer {
            server.stop()
            runtime.stop()
        }
        let mode = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: server.path)[.posixPermissions] as? Int)
        XCTAssertEqual(mode & 0o777, 0o600)

        let status = try ControlClient.send(["command": "status"], to: server.path)
        XCTAssertEqual(status["gate_id"] as? String, "CTL-1")
        XCTAssertEqual(status["table_cards"] as? Int, 1)

        let tap = try ControlClient.send(["command": "tap", "card": key.description], to: server.path)
        XCTAssertEqual(tap["outcome"] as? String, "open")
        XCTAssertEqual(tap["seq"] as? Int, 1)
        let unknown = try ControlClient.send(
            ["command": "tap", "card": "ride-code:5", "fault": "removed"], to: server.path)
        XCTAssertEqual(unknown["reason"] as? String, "card_removed")

        let lookup = try ControlClient.send(["command": "lookup", "card": key.description], to: server.path)
        XCTAssertEqual(lookup["health"] as? String, "green")
        XCTAssertEqual(
            try ControlClient.send(["command": "lookup", "card": "ride-code:5"], to: server.path)["found"] as? Bool,
            false)

        let journal = try ControlClient.send(["command": "journal", "n": 5], to: server.path)
        XCTAssertEqual((journal["entries"] as? [[String: Any]])?.compactMap { $0["seq"] as? Int }, [1, 2])
        XCTAssertEqual(
            try ControlClient.send(["command": "sync-now"], to: server.path)["journal_acknowledged"] as? Int, 2)

        let metrics = try XCTUnwrap(try ControlClient.send(["command": "metrics"], to: server.path)["text"] as? String)
        XCTAssertTrue(metrics.contains("faregate_taps_total{gate=\"CTL-1\"} 2"), metrics)
        XCTAssertTrue(metrics.contains("faregate_decisions_total{gate=\"CTL-1\",reason=\"ok\"} 1"), metrics)

        let bad = try ControlClient.send(["command": "explode"], to: server.path)
        XCTAssertEqual(bad["ok"] as? Bool, false)
        XCTAssertTrue((bad["error"] as? String ?? "").contains("unknown command"))
    }

    /// Another user is refused by the peer-credential check even when the socket file's mode
    /// would let them connect.
    func testAnotherUserIsRefused() throws {
        guard geteuid() == 0 else { throw XCTSkip("needs root to act as another user") }
        let server = try ControlServer(path: dir + "/gate.sock") { _ in ["ok": true, "secret": "state"] }
        defer { server.stop() }
        chmod(dir, 0o755)
        chmod(server.path, 0o666)  // an operator's mistake: the credential check still holds
        let script = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b'{"command":"status"}\\n')
            print(s.recv(4096).decode())
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        p.arguments = [
            "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", script, server.path,
        ]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        p.waitUntilExit()
        let answer = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertTrue(answer.contains("permission denied: uid 65534"), answer)
        XCTAssertFalse(answer.contains("secret"), answer)
        // And with the intended 0600 mode the kernel refuses the connection outright.
        chmod(server.path, 0o600)
        let q = Process()
        q.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        q.arguments = [
            "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", script, server.path,
        ]
        q.standardError = Pipe()
        try q.run()
        q.waitUntilExit()
        XCTAssertNotEqual(q.terminationStatus, 0, "connect must fail with EACCES")
    }
}
