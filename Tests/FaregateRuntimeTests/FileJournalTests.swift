import FaregateCore
import FaregateRuntime
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

final class FileJournalTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-journal-\(UUID().uuidString)"
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func entries(_ range: ClosedRange<UInt64>) -> [JournalEntry] {
        range.map {
            JournalEntry(
                sequence: $0, wallMillis: 1_654_041_600_000 + Int64($0), reader: 0,
                key: CardKey(medium: .transitCard, identifier: $0)!, kind: .decision, decision: .open(.ok),
                balanceFen: 100,
                dataVersion: 1, timings: StageTimings())
        }
    }

    func testSequenceContinuesAcrossARestart() throws {
        do {
            let j = try FileJournal(directory: dir)
            XCTAssertEqual(j.nextSequence, 1)
            try j.append(entries(1...3))
            try j.append(entries(4...5))
        }
        let reopened = try FileJournal(directory: dir)
        XCTAssertEqual(reopened.lastSequence, 5)
        XCTAssertEqual(reopened.nextSequence, 6)
        XCTAssertTrue(reopened.recoveryNotes.isEmpty)
        try reopened.append(entries(6...6))
        XCTAssertEqual(try reopened.pendingUpload(limit: 100).map(\.sequence), [1, 2, 3, 4, 5, 6])
    }

    func testTornTailIsCutAndTheSequenceResumesAfterTheLastWholeEntry() throws {
        do {
            let j = try FileJournal(directory: dir)
            try j.append(entries(1...4))
        }
        // A power cut mid-write leaves half a line.
        let h = try XCTUnwrap(FileHandle(forWritingAtPath: dir + "/journal.log"))
        h.seekToEndOfFile()
        h.write(Data(JournalCodec.encode(entries(5...5)[0]).utf8.prefix(30)))
        try h.close()
        let j = try FileJournal(directory: dir)
        XCTAssertEqual(j.lastSequence, 4)
        XCTAssertEqual(j.recoveryNotes.count, 1, "\(j.recoveryNotes)")
        try j.append(entries(5...5))
        let reopened = try FileJournal(directory: dir)
        XCTAssertEqual(try reopened.pendingUpload(limit: 10).map(\.sequence), [1, 2, 3, 4, 5])
    }

    func testDamageInTheMiddleSetsTheFileAsideAndKeepsEveryValidEntry() throws {
        do {
            let j = try FileJournal(directory: dir)
            try j.append(entries(1...5))
        }
        var text = try String(contentsOfFile: dir + "/journal.log", encoding: .utf8)
        let third = text.split(separator: "\n")[2]
        text = text.replacingOccurrences(of: third, with: third.replacingOccurrences(of: "open", with: "deny"))
        try text.write(toFile: dir + "/journal.log", atomically: false, encoding: .utf8)

        let j = try FileJournal(directory: dir)
        XCTAssertEqual(j.lastSequence, 5)
        XCTAssertEqual(try j.pendingUpload(limit: 10).map(\.sequence), [1, 2, 4, 5])
        let aside = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("journal.damaged-") }
        XCTAssertEqual(aside.count, 1, "the damaged original is kept for inspection")
    }

    func testAcknowledgementPersistsAndLimitsWhatIsUploadedAgain() throws {
        do {
            let j = try FileJournal(directory: dir)
            try j.append(entries(1...10))
            XCTAssertEqual(try j.pendingUpload(limit: 4).map(\.sequence), [1, 2, 3, 4])
            try j.acknowledge(4)
            XCTAssertEqual(try j.pendingUpload(limit: 100).map(\.sequence), Array(5...10))
        }
        let j = try FileJournal(directory: dir)
        XCTAssertEqual(j.acknowledged, 4)
        XCTAssertEqual(try j.pendingUpload(limit: 100).first?.sequence, 5)
    }

    /// A full disk: the file-size limit makes write(2) fail with EFBIG the way ENOSPC would.
    func testAFailedWriteLeavesNoPartialBatchAndTheJournalGoesOn() throws {
        let j = try FileJournal(directory: dir)
        try j.append(entries(1...2))
        try whileDiskIsFull(growingPast: j.path, by: 40) {
            XCTAssertThrowsError(try j.append(entries(3...5))) { XCTAssertTrue("\($0)".contains(j.path), "\($0)") }
        }
        XCTAssertEqual(j.lastSequence, 2)
        try j.append(entries(3...3))
        let reopened = try FileJournal(directory: dir)
        XCTAssertEqual(try reopened.pendingUpload(limit: 10).map(\.sequence), [1, 2, 3])
        XCTAssertTrue(reopened.recoveryNotes.isEmpty, "no torn line was left behind: \(reopened.recoveryNotes)")
    }

    func testUnwritableDirectoryIsAClearError() throws {
        FileManager.default.createFile(atPath: dir, contents: Data("not a directory".utf8))
        XCTAssertThrowsError(try FileJournal(directory: dir + "/sub")) { XCTAssertTrue("\($0)".contains(dir), "\($0)") }
        try FileManager.default.removeItem(atPath: dir)
    }
}

final class FileJournalRotationTests: XCTestCase {
    func testRotatesOnlyWhenEverythingIsAcknowledgedAndTheSequenceGoesOn() throws {
        let dir = NSTemporaryDirectory() + "faregate-rotate-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func batch(_ r: ClosedRange<UInt64>) -> [JournalEntry] {
            r.map {
                JournalEntry(
                    sequence: $0, wallMillis: 1, reader: 0, key: CardKey(rawValue: $0), kind: .decision,
                    decision: .open(.ok),
                    balanceFen: nil, dataVersion: 1, timings: StageTimings())
            }
        }
        do {
            let j = try FileJournal(directory: dir, rotateBytes: 500)
            try j.append(batch(1...10))
            try j.append(batch(11...11))  // over the limit, but nothing acknowledged: no rotation
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/journal.previous.log"))
            try j.acknowledge(10)
            try j.append(batch(12...12))  // 11 is not acknowledged yet
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/journal.previous.log"))
            XCTAssertEqual(try j.pendingUpload(limit: 100).map(\.sequence), [11, 12])
            try j.acknowledge(12)
            try j.append(batch(13...14))  // 1...12 acknowledged: 13 starts a new file
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/journal.previous.log"))
            XCTAssertEqual(try j.pendingUpload(limit: 100).map(\.sequence), [13, 14])
            try j.acknowledge(14)
        }
        let j = try FileJournal(directory: dir, rotateBytes: 500)
        XCTAssertEqual(j.nextSequence, 15, "the sequence survives a rotation and a restart")
        XCTAssertEqual(j.acknowledged, 14)
        try j.append(batch(15...15))
        XCTAssertEqual(try j.pendingUpload(limit: 100).map(\.sequence), [15])
    }
}
