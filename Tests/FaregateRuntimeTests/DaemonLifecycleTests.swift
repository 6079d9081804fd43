import FaregateCore
import FaregateRuntime
import FaregateSQLite
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// `faregated` as it is stopped, reloaded and started twice (issue 14): SIGTERM and SIGINT each
/// stop it cleanly (last upload, last metrics, `STOPPING=1`, exit 0), SIGHUP reloads the policy
/// files and it serves on, a second daemon on the same journal or the same control socket is
/// refused, and a stale socket is replaced. `scripts/test` runs this suite on the release binary.
final class DaemonLifecycleTests: XCTestCase {
    var dir: String!
    let green = CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001)!

    override func setUpWithError() throws {
        // Short: the control socket's path must fit in sockaddr_un.
        dir = "/tmp/fg-life-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// A gate config in `base` (a central SQLite store with `green` in it unless `central` is
    /// false); returns its path.
    func config(
        in base: String, gateID: String, journal: String = "journal", socket: String = "gate.sock",
        central: Bool = true, extra: String = ""
    ) throws -> String {
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        if central, !FileManager.default.fileExists(atPath: base + "/central.sqlite") {
            try SQLiteCentralStore.create(at: base + "/central.sqlite").insertCards(
                [.init(key: green, cardType: .normal, identityHash: [UInt8](repeating: 1, count: 32), health: .green)],
                wallMillis: 1)
        }
        let path = base + "/\(gateID).json"
        try """
        {"gate_id": "\(gateID)", "journal_dir": "\(journal)", "control_socket": "\(socket)",
         \(central ? "\"central\": {\"sqlite\": \"central.sqlite\"}," : "")
         "sync": {"interval_seconds": 3600}, "metrics_file": "metrics.prom",
         "readers": {"backend": "simulated", "count": 1}\(extra)}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Starts the daemon under a stand-in notify socket and waits for `READY=1` (sent once the
    /// control socket is up and the readers serve).
    func startReady(_ daemon: URL, config: String, notify: NotifySocket) throws -> (Process, FileHandle) {
        let (p, log) = try DaemonProcess.start(daemon, config: config, environment: ["NOTIFY_SOCKET": notify.path])
        XCTAssertTrue(notify.wait(for: "READY=1"), "READY=1 (daemon running: \(p.isRunning))")
        return (p, log)
    }

    func journalSequences(_ journalDir: String) throws -> [UInt64] {
        let text = try String(contentsOfFile: journalDir + "/journal.log", encoding: .utf8)
        return try text.split(separator: "\n").map { try JournalCodec.decode($0).sequence }
    }

    func testSIGTERMAndSIGINTEachStopTheDaemonCleanly() throws {
        let daemon = try DaemonProcess.binary("faregated")
        for (sig, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
            let base = dir + "/\(name)"
            let config = try config(in: base, gateID: "STOP-\(name)")
            let notify = try NotifySocket(path: base + "/notify.sock")
            let (p, log) = try startReady(daemon, config: config, notify: notify)
            defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
            // Two taps after start: with an hour between syncs, only the last upload at stop
            // brings them to central.
            let socket = base + "/gate.sock"
            _ = try ControlClient.send(.syncNow, to: socket)
            for _ in 0..<2 {
                XCTAssertEqual(try ControlClient.send(.tap(card: green), to: socket).entry?.decision.outcome, .open)
            }
            let sent = Date()
            kill(p.processIdentifier, sig)
            p.waitUntilExit()
            // Measured, not asserted (no wall-clock assertions in tests): printed for the log.
            print("faregated stopped \(String(format: "%.3f", Date().timeIntervalSince(sent))) s after \(name)")
            XCTAssertEqual(p.terminationReason, .exit, "\(name): exited, not killed by the signal")
            XCTAssertEqual(p.terminationStatus, 0, name)

            let lines = String(decoding: log.readDataToEndOfFile(), as: UTF8.self)
            XCTAssertTrue(lines.contains("stopping (\(name))"), "\(name): \(lines)")
            XCTAssertTrue(lines.contains("stopped: 2 taps"), "\(name): \(lines)")
            XCTAssertTrue(lines.contains("acknowledged 2"), "\(name): the last upload took both taps: \(lines)")
            XCTAssertFalse(lines.contains("abandoned"), lines)
            XCTAssertTrue(notify.wait(for: "STOPPING=1", seconds: 5), "\(name): \(notify.received)")
            XCTAssertEqual(notify.received.first, "READY=1")
            let central = try SQLiteCentralStore(path: base + "/central.sqlite")
            XCTAssertEqual(try central.journal(gate: "STOP-\(name)").map(\.sequence), [1, 2], name)
            let metrics = try String(contentsOfFile: base + "/metrics.prom", encoding: .utf8)
            XCTAssertTrue(metrics.contains("faregate_taps_total{gate=\"STOP-\(name)\"} 2"), metrics)
            XCTAssertFalse(FileManager.default.fileExists(atPath: socket), "\(name): socket removed at stop")
            XCTAssertEqual(try journalSequences(base + "/journal"), [1, 2])
        }
    }

    func testSIGHUPReloadsThePolicyAndTheDaemonServesOn() throws {
        let daemon = try DaemonProcess.binary("faregated")
        let seeds = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../seeds/policies"
        ).standardized.path
        let policies = dir + "/policies"
        try FileManager.default.createDirectory(atPath: policies, withIntermediateDirectories: true)
        for f in try FileManager.default.contentsOfDirectory(atPath: seeds) where f.hasSuffix(".json") {
            try FileManager.default.copyItem(atPath: seeds + "/" + f, toPath: policies + "/" + f)
        }
        let config = try config(in: dir, gateID: "HUP-1", central: false, extra: ", \"policy_dir\": \"policies\"")
        let notify = try NotifySocket(path: dir + "/notify.sock")
        let (p, log) = try startReady(daemon, config: config, notify: notify)
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        let socket = dir + "/gate.sock"

        kill(p.processIdentifier, SIGHUP)
        let reloaded = DaemonProcess.waitForLines(log, containing: "SIGHUP:", count: 1)
        // (The line read may be followed by others from the same read: look for it by its marker.)
        XCTAssertTrue(reloaded.last { $0.contains("SIGHUP:") }?.contains("loaded") ?? false, "\(reloaded)")
        XCTAssertTrue(p.isRunning)
        XCTAssertEqual(try ControlClient.send(.status, to: socket).statusReport?.gateID, "HUP-1")
        XCTAssertEqual(try ControlClient.send(.tap(card: green), to: socket).entry?.sequence, 1)

        // A policy file broken on disk: the reload is refused, the rules in force stay, it serves on.
        let victim = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: policies).sorted().first)
        try "{ not json".write(toFile: policies + "/" + victim, atomically: true, encoding: .utf8)
        kill(p.processIdentifier, SIGHUP)
        let refused = DaemonProcess.waitForLines(log, containing: "SIGHUP:", count: 1)
        let refusal = refused.last { $0.contains("SIGHUP:") } ?? ""
        XCTAssertTrue(refusal.contains("previous rules stay in force"), "\(refused)")
        XCTAssertTrue(refusal.contains(victim), "\(refused)")
        XCTAssertEqual(try ControlClient.send(.tap(card: green), to: socket).entry?.sequence, 2)

        DaemonProcess.drain(log)
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertEqual(try journalSequences(dir + "/journal"), [1, 2])
    }

    func testASecondDaemonIsRefusedAndTheFirstServesOn() throws {
        let daemon = try DaemonProcess.binary("faregated")
        let config = try config(in: dir, gateID: "ONE-1")
        let notify = try NotifySocket(path: dir + "/notify.sock")
        let (first, log) = try startReady(daemon, config: config, notify: notify)
        DaemonProcess.drain(log)
        defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) } }
        let socket = dir + "/gate.sock"
        XCTAssertEqual(try ControlClient.send(.tap(card: green), to: socket).entry?.sequence, 1)

        // The same journal directory: refused at once, naming the first daemon.
        let second = try DaemonProcess.run(daemon, ["--config", config])
        XCTAssertEqual(second.status, 1, "\(second)")
        XCTAssertTrue(second.err.contains("in use by faregated pid \(first.processIdentifier)"), second.err)
        XCTAssertEqual(try ControlClient.send(.tap(card: green), to: socket).entry?.sequence, 2)

        // Another journal but the same control socket: refused, the socket stays the first's.
        let other = try self.config(in: dir, gateID: "ONE-2", journal: "journal-2")
        let third = try DaemonProcess.run(daemon, ["--config", other])
        XCTAssertEqual(third.status, 1, "\(third)")
        XCTAssertTrue(third.err.contains("refusing to take it over"), third.err)
        XCTAssertEqual(try ControlClient.send(.status, to: socket).statusReport?.gateID, "ONE-1")
        XCTAssertEqual(try ControlClient.send(.tap(card: green), to: socket).entry?.sequence, 3)

        kill(first.processIdentifier, SIGTERM)
        first.waitUntilExit()
        XCTAssertEqual(first.terminationStatus, 0)
        XCTAssertEqual(try journalSequences(dir + "/journal"), [1, 2, 3], "one writer: no sequence twice")

        // Killed with -9 the lock goes with the process, and the socket file it leaves is stale:
        // the next daemon takes both and serves.
        let notify2 = try NotifySocket(path: dir + "/notify2.sock")
        let (killed, log2) = try startReady(daemon, config: config, notify: notify2)
        DaemonProcess.drain(log2)
        kill(killed.processIdentifier, SIGKILL)
        killed.waitUntilExit()
        XCTAssertTrue(FileManager.default.fileExists(atPath: socket), "a killed daemon leaves its socket file")
        let notify3 = try NotifySocket(path: dir + "/notify3.sock")
        let (next, log3) = try startReady(daemon, config: config, notify: notify3)
        DaemonProcess.drain(log3)
        defer { if next.isRunning { kill(next.processIdentifier, SIGKILL) } }
        XCTAssertEqual(try ControlClient.send(.tap(card: green), to: socket).entry?.sequence, 4)
        kill(next.processIdentifier, SIGTERM)
        next.waitUntilExit()
        XCTAssertEqual(next.terminationStatus, 0)
        XCTAssertEqual(try journalSequences(dir + "/journal"), [1, 2, 3, 4])
    }

    /// Central locked by someone else (here: the test holds a write lock on the whole SQLite file,
    /// so every SQLite lock the daemon asks for is busy): the gate still serves at once from its
    /// local table, answers its control socket while a sync is in progress, and syncs when the
    /// lock goes.
    func testTheGateServesAtOnceWhileCentralIsLocked() throws {
        let daemon = try DaemonProcess.binary("faregated")
        let config = try config(in: dir, gateID: "LOCK-1")
        let lockFD = open(dir + "/central.sqlite", O_RDWR)
        XCTAssertGreaterThanOrEqual(lockFD, 0)
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = 0
        lock.l_len = 0  // the whole file, SQLite's lock bytes included
        XCTAssertEqual(fcntl(lockFD, F_SETLK, &lock), 0)
        var locked = true
        defer { if locked { close(lockFD) } }

        let notify = try NotifySocket(path: dir + "/notify.sock")
        let (p, log) = try startReady(daemon, config: config, notify: notify)
        DaemonProcess.drain(log)
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        let socket = dir + "/gate.sock"

        // A sync asked for on one connection waits on the lock; another connection is answered
        // meanwhile. (It cannot have finished when `status` returns unless status took longer
        // than SQLite's 5 s busy timeout.)
        let syncAnswered = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var syncAnswer: ControlResponse?
        Thread.detachNewThread {
            syncAnswer = try? ControlClient.send(.syncNow, to: socket)
            syncAnswered.signal()
        }
        let status = try XCTUnwrap(try ControlClient.send(.status, to: socket).statusReport)
        XCTAssertEqual(status.syncs, 0, "no sync can succeed while the test holds the lock")
        // A tap is decided and journalled while no sync has succeeded: from the (empty) local
        // table, so the rider goes to staff rather than wait for central.
        let tap = try XCTUnwrap(try ControlClient.send(.tap(card: green), to: socket).entry)
        XCTAssertEqual(tap.sequence, 1)
        XCTAssertNotEqual(tap.decision.outcome, .open, "no data: not opened on trust")
        let during = try XCTUnwrap(try ControlClient.send(.status, to: socket).statusReport)
        XCTAssertEqual(during.syncs, 0)
        XCTAssertEqual(during.taps, 1)
        XCTAssertEqual(during.journalLastSequence, 1)

        close(lockFD)
        locked = false
        XCTAssertEqual(syncAnswered.wait(timeout: .now() + 60), .success)
        XCTAssertNotNil(syncAnswer, "the waiting sync-now was answered (success or failure)")
        let synced = try ControlClient.send(.syncNow, to: socket)
        XCTAssertEqual(synced.syncedReport?.tableCards, 1, "\(synced)")
        XCTAssertEqual(try ControlClient.send(.tap(card: green), to: socket).entry?.decision.outcome, .open)

        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
    }
}
