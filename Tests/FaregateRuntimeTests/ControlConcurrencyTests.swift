import FaregateCore
import FaregateSimulation
import Foundation
import XCTest

@testable import FaregateRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// The control socket under slow, idle and too many clients, and given files that are not
/// snapshots (issue 14: one connection at a time let a client sending a byte every 1.5 s delay
/// root's `mode --set emergency-open` by 29 s; a FIFO given to `load-snapshot` hung the socket).
/// A real gate (runtime, barrier driver, control) on a real Unix socket.
final class ControlConcurrencyTests: XCTestCase {
    var dir: String!
    var runtime: GateRuntime!
    var barrier: BarrierDriver!

    override func setUpWithError() throws {
        dir = "/tmp/fg-cc-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let clock = SystemClock()
        barrier = BarrierDriver(
            io: SimulatedGateIO(), clock: clock, directions: .entryOnly, enforcement: .enforced, timings: .init())
        barrier.start()
        runtime = GateRuntime(
            options: .init(gateID: "CC-1"), journal: try FileJournal(directory: dir + "/journal"),
            readers: [SimulatedCardReader(name: "r0", index: 0, clock: clock)], barrier: barrier, clock: clock,
            storeFactory: nil)
        runtime.start()
    }

    override func tearDownWithError() throws {
        runtime.stop()
        barrier.stop()
        try? FileManager.default.removeItem(atPath: dir)
    }

    func server(requestTimeout: Duration = .seconds(600), maxConnections: Int = 16) throws -> ControlServer {
        let control = GateControl(runtime: runtime, presenter: nil, clock: SystemClock(), barrier: barrier)
        return try ControlServer(
            path: dir + "/gate.sock", requestTimeout: requestTimeout, maxConnections: maxConnections
        ) { control.handle($0) }
    }

    /// A connection that has sent nothing (yet).
    func connection(_ server: ControlServer) throws -> Int32 {
        let addr = try ControlSocketIO.address(server.path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        XCTAssertEqual(ControlSocketIO.withSockaddr(addr) { connect(fd, $0, $1) }, 0)
        return fd
    }

    /// Whether the server has answered (or closed) `fd`, without waiting.
    func answered(_ fd: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) > 0
    }

    /// Waits (at most 10 s) until `condition` holds.
    func waitUntil(_ what: String, _ condition: () -> Bool) {
        let deadline = Date(timeIntervalSinceNow: 10)
        while !condition() {
            guard Date() < deadline else { return XCTFail("never: \(what)") }
            usleep(1000)
        }
    }

    func testSlowAndIdleClientsDoNotDelayAModeChangeOrStatus() throws {
        // A request deadline far longer than the test: a fast client served now is served beside
        // the others, not after their deadline freed the server.
        let server = try server()
        defer { server.stop() }
        let idle = try (0..<10).map { _ in try connection(server) }
        let slow = try connection(server)
        defer { for fd in idle + [slow] { close(fd) } }
        // The slow client sends its request a byte at a time and stalls between bytes.
        let slowRequest = Array(ControlWire.line(ControlRequest.status))
        XCTAssertTrue(ControlSocketIO.write(Data(slowRequest.prefix(1)), to: slow, within: .seconds(5)))
        waitUntil("all 11 connections are being served") { server.connectionsInProgress == 11 }

        let mode = try ControlClient.send(.mode(.init(mode: .emergencyOpen)), to: server.path)
        guard case .mode(let sent, _) = mode else { return XCTFail("\(mode)") }
        XCTAssertEqual(sent, 1)
        // The barrier thread takes the command; `status` (another connection) shows it taken.
        waitUntil("emergency-open in force") {
            (try? ControlClient.send(.status, to: server.path).statusReport?.barrier?.mode) == .emergencyOpen
        }
        // Answered while every slow and idle client is still connected and still unanswered.
        XCTAssertFalse(answered(slow))
        for fd in idle { XCTAssertFalse(answered(fd)) }
        XCTAssertEqual(server.connectionsInProgress, 11)

        // The slow client finishes its request and is answered too.
        XCTAssertTrue(ControlSocketIO.write(Data(slowRequest.dropFirst(1)), to: slow, within: .seconds(5)))
        shutdown(slow, Int32(SHUT_WR))
        let bytes = try XCTUnwrap(ControlSocketIO.readAll(slow, limit: 1 << 20, within: .seconds(10)))
        XCTAssertEqual(try ControlWire.response(bytes).get().statusReport?.gateID, "CC-1")
    }

