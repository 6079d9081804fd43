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
        let control = GateControl(runtime: runtime, presenter: SimulatedTapPresenter(readers: [reader]), clock: clock)
        let server = try ControlServer(path: dir + "/gate.sock") { control.handle($0) }
        defer {
            server.stop()
            runtime.stop()
        }
        let mode = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: server.path)[.posixPermissions] as? Int)
        XCTAssertEqual(mode & 0o777, 0o600)

        let status = try XCTUnwrap(try ControlClient.send(.status, to: server.path).statusReport)
        XCTAssertEqual(status.gateID, "CTL-1")
        XCTAssertEqual(status.tableCards, 1)

        let tap = try XCTUnwrap(try ControlClient.send(.tap(card: key), to: server.path).entry)
        XCTAssertEqual(tap.decision.outcome, .open)
        XCTAssertEqual(tap.sequence, 1)
        let rideCode = try XCTUnwrap(CardKey(text: "ride-code:5"))
        let unknown = try XCTUnwrap(
            try ControlClient.send(.tap(card: rideCode, fault: .removedMidRead), to: server.path).entry)
        XCTAssertEqual(unknown.decision.reason.code, "card_removed")

        let lookup = try XCTUnwrap(try ControlClient.send(.lookup(card: key), to: server.path).cardLookup)
        XCTAssertEqual(lookup.status?.health.description, "green")
        XCTAssertEqual(try ControlClient.send(.lookup(card: rideCode), to: server.path).cardLookup?.status, nil)
        XCTAssertEqual(try ControlClient.send(.lookup(card: rideCode), to: server.path).cardLookup?.card, rideCode)

        let journal = try ControlClient.send(.journal(count: 5), to: server.path)
        XCTAssertEqual(journal.entries?.map(\.sequence), [1, 2])
        XCTAssertEqual(try ControlClient.send(.syncNow, to: server.path).syncedReport?.journalAcknowledged, 2)

        let metrics = try XCTUnwrap(try ControlClient.send(.metrics, to: server.path).metricsText)
        XCTAssertTrue(metrics.contains("faregate_taps_total{gate=\"CTL-1\"} 2"), metrics)
        XCTAssertTrue(
            metrics.contains("faregate_decisions_total{gate=\"CTL-1\",outcome=\"open\",reason=\"ok\"} 1"), metrics)

        let bad = try ControlClient.exchange(Data("{\"command\":\"explode\"}\n".utf8), with: server.path)
        let refusal = try XCTUnwrap(ControlWire.response(bad).get().failure)
        XCTAssertEqual(refusal.code, .unknownCommand)
        XCTAssertTrue(refusal.message.contains("unknown command"))
    }

    /// Another user is refused by the peer-credential check even when the socket file's mode
    /// would let them connect.
    func testAnotherUserIsRefused() throws {
        guard geteuid() == 0 else { throw XCTSkip("needs root to act as another user") }
        let server = try ControlServer(path: dir + "/gate.sock") { _ in .metrics("secret state") }
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
