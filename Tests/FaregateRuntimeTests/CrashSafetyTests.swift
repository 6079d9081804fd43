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

    /// The built `faregated` next to the test bundle.
    func daemonURL() throws -> URL {
        let bundleDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundleDir, bundleDir.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("faregated")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw XCTSkip("faregated is not built next to the tests (run `swift build` first)")
    }

    /// Starts the daemon and returns it with a reader of its log lines.
    func start(_ daemon: URL, config: String, extra: [String] = []) throws -> (Process, FileHandle) {
        let p = Process()
        p.executableURL = daemon
        p.arguments = ["--config", config] + extra
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return (p, err.fileHandleForReading)
    }

    /// Reads log lines until `count` taps have been logged (or the daemon exits).
    func waitForTaps(_ log: FileHandle, count: Int) {
        var seen = 0
        var pending = Data()
        while seen < count {
            let chunk = log.availableData
            if chunk.isEmpty { return }  // the daemon exited
            pending.append(chunk)
            while let nl = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[pending.startIndex..<nl], as: UTF8.self)
                pending.removeSubrange(pending.startIndex...nl)
                if line.contains("tap seq=") { seen += 1 }
            }
        }
    }

    func testKillNineAtAnyMomentLosesAndDuplicatesNothing() throws {
        let daemon = try daemonURL()
        let central = dir + "/central.sqlite"
        let store = try SQLiteCentralStore.create(at: central)
        try store.insertCards(
            DemoPopulation.generate(count: 500, seed: 1).map {
                .init(
                    key: $0.key, cardType: $0.cardType,
                    identityHash: $0.identity.map { DemoPopulation.identityHash($0, seed: 1) },
                    health: $0.health)
            }, wallMillis: 1)
        var generator = TapGenerator(populationSize: 500, populationSeed: 1, seed: 9)
        var script = ""
        for i in 0..<120 {
            let card = generator.next()
            script += "0 \(i % 2) \(card.read.key.medium?.description ?? "transit-card"):\(card.read.key.number)\n"
        }
        try script.write(toFile: dir + "/taps.txt", atomically: true, encoding: .utf8)
        let config = dir + "/gate.json"
        try """
        {"gate_id": "CRASH-1", "journal_dir": "journal", "control_socket": "gate.sock",
         "central": {"sqlite": "central.sqlite"}, "sync": {"interval_seconds": 0.02, "jitter_seconds": 0.01},
         "readers": {"backend": "simulated", "count": 2, "script": "taps.txt"}}
        """.write(toFile: config, atomically: true, encoding: .utf8)

        var rng = SplitMix64(seed: 42)
        for round in 0..<8 {
            let (p, log) = try start(daemon, config: config)
            waitForTaps(log, count: 5 + Int(rng.next() % 100))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationReason, .uncaughtSignal, "round \(round)")
        }
        // A clean run plays the script once more and uploads everything on stop.
        let (p, _) = try start(daemon, config: config, extra: ["--exit-after-script"])
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
}
