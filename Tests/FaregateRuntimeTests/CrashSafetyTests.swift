import FaregateCore
import FaregateRuntime
import FaregateSQLite
import FaregateSimulation
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// `faregated` killed with SIGKILL at arbitrary moments while it decides, journals and uploads:
/// after a clean final run, the local journal is contiguous and the central store holds every
/// entry exactly once. Drives the real daemon binary as a subprocess.
final class CrashSafetyTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-crash-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testKillNineAtAnyMomentLosesAndDuplicatesNothing() throws {
        let daemon = try DaemonProcess.binary("faregated")
        let central = dir + "/central.sqlite"
        let store = try SQLiteCentralStore.create(at: central)
        try store.insertCards(
            DemoPopulation.centralRecords(0..<500, seed: 1), wallMillis: 1)
        var generator = TapGenerator(populationSize: 500, populationSeed: 1, seed: 9)
        var script = ""
        for i in 0..<120 {
            let card = generator.next()
            script += "0 \(i % 2) \(card.read.key.medium?.description ?? "transit-card"):\(card.read.key.number)\n"
        }
        try script.write(toFile: dir + "/taps.txt", atomically: true, encoding: .utf8)
        let config = dir + "/gate.json"
        try """
        {"gate_id": "CRASH-1", "journal_dir": "journal", "control_socket": "gate.sock", "log_level": "debug",
         "central": {"sqlite": "central.sqlite"}, "sync": {"interval_seconds": 0.02, "jitter_seconds": 0.01},
         "readers": {"backend": "simulated", "count": 2, "script": "taps.txt"}}
        """.write(toFile: config, atomically: true, encoding: .utf8)

        var rng = SplitMix64(seed: 42)
        for round in 0..<8 {
            let (p, log) = try DaemonProcess.start(daemon, config: config)
            DaemonProcess.waitForLines(log, count: 5 + Int(rng.next() % 100))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationReason, .uncaughtSignal, "round \(round)")
        }
        // A clean run plays the script once more and uploads everything on stop.
        let (p, _) = try DaemonProcess.start(daemon, config: config, extra: ["--exit-after-script"])
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)

        let journal = try FileJournal(directory: dir + "/journal")
        let local = try journal.pendingUpload(limit: 1_000_000)
        XCTAssertTrue(local.isEmpty, "everything was acknowledged")
        let last = journal.lastSequence
        XCTAssertGreaterThanOrEqual(last, 120)
        let uploaded = try SQLiteCentralStore(path: central).journal(gate: "CRASH-1")
        XCTAssertEqual(uploaded.map(\.sequence), Array(1...last), "every entry once, in order, no gap")
        XCTAssertEqual(try SQLiteCentralStore(path: central).acknowledgedSequence(gate: "CRASH-1"), last)
        // The central copy is the local record, byte for byte.
        let text = try String(contentsOfFile: dir + "/journal/journal.log", encoding: .utf8)
        let localEntries = try text.split(separator: "\n").map { try JournalCodec.decode($0) }
        XCTAssertEqual(localEntries, uploaded)
    }

    /// Killed while central state keeps changing, so kills land during table reloads and
    /// snapshot writes too: every restart finds a valid snapshot (or none), never a torn one.
    func testKillNineDuringTableUpdatesLeavesAValidCache() throws {
        let daemon = try DaemonProcess.binary("faregated")
        let central = dir + "/central.sqlite"
        let store = try SQLiteCentralStore.create(at: central)
        let cards = DemoPopulation.generate(count: 20_000, seed: 2)
        try store.insertCards(cards.map { $0.centralRecord(seed: 2) }, wallMillis: 1)
        let bound = cards.filter { $0.identity != nil }.map(\.key)
        try "0 0 transit-card:\(DemoPopulation.transitBase)\n".write(
            toFile: dir + "/taps.txt", atomically: true, encoding: .utf8)
        let config = dir + "/gate.json"
        try """
        {"gate_id": "CRASH-2", "journal_dir": "journal", "control_socket": "gate.sock",
         "central": {"sqlite": "central.sqlite"}, "sync": {"interval_seconds": 0.01, "jitter_seconds": 0},
         "readers": {"backend": "simulated", "count": 1, "script": "taps.txt"}}
        """.write(toFile: config, atomically: true, encoding: .utf8)

        var rng = SplitMix64(seed: 7)
        let health: [HealthStatus] = [.green, .yellow, .red]
        for round in 0..<8 {
            let (p, log) = try DaemonProcess.start(daemon, config: config)
            // Central changes under the running gate; it reloads every 10 ms and rewrites its
            // snapshot, and the kill lands somewhere in that work (a real process: its timing is
            // real time, so the kill waits a random few milliseconds).
            var lines = DaemonProcess.waitForLines(log, containing: "in service", count: 1)
            for _ in 0..<(1 + rng.next() % 3) {
                try store.setHealth(
                    of: bound[Int(rng.next() % UInt64(bound.count))], to: health[round % 3], wallMillis: 2)
            }
            lines += DaemonProcess.waitForLines(log, containing: "in service", count: 1)
            try store.setHealth(
                of: bound[Int(rng.next() % UInt64(bound.count))], to: health[(round + 1) % 3], wallMillis: 3)
            usleep(UInt32(rng.next() % 40_000))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            XCTAssertFalse(lines.contains { $0.contains("status snapshot") }, "round \(round): \(lines)")
        }
        let (p, log) = try DaemonProcess.start(daemon, config: config, extra: ["--exit-after-script"])
        let lines = DaemonProcess.waitForLines(log, containing: "stopped", count: 1)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertFalse(lines.contains { $0.contains("status snapshot") }, "\(lines)")
        // The snapshot left behind is valid and at the central version.
        let table = try SnapshotFile.load(dir + "/journal/table.snapshot")
        XCTAssertEqual(table.dataVersion, try SQLiteCentralStore(path: central).dataVersion())
        var expected: [CardKey: CardStatus] = [:]
        _ = try SQLiteCentralStore(path: central).forEachStatus { expected[$0] = $1 }
        XCTAssertEqual(table.count, expected.count)
        for (k, v) in expected.prefix(2000) { XCTAssertEqual(table.status(of: k), v) }
    }
}
