import FaregateCore
import FaregateRuntime
import FaregateSQLite
import FaregateSimulation
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 16.6 against the real daemon (a subprocess; `scripts/test` runs it on the release build
/// too): a journal tail lost after kill -9 while central holds its records never makes the gate
/// number a sequence twice, and a damaged line in the unacknowledged part becomes a hole central
/// records while every later record still reaches it.
final class ExactlyOnceDaemonTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-once-daemon-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    var journalPath: String { dir + "/journal/journal.log" }

    func writeConfig(gate: String, taps: Int, central: String = #"{"sqlite": "central.sqlite"}"#) throws -> String {
        var generator = TapGenerator(populationSize: 200, populationSeed: 1, seed: 3)
        var script = ""
        for i in 0..<taps {
            let card = generator.next()
            script += "0 \(i % 2) \(card.read.key.medium?.description ?? "transit-card"):\(card.read.key.number)\n"
        }
        try script.write(toFile: dir + "/taps.txt", atomically: true, encoding: .utf8)
        let config = dir + "/gate.json"
        try """
        {"gate_id": "\(gate)", "journal_dir": "journal", "control_socket": "gate.sock", "log_level": "debug",
         "central": \(central), "sync": {"interval_seconds": 0.02, "jitter_seconds": 0.01},
         "readers": {"backend": "simulated", "count": 2, "script": "taps.txt"}}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        return config
    }

    func runToTheEnd(_ daemon: URL, _ config: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let (p, log) = try DaemonProcess.start(daemon, config: config, extra: ["--exit-after-script"])
        DaemonProcess.drain(log)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, file: file, line: line)
    }

    func localLines() throws -> [Substring] {
        try String(contentsOfFile: journalPath, encoding: .utf8).split(separator: "\n")
    }

    /// Every sequence 1...last is in central exactly once, as a record or a hole; no conflict;
    /// acknowledged up to `last`; every local line is central's record byte for byte.
    func assertExactlyOnce(gate: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let store = try SQLiteCentralStore(path: dir + "/central.sqlite")
        let last = try FileJournal(directory: dir + "/journal").lastSequence
        let records = try store.journal(gate: gate)
        let holes = try store.journalHoles(gate: gate).map(\.sequence)
        XCTAssertEqual(
            (records.map(\.sequence) + holes).sorted(), Array(1...last), "records and holes cover each sequence once",
            file: file, line: line)
        XCTAssertEqual(try store.journalConflicts(gate: gate), [], "no sequence was reused", file: file, line: line)
        XCTAssertEqual(try store.acknowledgedSequence(gate: gate), last, file: file, line: line)
        // Central stores the gate's original (J2, signed) lines: compared as stored, not re-encoded.
        var central: [UInt64: String] = [:]
        for r in records { central[r.sequence] = try store.storedRecord(gate: gate, sequence: r.sequence) }
        let local = try localLines()
        XCTAssertEqual(
            Set(local.map { try! JournalCodec.decode($0).sequence }).count, local.count, "no sequence twice locally",
            file: file, line: line)
        for l in local {
            let seq = try JournalCodec.decode(l).sequence
            XCTAssertEqual(central[seq], String(l), "sequence \(seq) byte for byte", file: file, line: line)
        }
    }

    func testKillNineAndALostTailWhileCentralHoldsTheRecordsReusesNoSequence() throws {
        let daemon = try DaemonProcess.binary("faregated")
        let store = try SQLiteCentralStore.create(at: dir + "/central.sqlite")
        try store.insertCards(DemoPopulation.centralRecords(0..<200, seed: 1), wallMillis: 1)
        let config = try writeConfig(gate: "ONCE-D1", taps: 40)
        // Central holds 1...40 (a clean run uploads everything before it exits).
        try runToTheEnd(daemon, config)
        XCTAssertEqual(try store.acknowledgedSequence(gate: "ONCE-D1"), 40)
        // Killed while it serves again; then the disk loses the journal's tail past line 20 and
        // the `acked` file (the old numbering restarted at 21, over records central held).
        let (p, log) = try DaemonProcess.start(daemon, config: config)
        DaemonProcess.waitForLines(log, count: 10)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let before = try FileJournal(directory: dir + "/journal").lastSequence
        XCTAssertGreaterThanOrEqual(before, 50)
        let kept = try localLines().prefix(20).map { $0 + "\n" }.joined()
        try kept.write(toFile: journalPath, atomically: false, encoding: .utf8)
        try "garbage\n".write(toFile: dir + "/journal/acked", atomically: false, encoding: .utf8)

        try runToTheEnd(daemon, config)
        let after = try localLines().dropFirst(20).map { try JournalCodec.decode($0).sequence }
        XCTAssertEqual(after.count, 40, "the script played once more")
        XCTAssertGreaterThan(after.first ?? 0, before, "numbering went on after every sequence handed out")
        try assertExactlyOnce(gate: "ONCE-D1")
    }

    func testADamagedLineBecomesAHoleAndLaterRecordsStillReachCentral() throws {
        let daemon = try DaemonProcess.binary("faregated")
        let config = try writeConfig(gate: "ONCE-D2", taps: 30)
        // No central yet: 30 records stay unacknowledged in the journal.
        try runToTheEnd(daemon, config)
        XCTAssertEqual(try localLines().count, 30)
        // Line 5 damaged on disk (one byte).
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: journalPath)))
        let start = try localLines().prefix(4).reduce(0) { $0 + $1.utf8.count + 1 }
        bytes[start + 4] ^= 0x20
        try Data(bytes).write(to: URL(fileURLWithPath: journalPath))

        let store = try SQLiteCentralStore.create(at: dir + "/central.sqlite")
        try store.insertCards(DemoPopulation.centralRecords(0..<200, seed: 1), wallMillis: 1)
        try runToTheEnd(daemon, config)
        XCTAssertEqual(try store.journalHoles(gate: "ONCE-D2").map(\.sequence), [5])
        XCTAssertEqual(try store.journal(gate: "ONCE-D2").count, 59, "every record but the damaged one")
        try assertExactlyOnce(gate: "ONCE-D2")
        // The operator sees it.
        let farectl = try DaemonProcess.binary("farectl")
        let review = try DaemonProcess.run(farectl, ["central", "journal-review", "--db", dir + "/central.sqlite"])
        XCTAssertEqual(review.status, 0, review.err)
        XCTAssertTrue(review.out.contains("hole      ONCE-D2 seq 5"), review.out)
    }

    /// The same on PostgreSQL, read back through `farectl` as an operator would (the daemon's
    /// own connection string; each run's gate id is its own, in the service's database).
    func testADamagedLineBecomesAHoleOnPostgreSQL() throws {
        guard let pg = ProcessInfo.processInfo.environment["FAREGATE_TEST_PG"], !pg.isEmpty else {
            if ProcessInfo.processInfo.environment["FAREGATE_REQUIRE_SERVICES"] == "1" {
                XCTFail("FAREGATE_TEST_PG is not set but services are required (scripts/services/postgres)")
            }
            throw XCTSkip("FAREGATE_TEST_PG not set: start scripts/services/postgres")
        }
        let daemon = try DaemonProcess.binary("faregated")
        let farectl = try DaemonProcess.binary("farectl")
        let gate = "ONCE-PG-" + UUID().uuidString.prefix(8)
        _ = try writeConfig(gate: gate, taps: 20)
        try runToTheEnd(daemon, dir + "/gate.json")  // no central (no sqlite file): all unacknowledged
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: journalPath)))
        let start = try localLines().prefix(4).reduce(0) { $0 + $1.utf8.count + 1 }
        bytes[start + 4] ^= 0x20
        try Data(bytes).write(to: URL(fileURLWithPath: journalPath))

        let migrate = try DaemonProcess.run(farectl, ["central", "migrate", "--pg", pg])
        XCTAssertEqual(migrate.status, 0, migrate.err)
        let quoted = String(decoding: try JSONEncoder().encode(pg), as: UTF8.self)
        _ = try writeConfig(gate: gate, taps: 20, central: #"{"postgres": \#(quoted)}"#)
        try runToTheEnd(daemon, dir + "/gate.json")

        let review = try DaemonProcess.run(
            farectl, ["central", "journal-review", "--pg", pg, "--gate", gate, "--json"])
        XCTAssertEqual(review.status, 0, review.err)
        let parsed = try JSONSerialization.jsonObject(with: Data(review.out.utf8)) as? [String: Any]
        let holes = (parsed?["holes"] as? [[String: Any]])?.compactMap { $0["sequence"] as? Int }
        XCTAssertEqual(holes, [5], review.out)
        XCTAssertEqual((parsed?["conflicts"] as? [Any])?.count, 0, review.out)
        let gates = try DaemonProcess.run(farectl, ["central", "gates", "--pg", pg, "--json"])
        XCTAssertEqual(gates.status, 0, gates.err)
        let rows = (try JSONSerialization.jsonObject(with: Data(gates.out.utf8)) as? [String: Any])?["gates"]
        let row = (rows as? [[String: Any]])?.first { $0["gate"] as? String == gate }
        let last = try FileJournal(directory: dir + "/journal").lastSequence
        XCTAssertEqual(last, 40)
        XCTAssertEqual(row?["acknowledged_sequence"] as? Int, 40, gates.out)
    }
}
