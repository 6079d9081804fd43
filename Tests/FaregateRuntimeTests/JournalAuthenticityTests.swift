import FaregateCore
import FaregateRuntime
import FaregateSodium
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 16.5 on the gate: J2 lines (chained, MAC'd with the gate's key), the key file, and a
/// journal that tells the lines it wrote from lines someone else put in its file.
final class JournalAuthenticityTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-jauth-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    static let keying = JournalKeying(
        generate: { try GateJournalKey.generate().secretKeyBytes }, open: { try GateJournalKey(secretKey: $0) })

    func entry(_ seq: UInt64, outcome: Decision = .open(.ok)) -> JournalEntry {
        JournalEntry(
            sequence: seq, wallMillis: 1_700_000_000_000 + Int64(seq), reader: 1,
            key: CardKey(medium: .transitCard, identifier: seq)!, kind: .decision, decision: outcome,
            balanceFen: 100, dataVersion: 3, timings: StageTimings(select: 1, read: 2, queue: 3, lookup: 4, decide: 5))
    }

    func chained(_ range: ClosedRange<UInt64>, key: GateJournalKey) -> [String] {
        var chain = JournalChainValue.zero
        return range.map { seq in
            let (line, next) = JournalCodec.encode(entry(seq), previous: chain, authenticator: key)
            chain = next
            return line
        }
    }

    // MARK: codec

    func testJ2RoundTripsAndChains() throws {
        let key = try GateJournalKey.generate()
        let lines = chained(1...3, key: key)
        var previous = JournalChainValue.zero
        for (i, line) in lines.enumerated() {
            XCTAssertTrue(line.hasPrefix("J2\t"))
            let d = try JournalCodec.authenticate(Substring(line), with: key)
            XCTAssertEqual(d.entry, entry(UInt64(i + 1)))
            XCTAssertEqual(d.previous, previous, "each line names the chain value of the one before")
            previous = try XCTUnwrap(d.chain)
            XCTAssertEqual(try JournalCodec.decode(Substring(line)), entry(UInt64(i + 1)), "decodes without the key")
        }
        // J1 lines still decode, unchained.
        XCTAssertNil(try JournalCodec.decodeLine(Substring(JournalCodec.encode(entry(9)))).chain)
    }

    func testEveryEditedByteFailsTheMAC() throws {
        let key = try GateJournalKey.generate()
        let line = Array(chained(1...1, key: key)[0].utf8)
        for i in 0..<line.count {
            var edited = line
            edited[i] = edited[i] == UInt8(ascii: "7") ? UInt8(ascii: "8") : UInt8(ascii: "7")
            XCTAssertThrowsError(
                try JournalCodec.authenticate(Substring(String(decoding: edited, as: UTF8.self)), with: key),
                "byte \(i)")
        }
    }

    func testALineMadeWithAnotherKeyIsNotAuthentic() throws {
        let gate = try GateJournalKey.generate()
        let forger = try GateJournalKey.generate()
        let forged = chained(1...1, key: forger)[0]
        XCTAssertThrowsError(try JournalCodec.authenticate(Substring(forged), with: gate)) {
            XCTAssertEqual($0 as? JournalCodec.DecodeError, .notAuthentic)
        }
    }

    func testChainBreaksOnEditInsertAndDelete() throws {
        let key = try GateJournalKey.generate()
        let lines = chained(1...4, key: key)
        func check(_ lines: [String], holes: [ClosedRange<UInt64>] = []) throws {
            let batch = try XCTUnwrap(
                SignedJournalBatch(gate: "G", lines: lines, holes: holes, rejected: [], signer: key))
            XCTAssertTrue(batch.hasValidSignature)
            _ = try JournalBatchCheck.verify(batch, keyState: .active, signatureValid: true, storedLine: { _ in nil })
        }
        XCTAssertNoThrow(try check(lines))
        // Deleted: line 2 gone, no hole for it.
        XCTAssertThrowsError(try check([lines[0], lines[2], lines[3]])) {
            XCTAssertEqual(($0 as? JournalBatchRefusal)?.code, .chainBroken)
        }
        // Declared a hole (the gate lost it), the rest is fine.
        XCTAssertNoThrow(try check([lines[0], lines[2], lines[3]], holes: [2...2]))
        // Replaced (a validly MAC'd line that is not the one chained): line 2 made anew.
        let (other, _) = JournalCodec.encode(
            entry(2, outcome: .deny(.blacklisted)), previous: JournalChainValue(high: 9, low: 9), authenticator: key)
        XCTAssertThrowsError(try check([lines[0], other, lines[2]])) {
            XCTAssertEqual(($0 as? JournalBatchRefusal)?.code, .chainBroken)
        }
        // Inserted: a line between 2 and 3 (renumbered) does not continue 2's chain.
        XCTAssertThrowsError(try check([lines[0], lines[1], lines[1], lines[2]])) {
            XCTAssertEqual(($0 as? JournalBatchRefusal)?.code, .malformed, "sequence not after the one before")
        }
    }

    func testBatchSignatureCoversEveryPart() throws {
        let key = try GateJournalKey.generate()
        let lines = chained(1...2, key: key)
        let batch = try XCTUnwrap(
            SignedJournalBatch(gate: "G", lines: lines, holes: [3...4], rejected: ["x"], signer: key))
        XCTAssertTrue(batch.hasValidSignature)
        var other = batch
        other.gate = "H"
        XCTAssertFalse(other.hasValidSignature, "gate")
        other = batch
        other.holes = [3...5]
        XCTAssertFalse(other.hasValidSignature, "holes")
        other = batch
        other.lines.removeLast()
        XCTAssertFalse(other.hasValidSignature, "lines")
        other = batch
        other.rejected = []
        XCTAssertFalse(other.hasValidSignature, "rejected")
        other = batch
        other.publicKey = try GateJournalKey.generate().publicKey
        XCTAssertFalse(other.hasValidSignature, "key")
    }

    // MARK: key file

    func testKeyFileIsCreated0600AndReused() throws {
        let created = try FileJournal.journalKey(directory: dir, keying: Self.keying)
        XCTAssertTrue(created.created)
        var st = stat()
        XCTAssertEqual(stat(dir + "/journal.key", &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        let again = try FileJournal.journalKey(directory: dir, keying: Self.keying)
        XCTAssertFalse(again.created)
        XCTAssertEqual(again.signer.publicKey, created.signer.publicKey)
    }

    func testKeyFileWiderThan0600IsRefused() throws {
        _ = try FileJournal.journalKey(directory: dir, keying: Self.keying)
        XCTAssertEqual(chmod(dir + "/journal.key", 0o640), 0)
        XCTAssertThrowsError(try FileJournal.journalKey(directory: dir, keying: Self.keying)) {
            XCTAssertTrue("\($0)".contains("0600"), "\($0)")
        }
        XCTAssertThrowsError(
            try FileJournal(directory: dir, fsync: false, keying: Self.keying), "the daemon refuses too")
    }

    // MARK: the journal

    func testForgedAndEditedLinesBecomeHolesAndAreReported() throws {
        do {
            let j = try FileJournal(directory: dir, fsync: false, keying: Self.keying)
            try j.append((1...4).map { entry($0) })
        }
        // A file-level forger: edits line 2 (recomputing the J1-style checksum is not enough) and
        // appends two CRC-valid J1 `open ok` lines and one J2 line made with another key.
        let path = dir + "/journal.log"
        var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        lines[1] = lines[1].replacingOccurrences(of: "\tok\t100\t", with: "\tok\t99900\t")  // a richer balance
        let forger = try GateJournalKey.generate()
        let appended = [JournalCodec.encode(entry(5)), JournalCodec.encode(entry(6))]
        let wrongKey = JournalCodec.encode(entry(7), previous: .zero, authenticator: forger).line
        try ((lines + appended + [wrongKey]).joined(separator: "\n") + "\n").write(
            toFile: path, atomically: false, encoding: .utf8)

        let j = try FileJournal(directory: dir, fsync: false, keying: Self.keying)
        XCTAssertEqual(j.lastSequence, 4, "forged lines are no sequences of the gate")
        let batch = try j.pendingBatch(limit: 100)
        XCTAssertEqual(batch.entries.map(\.sequence), [1, 3, 4])
        XCTAssertEqual(batch.holes, [2...2], "the edited line's sequence is a hole")
        XCTAssertEqual(Set(batch.rejected), Set([lines[1]] + appended + [wrongKey]), "reported for central to flag")
        XCTAssertEqual(batch.lines.count, 3)
        // Appending goes on chained after the last line the gate wrote.
        try j.append([entry(5)])
        let reopened = try FileJournal(directory: dir, fsync: false, keying: Self.keying)
        XCTAssertEqual(try reopened.pendingBatch(limit: 100).entries.map(\.sequence), [1, 3, 4, 5])
        reopened.rejectedReported(batch.rejected)
        XCTAssertTrue(reopened.unreportedRejectedLines.isEmpty)
    }

    func testJ1LinesCountUpToTheLegacyCeilingOnly() throws {
        do {
            let j = try FileJournal(directory: dir, fsync: false)
            try j.append((1...2).map { entry($0) })
        }
        let j = try FileJournal(directory: dir, fsync: false, keying: Self.keying)
        XCTAssertTrue(j.keyCreated)
        XCTAssertEqual(j.legacyCeiling, 2)
        try j.append([entry(3)])
        let batch = try j.pendingBatch(limit: 10)
        XCTAssertEqual(batch.entries.map(\.sequence), [1, 2, 3], "J1 history uploads, then J2")
        XCTAssertTrue(batch.lines[0].hasPrefix("J1\t"))
        XCTAssertTrue(batch.lines[2].hasPrefix("J2\t"))
        let signer = try XCTUnwrap(j.signer)
        let signed = try XCTUnwrap(
            SignedJournalBatch(gate: "G", lines: batch.lines, holes: [], rejected: [], signer: signer))
        XCTAssertNoThrow(
            try JournalBatchCheck.verify(signed, keyState: .active, signatureValid: true, storedLine: { _ in nil }))
    }
}
