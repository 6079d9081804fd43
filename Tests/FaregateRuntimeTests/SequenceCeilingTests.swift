import FaregateCore
import Foundation
import XCTest

@testable import FaregateRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// Sequences past `JournalEntry.maxSequence` in the files a gate reads at start (issue 13: a
/// journal line or an `acked` file holding `UInt64.max` trapped `faregated` on `lastSequence + 1`,
/// so under systemd it crash-looped), and the `acked` file's checksum.
final class SequenceCeilingTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        // Short: the daemon test's control socket path must fit in sockaddr_un.
        dir = "/tmp/fg-seq-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir + "/journal", withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func entry(_ sequence: UInt64) -> JournalEntry {
        JournalEntry(
            sequence: sequence, wallMillis: 1_654_041_600_000, reader: 0, key: CardKey(rawValue: 42),
            kind: .decision, decision: .open(.ok), balanceFen: 100, dataVersion: 1, timings: StageTimings())
    }

    /// Lines 1, 2, one holding `sequence`, then 3: a journal damaged in the middle.
    func writeJournal(withLineAt sequence: UInt64) throws {
        let lines = [entry(1), entry(2), entry(sequence), entry(3)].map { JournalCodec.encode($0) + "\n" }
        try lines.joined().write(toFile: dir + "/journal/journal.log", atomically: true, encoding: .utf8)
    }

    func damagedFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir + "/journal").filter {
            $0.hasPrefix("journal.damaged-")
        }
    }

    func testALinePastTheCeilingIsADamagedLineAndTheSequenceGoesOn() throws {
        for sequence in [UInt64.max, JournalEntry.maxSequence + 1] {
            try? FileManager.default.removeItem(atPath: dir + "/journal")
            try FileManager.default.createDirectory(atPath: dir + "/journal", withIntermediateDirectories: true)
            try writeJournal(withLineAt: sequence)
            let journal = try FileJournal(directory: dir + "/journal")
            XCTAssertEqual(journal.lastSequence, 3, "\(sequence)")
            XCTAssertEqual(journal.nextSequence, 4)
            XCTAssertEqual(try damagedFiles().count, 1, "the original is kept for inspection")
            XCTAssertTrue(journal.recoveryNotes.contains { $0.contains("damaged lines 3") }, "\(journal.recoveryNotes)")
            try journal.append([entry(4)])
        }
    }

    func testTheCeilingItselfIsAValidLineAndTheJournalThenFailsClosed() throws {
        try [entry(1), entry(JournalEntry.maxSequence)].map { JournalCodec.encode($0) + "\n" }.joined()
            .write(toFile: dir + "/journal/journal.log", atomically: true, encoding: .utf8)
        let journal = try FileJournal(directory: dir + "/journal")
        XCTAssertEqual(journal.lastSequence, JournalEntry.maxSequence)
        XCTAssertEqual(journal.nextSequence, JournalEntry.maxSequence + 1, "no overflow")
        XCTAssertThrowsError(try journal.append([entry(journal.nextSequence)])) {
            XCTAssertTrue("\($0)".contains("sequence space exhausted"), "\($0)")
        }
        XCTAssertEqual(journal.lastSequence, JournalEntry.maxSequence, "nothing was written")
    }

    func testAnAckedFilePastTheCeilingIsUnreadable() throws {
        for text in ["18446744073709551615\n", "\(JournalEntry.maxSequence + 1)\n", "99999999999999999999999\n"] {
            try text.write(toFile: dir + "/journal/acked", atomically: true, encoding: .utf8)
            let journal = try FileJournal(directory: dir + "/journal")
            XCTAssertEqual(journal.acknowledged, 0, text)
            XCTAssertEqual(journal.nextSequence, 1, text)
        }
    }

    func testAnAcknowledgementPastTheCeilingIsRefused() throws {
        let journal = try FileJournal(directory: dir + "/journal")
        XCTAssertThrowsError(try journal.acknowledge(UInt64.max))
        XCTAssertEqual(journal.acknowledged, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/journal/acked"))
    }

    func testAckedCarriesAChecksumAndOldFilesAreStillRead() throws {
        let journal = try FileJournal(directory: dir + "/journal")
        try journal.append((1...7).map(entry))
        try journal.acknowledge(5)
        let written = try String(contentsOfFile: dir + "/journal/acked", encoding: .utf8)
        XCTAssertEqual(written, "5 \(String(CRC32.checksum("5".utf8), radix: 16))\n")
        XCTAssertEqual(try FileJournal(directory: dir + "/journal").acknowledged, 5)
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: dir + "/journal").filter { $0.contains("tmp") }, [],
            "no temp file left behind")

        // A file from before the checksum (what gates in service have).
        try "6\n".write(toFile: dir + "/journal/acked", atomically: true, encoding: .utf8)
        XCTAssertEqual(try FileJournal(directory: dir + "/journal").acknowledged, 6)

        // A flipped digit no longer reads as a valid, wrong sequence.
        try written.replacingOccurrences(of: "5 ", with: "3 ")
            .write(toFile: dir + "/journal/acked", atomically: true, encoding: .utf8)
        XCTAssertEqual(try FileJournal(directory: dir + "/journal").acknowledged, 0)
    }

    func testAckedFileParsing() {
        XCTAssertEqual(AckedFile.parse(AckedFile.encode(JournalEntry.maxSequence)), JournalEntry.maxSequence)
        XCTAssertEqual(AckedFile.parse(AckedFile.encode(0)), 0)
        XCTAssertEqual(AckedFile.parse(Array("12\n".utf8)), 12)
        for bad in [
            "", "\n", "-1", "12 zz", "12 0", "1 2 3", "0x10", " 12 \(String(CRC32.checksum("13".utf8), radix: 16))",
        ] {
            XCTAssertNil(AckedFile.parse(Array(bad.utf8)), bad)
        }
        XCTAssertNil(AckedFile.parse([UInt8](repeating: UInt8(ascii: "1"), count: 100_000)), "long input")
    }

    /// With `acked` unreadable after a rotation (`journal.log` empty), the previous generation's
    /// last sequence is the floor: a sequence the central store acknowledged is not handed out again.
    func testAnUnreadableAckedAfterARotationDoesNotReuseSequences() throws {
        let previous = (1...9).map { JournalCodec.encode(entry($0)) + "\n" }.joined()
        try previous.write(toFile: dir + "/journal/journal.previous.log", atomically: true, encoding: .utf8)
        try "".write(toFile: dir + "/journal/journal.log", atomically: true, encoding: .utf8)
        try "garbage".write(toFile: dir + "/journal/acked", atomically: true, encoding: .utf8)
        XCTAssertEqual(try FileJournal(directory: dir + "/journal").nextSequence, 10)
    }

    /// The release scenario, on the daemon binary: a journal with a `UInt64.max` line and an
    /// `acked` file holding `UInt64.max` start cleanly, the line set aside as damaged, and the
    /// gate journals on from the highest valid sequence.
    func testTheDaemonStartsOnAJournalAndAckedHoldingUInt64Max() throws {
        let daemon = try DaemonProcess.binary("faregated")
        try writeJournal(withLineAt: UInt64.max)
        try "\(UInt64.max)\n".write(toFile: dir + "/journal/acked", atomically: true, encoding: .utf8)
        try "0 0 transit-card:1000751000000000001\n0 0 transit-card:1000751000000000002\n"
            .write(toFile: dir + "/taps.txt", atomically: true, encoding: .utf8)
        let config = dir + "/gate.json"
        try """
        {"gate_id": "SEQ-1", "journal_dir": "journal", "control_socket": "gate.sock",
         "readers": {"backend": "simulated", "count": 1, "script": "taps.txt"}}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let (p, log) = try DaemonProcess.start(daemon, config: config, extra: ["--exit-after-script"])
        let output = String(decoding: log.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit, output)
        XCTAssertEqual(p.terminationStatus, 0, output)
        XCTAssertTrue(output.contains("next seq 4"), output)
        XCTAssertTrue(output.contains("unreadable acknowledged sequence"), output)
        XCTAssertEqual(try damagedFiles().count, 1)
        let text = try String(contentsOfFile: dir + "/journal/journal.log", encoding: .utf8)
        XCTAssertEqual(try text.split(separator: "\n").map { try JournalCodec.decode($0).sequence }, [1, 2, 3, 4, 5])
    }
}

/// Found by the fuzzer (`Tests/Fuzz/crashes/{journal-recovery,acked}/leak-empty-*`): every read
/// of an empty file through `FileManager.contents(atPath:)` leaked 4 KiB (LeakSanitizer), and an
/// empty `journal.log` is what a gate has after every rotation. State files are now read with
/// `FileBytes`; the leak itself shows only under ASan (`scripts/fuzz`), these pin the behaviour.
final class FileBytesTests: XCTestCase {
    func testEmptyMissingAndOversizedFiles() throws {
        let dir = NSTemporaryDirectory() + "faregate-filebytes-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/empty", contents: Data()))
        XCTAssertEqual(try FileBytes.read(dir + "/empty", maxBytes: 10), [])
        XCTAssertNil(try FileBytes.read(dir + "/missing", maxBytes: 10))
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/big", contents: Data(count: 11)))
        XCTAssertThrowsError(try FileBytes.read(dir + "/big", maxBytes: 10)) {
            XCTAssertEqual($0 as? FileBytes.Failure, .tooLarge(11))
        }
        XCTAssertEqual(try FileBytes.read(dir + "/big", maxBytes: 11)?.count, 11)

        // An empty journal and an empty acked file: a fresh start at sequence 1.
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/journal.log", contents: Data()))
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/acked", contents: Data()))
        let journal = try FileJournal(directory: dir)
        XCTAssertEqual(journal.nextSequence, 1)
        XCTAssertEqual(journal.acknowledged, 0)
        // An acked file far too large to be one is unreadable, not read whole.
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/acked", contents: Data(count: 1 << 20)))
        XCTAssertEqual(try FileJournal(directory: dir).acknowledged, 0)
    }
}