    func testConnectionsBeyondTheCapAreRefusedBusyAtOnce() throws {
        let server = try server(maxConnections: 4)
        defer { server.stop() }
        var held = try (0..<4).map { _ in try connection(server) }
        defer { for fd in held { close(fd) } }
        waitUntil("4 connections are being served") { server.connectionsInProgress == 4 }
        let refused = try ControlClient.send(.status, to: server.path)
        XCTAssertEqual(refused.failure?.code, .busy, "\(refused)")
        XCTAssertTrue(refused.failure?.message.contains("4 control connections") ?? false, "\(refused)")
        close(held.removeLast())
        waitUntil("a connection ended") { server.connectionsInProgress == 3 }
        XCTAssertEqual(try ControlClient.send(.status, to: server.path).statusReport?.gateID, "CC-1")
    }

    func testStopCutsConnectionsInProgress() throws {
        let server = try server()
        let idle = try connection(server)
        defer { close(idle) }
        waitUntil("the connection is being served") { server.connectionsInProgress == 1 }
        server.stop()
        XCTAssertEqual(server.connectionsInProgress, 0, "stop waited for the connection it cut")
        XCTAssertFalse(FileManager.default.fileExists(atPath: server.path))
    }

    func testDuplicateKeysAreRefused() throws {
        let server = try server()
        defer { server.stop() }
        let raw = try ControlClient.exchange(
            Data("{\"v\":1,\"command\":\"status\",\"command\":\"metrics\"}\n".utf8), with: server.path)
        let refusal = try XCTUnwrap(try ControlWire.response(raw).get().failure)
        XCTAssertEqual(refusal.code, .badRequest)
        XCTAssertTrue(refusal.message.contains("duplicate key 'command'"), refusal.message)
        XCTAssertEqual(try ControlClient.send(.status, to: server.path).statusReport?.gateID, "CC-1")
    }

    /// A FIFO (which nobody writes: opened blocking it would wait forever), a directory, a device
    /// and a symlink are refused at once, and the socket serves on.
    func testLoadSnapshotRefusesWhatIsNotARegularFileWithoutBlocking() throws {
        let server = try server()
        defer { server.stop() }
        let good = dir + "/good.snapshot"
        try SnapshotFile.write(CompactStatusTable(dataVersion: 7, entries: [:]), to: good)
        let fifo = dir + "/fifo.snapshot"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let link = dir + "/link.snapshot"
        XCTAssertEqual(symlink(good, link), 0)
        for path: String in [fifo, dir!, "/dev/zero", link] {
            let answer = try ControlClient.send(.loadSnapshot(path: path), to: server.path)
            XCTAssertEqual(answer.failure?.code, .failed, "\(path): \(answer)")
            XCTAssertTrue(answer.failure?.message.contains(path) ?? false, "\(path): \(answer)")
            XCTAssertEqual(try ControlClient.send(.status, to: server.path).statusReport?.tableVersion, 0)
        }
        XCTAssertEqual(try ControlClient.send(.loadSnapshot(path: good), to: server.path).failure, nil)
    }

    func testALiveSocketIsNotTakenOverAndAStaleOneIsReplaced() throws {
        let live = try server()
        XCTAssertThrowsError(try ControlServer(path: live.path) { _ in .metrics("impostor") }) { error in
            XCTAssertTrue((error as? ControlServer.Error)?.inUse ?? false, "\(error)")
            XCTAssertTrue("\(error)".contains("refusing to take it over"), "\(error)")
        }
        XCTAssertEqual(try ControlClient.send(.status, to: live.path).statusReport?.gateID, "CC-1")
        live.stop()

        // A socket file nobody listens on any more (a daemon killed with -9 leaves one).
        let stale = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        let addr = try ControlSocketIO.address(live.path)
        XCTAssertEqual(ControlSocketIO.withSockaddr(addr) { bind(stale, $0, $1) }, 0)
        close(stale)
        let replacing = try server()
        defer { replacing.stop() }
        XCTAssertEqual(try ControlClient.send(.status, to: replacing.path).statusReport?.gateID, "CC-1")

        // A regular file at the socket's path (a mistyped config) is not deleted.
        let file = dir + "/not-a-socket"
        try "keep me".write(toFile: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ControlServer(path: file) { _ in .metrics("") })
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "keep me")
    }
}
