import FaregateCore
import FaregateRuntime
import FaregateSQLite
import FaregateSimulation
import Foundation
import XCTest

/// Issue 16.5 against the real daemon (a subprocess; `scripts/test` runs it on the release
/// build): two CRC-valid `open ok` lines appended to a stopped gate's journal and one of its
/// lines edited never become the gate's records centrally (SQLite and PostgreSQL): the forged
/// lines are flagged as lines the gate did not write, the edited line's sequence is a signed hole,
/// and everything the gate did write is stored byte for byte and acknowledged.
final class JournalForgeryDaemonTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-forgery-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/journal", withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    var journalPath: String { dir + "/journal/journal.log" }

    func writeConfig(gate: String, central: String) throws -> String {
        var generator = TapGenerator(populationSize: 200, populationSeed: 1, seed: 5)
        var script = ""
        for i in 0..<10 {
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

    func runToTheEnd(_ config: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let (p, log) = try DaemonProcess.start(
            try DaemonProcess.binary("faregated"), config: config, extra: ["--exit-after-script"])
        DaemonProcess.drain(log)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, file: file, line: line)
    }

    func farectl(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try DaemonProcess.run(try DaemonProcess.binary("farectl"), args)
        XCTAssertEqual(r.status, 0, "farectl \(args): \(r.err)", file: file, line: line)
        return r.out
    }

    /// The forger's work on the stopped gate's file: line 3 edited (a richer balance) and two
    /// `open ok` lines appended with valid CRCs (the J1 format anyone can compute). Returns them.
    func forge() throws -> (edited: String, appended: [String]) {
        var lines = try String(contentsOfFile: journalPath, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 10)
        let original = try JournalCodec.decode(Substring(lines[2]))
        lines[2] = lines[2].replacingOccurrences(
            of: "\t\(original.balanceFen.map(String.init) ?? "-")\t", with: "\t99999\t")
        XCTAssertNotEqual(try JournalCodec.decode(Substring(lines[2])), original, "the edit changed the entry")
        var forged: [String] = []
        for seq in UInt64(11)...12 {
            var e = original
            e.sequence = seq
            e.decision = .open(.ok)
            e.wallMillis += 1000
            forged.append(JournalCodec.encode(e))
        }
        try ((lines + forged).joined(separator: "\n") + "\n").write(
            toFile: journalPath, atomically: false, encoding: .utf8)
        return (lines[2], forged)
    }

    /// The checks both centrals answer through `farectl`, as an operator would.
    func assertRefusedAndFlagged(
        gate: String, backend: [String], forged: (edited: String, appended: [String]),
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let review = try farectl(["central", "journal-review"] + backend + ["--gate", gate, "--json"])
        let parsed = try JSONSerialization.jsonObject(with: Data(review.utf8)) as? [String: Any]
        let holes = (parsed?["holes"] as? [[String: Any]])?.compactMap { $0["sequence"] as? Int }
        XCTAssertEqual(holes, [3], "the edited line's sequence is a hole: \(review)", file: file, line: line)
        XCTAssertEqual((parsed?["conflicts"] as? [Any])?.count, 0, review, file: file, line: line)
        let refusals = (parsed?["refusals"] as? [[String: Any]]) ?? []
        let flagged = Set(
            refusals.filter { $0["code"] as? String == JournalRefusal.lineNotAuthentic }.compactMap {
                $0["sample"] as? String
            })
        XCTAssertEqual(flagged, Set([forged.edited] + forged.appended), "flagged: \(review)", file: file, line: line)
        let text = try farectl(["central", "journal-review"] + backend + ["--gate", gate])
        XCTAssertTrue(text.contains("refused   \(gate) line_not_authentic"), text, file: file, line: line)
    }

    func testForgedAndEditedLinesAreRefusedAndFlaggedOnSQLite() throws {
        let gate = "FORGE-S1"
        // Provisioning: the key made on the gate before its first start and registered centrally.
        let pub = try farectl(["journal", "key", "--dir", dir + "/journal", "--json"])
        let key = try XCTUnwrap(
            (try JSONSerialization.jsonObject(with: Data(pub.utf8)) as? [String: Any])?["public_key"] as? String)
        var st = stat()
        XCTAssertEqual(stat(dir + "/journal/journal.key", &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        // No central yet: 10 records stay unacknowledged in the journal.
        let config = try writeConfig(gate: gate, central: #"{"sqlite": "central.sqlite"}"#)
        try runToTheEnd(config)
        let forged = try forge()

        let store = try SQLiteCentralStore.create(at: dir + "/central.sqlite")
        try store.insertCards(DemoPopulation.centralRecords(0..<200, seed: 1), wallMillis: 1)
        _ = try farectl(["central", "gate-keys", "add", "--db", dir + "/central.sqlite", gate, key])
        try runToTheEnd(config)

        // The gate numbered on after its own 10 (the forged 11 and 12 are none of its sequences).
        let local = try String(contentsOfFile: journalPath, encoding: .utf8).split(separator: "\n")
        XCTAssertFalse(local.contains { forged.appended.contains(String($0)) }, "forged lines set aside locally")
        let last = try XCTUnwrap(local.last.map { try JournalCodec.decode($0).sequence })
        XCTAssertEqual(last, 20)
        XCTAssertEqual(try store.acknowledgedSequence(gate: gate), 20, "every sequence accounted for")
        for seq in UInt64(1)...20 where seq != 3 {
            let stored = try XCTUnwrap(try store.storedRecord(gate: gate, sequence: seq), "record \(seq)")
            XCTAssertTrue(stored.hasPrefix("J2\t"), "the gate's signed line")
            XCTAssertTrue(local.contains(Substring(stored)), "sequence \(seq) byte for byte")
            XCTAssertFalse(forged.appended.contains(stored) || stored == forged.edited, "never a forged line")
        }
        XCTAssertNil(try store.storedRecord(gate: gate, sequence: 3), "the edited line is no record")
        XCTAssertEqual(try store.gateKeys(gate: gate).map(\.origin), ["registered"])
        try assertRefusedAndFlagged(gate: gate, backend: ["--db", dir + "/central.sqlite"], forged: forged)
    }

    func testForgedAndEditedLinesAreRefusedAndFlaggedOnPostgreSQL() throws {
        guard let pg = ProcessInfo.processInfo.environment["FAREGATE_TEST_PG"], !pg.isEmpty else {
            if ProcessInfo.processInfo.environment["FAREGATE_REQUIRE_SERVICES"] == "1" {
                XCTFail("FAREGATE_TEST_PG is not set but services are required (scripts/services/postgres)")
            }
            throw XCTSkip("FAREGATE_TEST_PG not set: start scripts/services/postgres")
        }
        let gate = "FORGE-PG-" + UUID().uuidString.prefix(8)
        // The key is made by the daemon at its first start (no central yet: all unacknowledged).
        _ = try writeConfig(gate: gate, central: #"{"sqlite": "central.sqlite"}"#)
        try runToTheEnd(dir + "/gate.json")
        let forged = try forge()
        _ = try farectl(["central", "migrate", "--pg", pg])
        let pub = try farectl(["journal", "key", "--dir", dir + "/journal", "--json"])
        let key = try XCTUnwrap(
            (try JSONSerialization.jsonObject(with: Data(pub.utf8)) as? [String: Any])?["public_key"] as? String)
        _ = try farectl(["central", "gate-keys", "add", "--pg", pg, gate, key])
        let quoted = String(decoding: try JSONEncoder().encode(pg), as: UTF8.self)
        _ = try writeConfig(gate: gate, central: #"{"postgres": \#(quoted)}"#)
        try runToTheEnd(dir + "/gate.json")

        let gates = try farectl(["central", "gates", "--pg", pg, "--json"])
        let rows = (try JSONSerialization.jsonObject(with: Data(gates.utf8)) as? [String: Any])?["gates"]
        let row = (rows as? [[String: Any]])?.first { $0["gate"] as? String == gate }
        XCTAssertEqual(row?["acknowledged_sequence"] as? Int, 20, gates)
        XCTAssertEqual(row?["journal_records"] as? Int, 19, "every record but the edited one: \(gates)")
        try assertRefusedAndFlagged(gate: gate, backend: ["--pg", pg], forged: forged)
        let keys = try farectl(["central", "gate-keys", "list", "--pg", pg, "--gate", gate])
        XCTAssertTrue(keys.contains("\(key) active (registered)"), keys)
    }
}
