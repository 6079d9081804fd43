import FaregateCore
import FaregateModbus
import FaregateRuntime
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// `faregated` as it ships, as a subprocess, driving the board emulator over Modbus: killed with
/// -9, the board's watchdog retracts the flaps and a restarted daemon closes them again; a board
/// lost takes the lane out of service and back, journalled and in `farectl status`, as the
/// power-fail free-open is; a wrong register map refuses the start, naming the setting.
final class ModbusDaemonTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-modbusd-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// The built `faregated` (as `DaemonProcess.binary` in the runtime tests: next to the test
    /// bundle, or in `FAREGATE_DAEMON_BIN_DIR`; skipped when missing, failed in CI).
    func daemon() throws -> URL {
        let bundleDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var candidates = [bundleDir, bundleDir.deletingLastPathComponent()]
        if let d = ProcessInfo.processInfo.environment["FAREGATE_DAEMON_BIN_DIR"] {
            candidates = [URL(fileURLWithPath: d)]
        }
        for c in candidates
        where FileManager.default.isExecutableFile(atPath: c.appendingPathComponent("faregated").path) {
            return c.appendingPathComponent("faregated")
        }
        let message = "faregated is not built next to the tests (run `swift build` first)"
        if ProcessInfo.processInfo.environment["FAREGATE_REQUIRE_SERVICES"] == "1" {
            XCTFail(message)
            throw CocoaError(.fileNoSuchFile)
        }
        throw XCTSkip(message)
    }

    func start(_ daemon: URL, config: String) throws -> (Process, DaemonLog) {
        let p = Process()
        p.executableURL = daemon
        p.arguments = ["--config", config, "--verbose"]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let pid = p.processIdentifier
        // A daemon still running after two minutes is killed: the test fails instead of hanging.
        DispatchQueue.global().asyncAfter(deadline: .now() + 120) { if p.isRunning { kill(pid, SIGKILL) } }
        return (p, DaemonLog(err.fileHandleForReading))
    }

    func writeConfig(_ io: String, map: String = "map.json") throws -> String {
        try? FileManager.default.removeItem(atPath: dir + "/map.json")
        try FileManager.default.copyItem(
            atPath: ModbusLane.hardware.appendingPathComponent("modbus-8in8out.json").path, toPath: dir + "/map.json")
        let config = dir + "/gate.json"
        try """
        {"gate_id": "MODBUS-1", "journal_dir": "journal", "control_socket": "gate.sock",
         "readers": {"backend": "simulated", "count": 1},
         "barrier": {"directions": "bidirectional"},
         "io": \(io)}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        return config
    }

    func killNine(_ link: ModbusLane.Link) throws {
        let daemon = try daemon()
        let map = try ModbusLane.map("modbus-8in8out.json")
        let clock = SystemClock()
        let board: ModbusBoardEmulator
        let io: String
        switch link {
        case .rtu:
            board = try ModbusBoardEmulator(map: map, transport: .rtu(link: dir + "/board-tty", slave: 3), clock: clock)
            io =
                "{\"backend\": \"modbus-rtu\", \"device\": \"\(dir!)/board-tty\", \"slave_id\": 3, \"map\": \"map.json\"}"
        case .tcp:
            board = try ModbusBoardEmulator(map: map, transport: .tcp(host: "127.0.0.1", port: 0), clock: clock)
            io =
                "{\"backend\": \"modbus-tcp\", \"host\": \"127.0.0.1\", \"port\": \(board.port), \"map\": \"map.json\"}"
        }
        board.start()
        defer { board.stop() }
        let config = try writeConfig(io)
        // The board starts retracted (no controller yet); the daemon takes it over.
        XCTAssertTrue(board.snapshot.watchdogTripped)
        var (p, log) = try start(daemon, config: config)
        XCTAssertTrue(board.wait { !$0.watchdogTripped && $0.flaps == .close && $0.commanded.unpaid == .greenArrow })
        XCTAssertTrue(board.wait { $0.heartbeats >= 3 })
        _ = board.takeEvents()
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal)
        let killedAt = clock.monotonicNanos()
        XCTAssertTrue(board.wait { $0.watchdogTripped && $0.flaps == .retract }, "\(board.snapshot)")
        let trip = board.takeEvents().first { $0.event == .watchdog(tripped: true) }
        XCTAssertNotNil(trip)
        XCTAssertEqual(board.snapshot.commanded.flaps, .close, "the last command was close: the watchdog retracted")
        // It did not trip before the daemon died, and it tripped the watchdog time after the last
        // heartbeat, which came before the kill.
        if let trip { XCTAssertGreaterThan(trip.at + UInt64(map.watchdogMillis) * 1_000_000, killedAt) }
        // A restarted daemon sends a heartbeat and an explicit close.
        (p, log) = try start(daemon, config: config)
        XCTAssertTrue(board.wait { !$0.watchdogTripped && $0.flaps == .close }, "\(board.snapshot) \(log.text)")
        XCTAssertTrue(log.wait(for: "control socket"), log.text)
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
    }

    func testKillNineLetsTheBoardWatchdogRetractTheFlapsOverTCP() throws { try killNine(.tcp) }
    func testKillNineLetsTheBoardWatchdogRetractTheFlapsOverRTU() throws { try killNine(.rtu) }

    /// The board stops answering: the lane goes out of service (journalled, `board_online false`
    /// and the reason in `farectl status`), comes back by itself once the board answers (journalled
    /// too); a power loss holds it open and its end releases it, each a journal entry.
    func testABoardLostIsJournalledAndShownInStatus() throws {
        let daemon = try daemon()
        let farectl = daemon.deletingLastPathComponent().appendingPathComponent("farectl")
        guard FileManager.default.isExecutableFile(atPath: farectl.path) else {
            throw XCTSkip("farectl is not built next to faregated")
        }
        let map = try ModbusLane.map("modbus-8in8out.json")
        let board = try ModbusBoardEmulator(
            map: map, transport: .tcp(host: "127.0.0.1", port: 0), clock: SystemClock())
        board.start()
        defer { board.stop() }
        let config = try writeConfig(
            "{\"backend\": \"modbus-tcp\", \"host\": \"127.0.0.1\", \"port\": \(board.port), "
                + "\"map\": \"map.json\", \"failed_polls_out_of_service\": 3, \"response_timeout_ms\": 250}")
        let (p, log) = try start(daemon, config: config)
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        XCTAssertTrue(log.wait(for: "control socket"), log.text)
        XCTAssertTrue(board.wait { !$0.watchdogTripped && $0.flaps == .close })
        func status() throws -> [String: Any] {
            let r = try Self.run(farectl, ["status", "--socket", dir + "/gate.sock", "--json"])
            XCTAssertEqual(r.status, 0, r.err)
            return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], r.out)
        }
        var s = try status()
        XCTAssertEqual(s["board_online"] as? Bool, true)
        XCTAssertNil(s["out_of_service_reason"])

        board.setAnswering(false)
        XCTAssertTrue(log.wait(for: "lane event io_board=lost journalled"), log.text)
        s = try status()
        XCTAssertEqual(s["board_online"] as? Bool, false, "\(s)")
        XCTAssertEqual(s["barrier_state"] as? String, "out_of_service")
        XCTAssertEqual(s["out_of_service_reason"] as? String, "io_board_lost")
        let text = try Self.run(farectl, ["status", "--socket", dir + "/gate.sock"]).out
        XCTAssertTrue(text.contains("board_online            false"), text)
        XCTAssertTrue(text.contains("out_of_service_reason   io_board_lost"), text)

        board.setAnswering(true)
        XCTAssertTrue(log.wait(for: "lane event io_board=online journalled"), log.text)
        s = try status()
        XCTAssertEqual(s["board_online"] as? Bool, true, "\(s)")
        XCTAssertEqual(s["barrier_state"] as? String, "idle")
        XCTAssertNil(s["out_of_service_reason"])

        board.set(.powerFailure(active: true))
        XCTAssertTrue(log.wait(for: "lane event emergency_open=power_loss journalled"), log.text)
        XCTAssertTrue(board.wait { $0.flaps == .retract })
        board.set(.powerFailure(active: false))
        XCTAssertTrue(log.wait(for: "lane event emergency_ended journalled"), log.text)
        XCTAssertTrue(board.wait { $0.flaps == .close })

        // The metric counts what the journal says (a loaded machine may lose the board once more
        // on its own: every loss is then journalled and counted too).
        let metrics = try Self.run(farectl, ["metrics", "--socket", dir + "/gate.sock"]).out
        let counted = metrics.split(separator: "\n").first { $0.hasPrefix("faregate_io_board_losses_total{") }
            .flatMap { $0.split(separator: " ").last }.flatMap { Int($0) }
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let journal = try String(contentsOfFile: dir + "/journal/journal.log", encoding: .utf8)
        let entries = try journal.split(separator: "\n").map { try JournalCodec.decode($0) }
        let events = entries.filter { $0.kind == .laneEvent }.compactMap(\.event?.token)
        let boardEvents = events.filter { $0.hasPrefix("io_board=") }
        XCTAssertEqual(Array(boardEvents.prefix(2)), ["io_board=lost", "io_board=online"], "\(events)")
        XCTAssertEqual(
            boardEvents,
            Array(repeating: ["io_board=lost", "io_board=online"], count: boardEvents.count / 2).flatMap { $0 },
            "every loss is followed by its return: \(events)")
        XCTAssertEqual(counted, boardEvents.count / 2, "faregate_io_board_losses_total: \(metrics)")
        XCTAssertEqual(events.filter { !$0.hasPrefix("io_board=") }, ["emergency_open=power_loss", "emergency_ended"])
        XCTAssertEqual(entries.map(\.sequence), Array(1...UInt64(entries.count)), "in the journal's sequence")
    }

    /// A board faregate did not write — Python and pymodbus (`Tests/Boards/pymodbus_board.py`),
    /// its own register layout, its own watchdog — over Modbus TCP on loopback: the daemon takes
    /// it over from its watchdog's retract, a tap at each end opens the flaps toward that side and
    /// the passage closes them, the fire alarm opens them (journalled).
    func testABoardNotWrittenWithFaregatesCodeIsDriven() throws {
        let daemon = try daemon()
        let farectl = daemon.deletingLastPathComponent().appendingPathComponent("farectl")
        let python = URL(fileURLWithPath: "/usr/bin/python3")
        guard (try? Self.run(python, ["-c", "import pymodbus.server.async_io"]))?.status == 0 else {
            let message = "python3-pymodbus is not installed (scripts/install-deps)"
            if ProcessInfo.processInfo.environment["FAREGATE_REQUIRE_SERVICES"] == "1" { XCTFail(message) }
            throw XCTSkip(message)
        }
        let boards = ModbusLane.hardware.deletingLastPathComponent().appendingPathComponent("Tests/Boards")
        let board = Process()
        board.executableURL = python
        board.arguments = [boards.appendingPathComponent("pymodbus_board.py").path]
        let commands = Pipe()
        let out = Pipe()
        board.standardInput = commands
        board.standardOutput = out
        board.standardError = FileHandle.nullDevice
        try board.run()
        let boardPID = board.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + 120) { if board.isRunning { kill(boardPID, SIGKILL) } }
        defer {
            if board.isRunning { kill(boardPID, SIGTERM) }
            board.waitUntilExit()
        }
        let said = DaemonLog(out.fileHandleForReading)
        func tell(_ line: String) { commands.fileHandleForWriting.write(Data((line + "\n").utf8)) }
        /// Waits until the board has said `line` `n` times in all.
        func saw(_ line: String, _ n: Int = 1) -> Bool { said.wait(for: line + "\n", count: n) }
        XCTAssertTrue(said.wait(for: "lamps off off"), said.text)
        let port = try XCTUnwrap(
            said.text.split(separator: "\n").first { $0.hasPrefix("port ") }.flatMap { Int($0.dropFirst(5)) })
        XCTAssertTrue(saw("flaps retract"), "no controller yet: the board's watchdog holds the flaps retracted")
        try? FileManager.default.removeItem(atPath: dir + "/map.json")
        try FileManager.default.copyItem(
            atPath: boards.appendingPathComponent("pymodbus_board.json").path, toPath: dir + "/map.json")
        let config = dir + "/gate.json"
        // No central: every card meets the stale-data and unknown-card rules, which this gate sets to open.
        try """
        {"gate_id": "PYBOARD-1", "journal_dir": "journal", "control_socket": "gate.sock",
         "readers": {"backend": "simulated", "count": 2}, "barrier": {"directions": "bidirectional"},
         "policy": {"stale_data": "open", "unknown_card": "open"},
         "io": {"backend": "modbus-tcp", "host": "127.0.0.1", "port": \(port), "map": "map.json"}}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let (p, log) = try start(daemon, config: config)
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        XCTAssertTrue(saw("flaps close"), "a heartbeat, then the explicit close: \(said.text) \(log.text)")
        XCTAssertTrue(saw("lamps green-arrow green-arrow"), said.text)
        XCTAssertTrue(log.wait(for: "control socket"), log.text)
        let card = try XCTUnwrap(CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001)).text
        func tap(_ reader: Int) throws {
            let r = try Self.run(
                farectl, ["tap", "--card", card, "--reader", "\(reader)", "--socket", dir + "/gate.sock"])
            XCTAssertEqual(r.status, 0, r.out + r.err)
            XCTAssertTrue(r.out.contains("\topen\t"), r.out)
        }
        /// A rider walking through, beam pair by beam pair (inputs of pymodbus_board.py).
        func walk(_ pairs: [Int]) {
            var previous: Int?
            for pair in pairs {
                tell("beam \(pair) 1")
                tell("beam \(pair + 1) 1")
                if let previous {
                    tell("beam \(previous) 0")
                    tell("beam \(previous + 1) 0")
                }
                previous = pair
            }
            if let previous {
                tell("beam \(previous) 0")
                tell("beam \(previous + 1) 0")
            }
        }
        try tap(0)
        XCTAssertTrue(saw("flaps open-entry"), said.text)
        walk([100, 102, 104, 106, 108])
        XCTAssertTrue(saw("flaps close", 2), "the passage closes the flaps: \(said.text)")
        try tap(1)
        XCTAssertTrue(saw("flaps open-exit"), said.text)
        walk([108, 106, 104, 102, 100])
        XCTAssertTrue(saw("flaps close", 3), "the passage closes the flaps: \(said.text)")
        tell("fire on")
        XCTAssertTrue(saw("flaps retract", 2), said.text)
        XCTAssertTrue(log.wait(for: "lane event emergency_open=fire_alarm journalled"), log.text)
        tell("fire off")
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, log.text)
        tell("quit")
    }

    /// Runs a tool to completion; its status and output.
    static func run(_ tool: URL, _ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = tool
        p.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let errText = Locked("")
        let errHandle = err.fileHandleForReading
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            errText.withLock { $0 = String(decoding: errHandle.readDataToEndOfFile(), as: UTF8.self) }
            done.signal()
        }
        let outText = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        done.wait()
        p.waitUntilExit()
        return (p.terminationStatus, outText, errText.withLock { $0 })
    }

    func testAWrongMapIsRefusedAtStartNamingTheSetting() throws {
        let daemon = try daemon()
        let config = try writeConfig(
            "{\"backend\": \"modbus-tcp\", \"host\": \"127.0.0.1\", \"port\": 1502, \"map\": \"map.json\"}")
        let text = try String(contentsOfFile: dir + "/map.json", encoding: .utf8)
        try text.replacingOccurrences(of: "\"flap_retract\": 2", with: "\"flap_retract\": 1")
            .write(toFile: dir + "/map.json", atomically: true, encoding: .utf8)
        let (status, message) = try refusedStart(daemon, config)
        XCTAssertEqual(status, 2)
        XCTAssertTrue(message.contains("io.map"), message)
        XCTAssertTrue(
            message.contains("coils.flap_retract is coil 1, which coils.flap_open_exit already uses"), message)
        // And an io section that misses what its backend needs.
        try """
        {"gate_id": "MODBUS-1", "journal_dir": "journal", "io": {"backend": "modbus-rtu", "map": "map.json"}}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let (qstatus, qmessage) = try refusedStart(daemon, config)
        XCTAssertEqual(qstatus, 2)
        XCTAssertTrue(qmessage.contains("io needs device for the modbus-rtu backend"), qmessage)
    }

    /// `--check-config` reads and checks the io section as a start would, without contacting the
    /// board: a good map is summarised, a wrong or missing one named as `io.map`, a missing RTU
    /// device only warned about.
    func testCheckConfigReadsTheIOMap() throws {
        let daemon = try daemon()
        let config = try writeConfig(
            "{\"backend\": \"modbus-tcp\", \"host\": \"127.0.0.1\", \"port\": 1502, \"map\": \"map.json\"}")
        var r = try Self.run(daemon, ["--check-config", config])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertTrue(r.out.contains("io: modbus-tcp 127.0.0.1:1502 unit 255, map \(dir!)/map.json"), r.out)
        XCTAssertFalse(r.out.contains("warning: io"), r.out)

        let good = try String(contentsOfFile: dir + "/map.json", encoding: .utf8)
        try good.replacingOccurrences(of: "\"flap_retract\": 2", with: "\"flap_retract\": 1")
            .write(toFile: dir + "/map.json", atomically: true, encoding: .utf8)
        r = try Self.run(daemon, ["--check-config", config])
        XCTAssertEqual(r.status, 1, r.out)
        XCTAssertTrue(r.out.contains("error: io.map \(dir!)/map.json: "), r.out)
        XCTAssertTrue(r.out.contains("coils.flap_retract is coil 1, which coils.flap_open_exit already uses"), r.out)

        try FileManager.default.removeItem(atPath: dir + "/map.json")
        r = try Self.run(daemon, ["--check-config", config])
        XCTAssertEqual(r.status, 1, r.out)
        XCTAssertTrue(r.out.contains("error: io.map \(dir!)/map.json does not exist"), r.out)

        let rtu = try writeConfig(
            "{\"backend\": \"modbus-rtu\", \"device\": \"\(dir!)/no-tty\", \"map\": \"map.json\"}")
        r = try Self.run(daemon, ["--check-config", rtu])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertTrue(r.out.contains("warning: io.device \(dir!)/no-tty does not exist"), r.out)
        XCTAssertTrue(r.out.contains("io: modbus-rtu \(dir!)/no-tty 115200 none 81 slave 1"), r.out)
    }

    /// Starts `faregated` on `config`, which it must refuse: waits for it to exit and returns its
    /// status and standard error.
    private func refusedStart(_ daemon: URL, _ config: String) throws -> (status: Int32, err: String) {
        let p = Process()
        p.executableURL = daemon
        p.arguments = ["--config", config]
        let err = Pipe()
        p.standardError = err
        try p.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, message)
    }
}

/// A daemon's standard error, read on its own thread as it comes; `wait(for:)` blocks until a
/// line contains a marker (or the daemon closed it, or the deadline passed).
final class DaemonLog: @unchecked Sendable {
    // @unchecked Sendable: `buffer` is behind its lock; the semaphore is thread-safe.
    private let buffer = Locked((text: "", closed: false))
    private let grew = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            while true {
                let chunk = handle.availableData
                buffer.withLock {
                    if chunk.isEmpty { $0.closed = true } else { $0.text += String(decoding: chunk, as: UTF8.self) }
                }
                grew.signal()
                if chunk.isEmpty { return }
            }
        }
    }

    var text: String { buffer.withLock { $0.text } }

    /// Waits until `marker` has appeared `n` times in all (true), or the stream closes or the
    /// deadline passes (false). The count is taken under the lock before each wait on the
    /// semaphore, whose signals add up, so text arriving between two looks is never missed.
    func wait(for marker: String, count n: Int, timeoutSeconds: Double = 30) -> Bool {
        let deadline = DispatchTime.now() + timeoutSeconds
        func seen() -> (Int, Bool) {
            buffer.withLock { ($0.text.components(separatedBy: marker).count - 1, $0.closed) }
        }
        while true {
            let (count, closed) = seen()
            if count >= n { return true }
            if closed || grew.wait(timeout: deadline) == .timedOut { return seen().0 >= n }
        }
    }

    func wait(for marker: String, timeoutSeconds: Double = 30) -> Bool {
        let deadline = DispatchTime.now() + timeoutSeconds
        while true {
            let (found, closed) = buffer.withLock { ($0.text.contains(marker), $0.closed) }
            if found { return true }
            if closed || grew.wait(timeout: deadline) == .timedOut { return text.contains(marker) }
        }
    }
}
