import FaregateCore

/// Exactly-once on the central side (issue 16.5, 16.6), run against a real store by the SQLite and
/// PostgreSQL suites: holes count for the acknowledgement and are listed; a record that differs
/// from the one held for its (gate, sequence) is flagged, kept and never acknowledged.
public struct JournalExactlyOnceScenarios {
    public typealias Store = CentralStore & JournalReviewStore
    let makeStore: () throws -> any Store

    public init(makeStore: @escaping () throws -> any Store) { self.makeStore = makeStore }

    public static func entry(_ seq: UInt64, reader: UInt16 = 0) -> JournalEntry {
        JournalEntry(
            sequence: seq, wallMillis: 1_700_000_000_000 + Int64(seq), reader: reader,
            key: CardKey(medium: .transitCard, identifier: seq)!, kind: .decision, decision: .open(.ok),
            balanceFen: 100, dataVersion: 1, timings: StageTimings())
    }

    func expect<T: Equatable>(_ got: T, _ want: T, _ what: String, line: UInt = #line) throws {
        guard got == want else { throw ScenarioFailure("\(what): got \(got), want \(want)", line) }
    }

    /// A conflicting record is flagged with both versions, not stored over the first, and the
    /// acknowledgement stops below it; repeating it adds no second flag; later records are stored.
    public func conflictIsFlaggedAndNeverAcknowledged() throws {
        let store = try makeStore()
        try store.uploadJournal(gate: "G1", entries: (1...3).map { Self.entry($0) })
        try expect(try store.acknowledgedSequence(gate: "G1"), 3, "acknowledged before the conflict")
        let forged = Self.entry(2, reader: 9)
        try store.uploadJournal(gate: "G1", entries: [Self.entry(1), forged, Self.entry(3), Self.entry(4)])
        try store.uploadJournal(gate: "G1", entries: [forged])
        let conflicts = try store.journalConflicts(gate: "G1")
        try expect(conflicts.count, 1, "one flag, however often it is offered")
        try expect(conflicts.first?.sequence, 2, "the conflicting sequence")
        try expect(conflicts.first?.storedRecord, JournalCodec.encode(Self.entry(2)), "the record stored first")
        try expect(conflicts.first?.offeredRecord, JournalCodec.encode(forged), "the offered record, byte for byte")
        try expect(try store.acknowledgedSequence(gate: "G1"), 1, "never acknowledged: stops below the conflict")
        try expect(try store.highestSequence(gate: "G1"), 4, "later records are stored")
        try expect(try store.journalConflicts(gate: "G2").count, 0, "other gates have none")
        try expect(try store.journalConflicts(gate: nil).count, 1, "every gate")
    }

    /// Holes fill the acknowledgement's gaps and are listed; a hole for a held record changes
    /// nothing; a record offered for a hole is a conflict.
    public func holesCountAndAreListed() throws {
        let store = try makeStore()
        try store.uploadJournal(gate: "G1", entries: [1, 2, 5, 6].map { Self.entry($0) })
        try expect(try store.acknowledgedSequence(gate: "G1"), 2, "3 and 4 missing")
        try store.recordHoles(gate: "G1", ranges: [2...4], reason: "damaged")
        try expect(try store.acknowledgedSequence(gate: "G1"), 6, "holes count")
        let holes = try store.journalHoles(gate: "G1")
        try expect(holes.map(\.sequence), [3, 4], "2 is a record and stays one")
        try expect(holes.first?.reason, "damaged", "the reason")
        try expect(try store.highestSequence(gate: "G1"), 6, "highest")
        try store.recordHoles(gate: "G1", ranges: [7...8], reason: "lost tail")
        try expect(try store.highestSequence(gate: "G1"), 8, "a hole is the highest sequence")
        try expect(try store.acknowledgedSequence(gate: "G1"), 8, "holes at the end count")
        try store.uploadJournal(gate: "G1", entries: [Self.entry(8)])
        try expect(try store.journalConflicts(gate: "G1").map(\.storedRecord), ["hole"], "a record for a hole")
        try expect(try store.acknowledgedSequence(gate: "G1"), 7, "below the conflict")
        try expect(try store.highestSequence(gate: "NEW"), 0, "an unknown gate")
        try expect(try store.journalHoles(gate: nil).count, 4, "every gate")
    }
}
