import FaregateCore
import FaregateRuntime
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 16.6: a sequence is never handed out twice, whatever happens to the journal's tail, its
/// rotation or the `acked` file; and what the journal cannot produce any more goes up as holes.
final class HighWaterTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-highwater-\(UUID().uuidString)"
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func entries(_ range: ClosedRange<UInt64>) -> [JournalEntry] {
        range.map {
            JournalEntry(
                sequence: $0, wallMillis: 1_654_041_600_000 + Int64($0), reader: 0,
                key: CardKey(medium: .transitCard, identifier: $0)!, kind: .decision, decision: .open(.ok),
                balanceFen: 100, dataVersion: 1, timings: StageTimings())
        }
    }

    var journalPath: String { dir + "/journal.log" }
    var markPath: String { dir + "/" + HighWaterFile.fileName }

    /// Keeps the first `lines` lines of the journal (the tail lost, as a disk that loses writes).
    func keepLines(_ lines: Int) throws {
        let text = try String(contentsOfFile: journalPath, encoding: .utf8)
        let kept = text.split(separator: "\n").prefix(lines).map { $0 + "\n" }.joined()
        try kept.write(toFile: journalPath, atomically: false, encoding: .utf8)
    }

    func testALostTailIsNeverNumberedAgainAndGoesUpAsAHole() throws {
        do {
            let j = try FileJournal(directory: dir)
            try j.append(entries(1...10))
        }
        try keepLines(6)
        let j = try FileJournal(directory: dir)
        XCTAssertEqual(j.nextSequence, 11, "7...10 were handed out: never again")
        XCTAssertTrue(j.recoveryNotes.contains { $0.contains("7...10") }, "\(j.recoveryNotes)")
        let batch = try j.pendingBatch(limit: 100)
        XCTAssertEqual(batch.entries.map(\.sequence), Array(1...6))
        XCTAssertEqual(batch.holes, [7...10])
        try j.append(entries(11...11))
        let after = try j.pendingBatch(limit: 100)
        XCTAssertEqual(after.entries.map(\.sequence), Array(1...6) + [11])
        XCTAssertEqual(after.holes, [7...10])
    }

    func testTheWholeJournalLostStillContinuesAfterTheMark() throws {
        do {
            let j = try FileJournal(directory: dir)
            try j.append(entries(1...5))
        }
        try FileManager.default.removeItem(atPath: journalPath)
        let j = try FileJournal(directory: dir)
        XCTAssertEqual(j.nextSequence, 6)
        XCTAssertEqual(try j.pendingBatch(limit: 100).holes, [1...5])
    }

    func testAfterRotationAnUnreadableAckedFileDoesNotRestartNumbering() throws {
        do {
            let j = try FileJournal(directory: dir, rotateBytes: 1)
            try j.append(entries(1...4))
            try j.acknowledge(4)
            try j.append(entries(5...5))  // rotates first: journal.log now holds 5 only
            try j.acknowledge(5)
            try j.append(entries(6...6))  // rotates again
            try j.acknowledge(6)
        }
        try FileManager.default.removeItem(atPath: dir + "/journal.previous.log")
        try "garbage".write(toFile: dir + "/acked", atomically: false, encoding: .utf8)
        try FileManager.default.removeItem(atPath: journalPath)
        let j = try FileJournal(directory: dir)
        XCTAssertEqual(j.nextSequence, 7)
    }

    func testATornSlotFallsBackToTheOtherOne() throws {
        do {
            let j = try FileJournal(directory: dir)
            try j.append(entries(1...3))
            try j.append(entries(4...4))
        }
        // The newest slot torn: the older one still holds a mark of this journal.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: markPath)))
        let newest = try XCTUnwrap(HighWaterFile.parse(bytes))
        XCTAssertEqual(newest.sequence, 4)
        let slot = Int(newest.generation % 2) * HighWaterFile.slotSize
        for i in slot..<(slot + 20) { bytes[i] = 0 }
        try Data(bytes).write(to: URL(fileURLWithPath: markPath))
        XCTAssertEqual(HighWaterFile.parse(bytes)?.sequence, 3)
        try FileManager.default.removeItem(atPath: journalPath)
        let j = try FileJournal(directory: dir)
        XCTAssertEqual(j.nextSequence, 4, "the previous mark survives a torn write of the newest")
    }

    func testAFileWithNoValidSlotRefusesTheStart() throws {
        do {
            let j = try FileJournal(directory: dir)
            try j.append(entries(1...3))
        }
        try Data(repeating: 0x41, count: 2 * HighWaterFile.slotSize).write(to: URL(fileURLWithPath: markPath))
        XCTAssertThrowsError(try FileJournal(directory: dir)) { error in
            XCTAssertTrue("\(error)".contains("no valid high-water mark"), "\(error)")
        }
        for garbage in [[UInt8](), [0x0a], [UInt8](repeating: 0xff, count: 4000)] {
            XCTAssertNil(HighWaterFile.parse(garbage))
        }
    }

    func testSlotsRoundTripAndRefuseOutOfRangeSequences() {
        let slot = HighWaterFile.encodeSlot(generation: 7, sequence: 42)
        XCTAssertEqual(slot.count, HighWaterFile.slotSize)
        XCTAssertEqual(HighWaterFile.parseSlot(slot[...])?.sequence, 42)
        let huge = HighWaterFile.encodeSlot(generation: 1, sequence: UInt64.max)
        XCTAssertNil(HighWaterFile.parseSlot(huge[...]), "past JournalEntry.maxSequence is damage")
        var flipped = slot
        flipped[10] ^= 0x01
        XCTAssertNil(HighWaterFile.parseSlot(flipped[...]))
    }

    func testADamagedLineWhileRunningBecomesAHoleAndLaterEntriesStillGoUp() throws {
        let j = try FileJournal(directory: dir)
        try j.append(entries(1...6))
        // Damage on disk under the running gate (line 3 flipped in place).
        let text = try String(contentsOfFile: journalPath, encoding: .utf8)
        let third = String(text.split(separator: "\n")[2])
        let damaged = third.replacingOccurrences(of: "open", with: "deny")
        let fd = open(journalPath, O_WRONLY)
        let offset = text.utf8.count - text.split(separator: "\n").dropFirst(2).map { $0.utf8.count + 1 }.reduce(0, +)
        _ = Array(damaged.utf8).withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        close(fd)
        let batch = try j.pendingBatch(limit: 100)
        XCTAssertEqual(batch.entries.map(\.sequence), [1, 2, 4, 5, 6])
        XCTAssertEqual(batch.holes, [3...3])
        // A damaged last line: the hole reaches to the last sequence handed out.
        try j.append(entries(7...7))
        XCTAssertEqual(try j.pendingBatch(limit: 100, after: 6).entries.map(\.sequence), [7])
        // The limit counts holes too.
        let small = try j.pendingBatch(limit: 3)
        XCTAssertEqual(small.entries.map(\.sequence), [1, 2])
        XCTAssertEqual(small.holes, [3...3])
        XCTAssertEqual(small.lastSequence, 3)
    }

    func testRaisedFloorIsDurableAndCoveredByAHole() throws {
        do {
            let j = try FileJournal(directory: dir)
            try j.append(entries(1...2))
            try j.raiseFloor(to: 9)
            XCTAssertEqual(j.nextSequence, 10)
            XCTAssertEqual(try j.pendingBatch(limit: 100).holes, [3...9])
        }
        let j = try FileJournal(directory: dir)
        XCTAssertEqual(j.nextSequence, 10)
        XCTAssertFalse(j.highWaterCreated)
    }
}

extension HighWaterTests {
    /// The checked-in fuzz seeds are real files (the valid starting points the fuzzer mutates).
    func testTheFuzzSeedsAreValidFiles() throws {
        let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz/corpus/high-water")
        let whole = [UInt8](try Data(contentsOf: corpus.appendingPathComponent("high-water")))
        XCTAssertEqual(HighWaterFile.parse(whole)?.sequence, 1234)
        let torn = [UInt8](try Data(contentsOf: corpus.appendingPathComponent("one-slot-torn")))
        XCTAssertEqual(HighWaterFile.parse(torn)?.sequence, 9)
    }
}
