import FaregateCore
import FaregateRuntime
import FaregateSQLite
import Foundation
import Synchronization
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// The real `faregated` says the same thing everywhere — to the rider, in `farectl tap`'s answer,
/// in its log, in its metrics and in its journal — when its journal disk is full (a small tmpfs,
/// filled for real) and when staff change its mode; and its log lines carry journald priorities
/// under journald and timestamps elsewhere.
final class DaemonTruthTests: XCTestCase {
    var dir: String!
    var mounted: String?
    let green = CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001)!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-truth-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/journal", withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let mounted { _ = umount(mounted) }
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// A central store holding `green`, and a gate configuration using it.
    func writeGate(_ id: String, extra: String = "") throws -> String {
        try SQLiteCentralStore.create(at: dir + "/central.sqlite").insertCards(
            [.init(key: green, cardType: .normal, identityHash: [UInt8](repeating: 1, count: 32), health: .green)],
            wallMillis: 1)
        let config = dir + "/gate.json"
        try """
        {"gate_id": "\(id)", "journal_dir": "journal", "control_socket": "gate.sock", "snapshot_file": "table.snapshot",
         "central": {"sqlite": "central.sqlite"}, "sync": {"interval_seconds": 3600},
         "readers": {"backend": "simulated", "count": 1}, "log_level": "debug"\(extra)}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        return config
    }

    func testWithTheJournalDiskFullEveryoneSaysTheTapWasRefusedAndNoSequenceIsReused() throws {
        let daemon = try DaemonProcess.binary("faregated")
        let farectl = try DaemonProcess.binary("farectl")
        // A 256 KiB tmpfs as the journal directory: filled below for real, ENOSPC and all.
        guard mount("tmpfs", dir + "/journal", "tmpfs", 0, "size=256k,mode=0700") == 0 else {
            throw XCTSkip("cannot mount a tmpfs here (errno \(errno)); needs root in a mount namespace that allows it")
        }
        mounted = dir + "/journal"
        let config = try writeGate("FULL-1")
        let socket = dir + "/gate.sock"
        let (p, err) = try DaemonProcess.start(daemon, config: config)
        let log = LogLines(err)
        defer { stop(p) }
        XCTAssertTrue(log.wait { $0.contains("control socket") }, log.text)

        func tap() throws -> (status: Int32, out: String, err: String) {
            try DaemonProcess.run(farectl, ["tap", "--card", green.text, "--socket", socket])
        }
        let first = try tap()
        XCTAssertEqual(first.status, 0, "\(first)")
        XCTAssertTrue(first.out.hasPrefix("1\t") && first.out.contains("\topen\tok\t"), first.out)

        // Fill the disk; the journal's last page may still have room for a few lines, so tap until
        // one cannot be journalled.
        let filler = dir + "/journal/filler"
        let fd = open(filler, O_WRONLY | O_CREAT, 0o600)
        XCTAssertGreaterThanOrEqual(fd, 0)
        let chunk = [UInt8](repeating: 0x55, count: 4096)
        while chunk.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
        XCTAssertEqual(errno, ENOSPC)
        close(fd)
        var durable = 1
        var refused: (status: Int32, out: String, err: String)?
        for _ in 0..<64 {
            let answer = try tap()
            if answer.status == 0 {
                durable += 1
                XCTAssertTrue(answer.out.hasPrefix("\(durable)\t") && answer.out.contains("\topen\tok\t"), answer.out)
            } else {
                refused = answer
                break
            }
        }
        let answer = try XCTUnwrap(refused, "a tap failed to be journalled once the disk was full")
        // farectl: a refusal that names what the rider was told and why.
        XCTAssertEqual(answer.status, 1, "\(answer)")
        XCTAssertTrue(answer.err.contains("not journalled"), answer.err)
        XCTAssertTrue(answer.err.contains("deny(gate_out_of_service)"), answer.err)
        XCTAssertTrue(answer.err.contains("\(Reason.gateOutOfService.messageEN)"), answer.err)
        XCTAssertTrue(answer.err.contains("the rules said open(ok)"), answer.err)
        XCTAssertFalse(answer.out.contains("open\tok"), answer.out)
        // The log: one error line for the batch, and the tap's debug line without a sequence.
        XCTAssertTrue(log.wait { $0.contains("ERROR: gate FULL-1: journal append failed") }, log.text)
        XCTAssertTrue(log.wait { $0.contains("tap seq=-\t") }, log.text)
        let refusedLine = try XCTUnwrap(log.lines.first { $0.contains("tap seq=-\t") })
        XCTAssertTrue(refusedLine.contains("\tdeny\tgate_out_of_service\t"), refusedLine)
        XCTAssertTrue(refusedLine.hasSuffix("not journalled (rules: open(ok))"), refusedLine)
        // The metrics: counted as what the rider was told.
        let metrics = try DaemonProcess.run(farectl, ["metrics", "--socket", socket]).out
        let lines = Set(metrics.split(separator: "\n").map(String.init))
        for expected in [
            #"faregate_decisions_total{gate="FULL-1",outcome="open",reason="ok"} \#(durable)"#,
            #"faregate_decisions_total{gate="FULL-1",outcome="deny",reason="gate_out_of_service"} 1"#,
            #"faregate_journal_failures_total{gate="FULL-1"} 1"#,
            #"faregate_journal_last_sequence{gate="FULL-1"} \#(durable)"#,
        ] {
            XCTAssertTrue(lines.contains(expected), "\(expected) in\n\(metrics)")
        }

        // Room again: the next tap is journalled with the sequence the refused one gave back.
        XCTAssertEqual(unlink(filler), 0)
        let next = try tap()
        XCTAssertEqual(next.status, 0, "\(next)")
        XCTAssertTrue(next.out.hasPrefix("\(durable + 1)\t") && next.out.contains("\topen\tok\t"), next.out)
        XCTAssertTrue(log.wait { $0.contains("tap seq=\(durable + 1)\t") }, log.text)

        // The journal holds exactly the taps told "open", gapless; the log names each of its
        // sequences once and no other.
        let text = try String(contentsOfFile: dir + "/journal/journal.log", encoding: .utf8)
        let entries = try text.split(separator: "\n").map { try JournalCodec.decode($0) }
        XCTAssertEqual(entries.map(\.sequence), Array(1...UInt64(durable + 1)))
        XCTAssertTrue(entries.allSatisfy { $0.decision == .open(.ok) }, "\(entries)")
        let logged = log.lines.compactMap { line -> String? in
            guard let r = line.range(of: "tap seq=") else { return nil }
            return String(line[r.upperBound...].prefix { $0 != "\t" })
        }
        XCTAssertEqual(logged, (1...durable).map(String.init) + ["-", String(durable + 1)])
        // Outside journald every line starts with its time.
        for line in log.lines {
            XCTAssertNotNil(
                line.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z "#, options: .regularExpression), line)
        }
    }

    func testModeChangesAreAnsweredAsTheyAreNowLoggedJournalledAndTrueToTheRider() throws {
        let daemon = try DaemonProcess.binary("faregated")
        let farectl = try DaemonProcess.binary("farectl")
        let config = try writeGate("MODE-1")
        let socket = dir + "/gate.sock"
        // Under journald: JOURNAL_STREAM names the daemon's standard error (device:inode of the pipe).
        let pipe = Pipe()
        var st = stat()
        XCTAssertEqual(fstat(pipe.fileHandleForWriting.fileDescriptor, &st), 0)
        let (p, err) = try DaemonProcess.start(
            daemon, config: config, environment: ["JOURNAL_STREAM": "\(st.st_dev):\(st.st_ino)"], stderr: pipe)
        let log = LogLines(err)
        defer { stop(p) }
        XCTAssertTrue(log.wait { $0.contains("control socket") }, log.text)

        func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
            try DaemonProcess.run(farectl, args + ["--socket", socket])
        }
        // The answer is the state after the change.
        let closed = try run(["mode", "--set", "closed"])
        XCTAssertEqual(closed.status, 0, "\(closed)")
        XCTAssertTrue(closed.out.contains("barrier closed, mode closed"), closed.out)
        let shadow = try run(["mode", "--enforcement", "shadow"])
        XCTAssertTrue(shadow.out.contains("mode closed") && shadow.out.hasSuffix("shadow\n"), shadow.out)

        // A closed station says so, and journals what it said.
        let tap = try run(["tap", "--card", green.text])
        XCTAssertEqual(tap.status, 0, "\(tap)")
        XCTAssertTrue(tap.out.contains("\tdeny\tstation_closed\t\(Reason.stationClosed.messageZH)"), tap.out)
        XCTAssertFalse(tap.out.contains(Reason.ok.messageZH), tap.out)

        let open = try run(["mode", "--set", "emergency-open"])
        XCTAssertTrue(open.out.contains("barrier free_open:staff, mode emergency-open"), open.out)
        let free = try run(["tap", "--card", green.text])
        XCTAssertTrue(free.out.contains("\topen\temergency_open\t\(Reason.emergencyOpen.messageZH)"), free.out)
        let normal = try run(["mode", "--set", "normal", "--enforcement", "enforced"])
        XCTAssertTrue(
            normal.out.contains("barrier idle, mode normal") && normal.out.hasSuffix("enforced\n"), normal.out)
        let pass = try run(["tap", "--card", green.text])
        XCTAssertTrue(pass.out.contains("\topen\tok\t"), pass.out)

        // Each command is logged and journalled, in the journal's one sequence with the taps.
        XCTAssertTrue(log.wait { $0.contains("staff command enforcement=enforced journalled") }, log.text)
        let text = try String(contentsOfFile: dir + "/journal/journal.log", encoding: .utf8)
        let journalText = try text.split(separator: "\n").map { try JournalCodec.decode($0).textLine }
            .joined(separator: "\n")
        let rows = journalText.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
        XCTAssertEqual(
            rows.map { $0.last ?? "" }.filter { $0.hasPrefix("command ") },
            [
                "command mode=closed", "command enforcement=shadow", "command mode=emergency-open",
                "command mode=normal", "command enforcement=enforced",
            ], journalText)
        XCTAssertEqual(
            rows.compactMap { $0.count > 5 && $0[4] != "staff" ? $0[5] : nil },
            ["station_closed", "emergency_open", "ok"], journalText)
        XCTAssertEqual(rows.map { UInt64($0[0]) ?? 0 }, Array(1...8), "one gapless sequence: \(journalText)")
        for token in [
            "mode=closed (was normal)", "enforcement=shadow (was enforced)", "mode=emergency-open (was closed)",
        ] {
            XCTAssertTrue(log.lines.contains { $0.hasPrefix("<6>") && $0.contains("staff command \(token)") }, log.text)
        }
        // journald priorities: info, debug (taps) and the emergency warning.
        XCTAssertTrue(log.lines.contains { $0.hasPrefix("<7>DEBUG: tap seq=") }, log.text)
        XCTAssertTrue(log.lines.contains { $0.hasPrefix("<4>WARNING: barrier: emergency free-open") }, log.text)
        XCTAssertTrue(
            log.lines.allSatisfy { $0.range(of: #"^<[3467]>"#, options: .regularExpression) != nil }, log.text)
    }

    private func stop(_ p: Process) {
        guard p.isRunning else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }
}

/// The daemon's log lines, read on a background thread as they come; `wait` blocks until a line
/// matches (or the daemon's standard error closes, or 30 s pass).
final class LogLines: Sendable {
    private let state = Mutex<(lines: [String], closed: Bool)>(([], false))
    private let arrived = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            var pending = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                var lines: [String] = []
                while let nl = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    lines.append(String(decoding: pending[pending.startIndex..<nl], as: UTF8.self))
                    pending.removeSubrange(pending.startIndex...nl)
                }
                state.withLock { $0.lines += lines }
                arrived.signal()
            }
            state.withLock { $0.closed = true }
            arrived.signal()
        }
    }

    var lines: [String] { state.withLock { $0.lines } }
    var text: String { lines.joined(separator: "\n") }

    func wait(_ matches: (String) -> Bool) -> Bool {
        let deadline = DispatchTime.now() + 30
        while true {
            let (lines, closed) = state.withLock { ($0.lines, $0.closed) }
            if lines.contains(where: matches) { return true }
            if closed || arrived.wait(timeout: deadline) == .timedOut { return false }
        }
    }
}
