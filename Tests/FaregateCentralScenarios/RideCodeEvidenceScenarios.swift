import FaregateCore

/// Ride-code settlement evidence on the central side (issue 17.6), run against a real store by the
/// SQLite and PostgreSQL suites: a passage on a code is stored with its evidence, exactly once,
/// in the same upload as its record; rides of other cities' metro apps are marked for clearing;
/// card taps and refusals leave no evidence row.
public struct RideCodeEvidenceScenarios {
    public typealias Store = CentralStore & RideCodeEvidenceStore
    let makeStore: () throws -> any Store

    public init(makeStore: @escaping () throws -> any Store) { self.makeStore = makeStore }

    public static func evidence(_ issuer: RideCodeIssuer, account: UInt64, counter: UInt32) -> RideCodeEvidence {
        RideCodeEvidence(
            issuerNumber: issuer.rawValue, issuerKeyID: 3, account: account,
            certificateHash: (0..<32).map { UInt8(truncatingIfNeeded: Int(account) &+ $0) },
            generatedAt: 1_767_300_000 + counter % 1000, counter: counter, flags: UInt8(counter & 1),
            userSignature: (0..<64).map { UInt8(truncatingIfNeeded: Int(counter) &* 3 &+ $0) })
    }

    /// Entry `seq`: a passage on `evidence`'s code, or (nil) a card tap.
    public static func entry(_ seq: UInt64, _ evidence: RideCodeEvidence?, decision: Decision = .open(.ok))
        -> JournalEntry
    {
        JournalEntry(
            sequence: seq, wallMillis: 1_767_300_000_000 + Int64(seq), reader: 1,
            key: evidence?.cardKey ?? CardKey(medium: .transitCard, identifier: seq)!, kind: .decision,
            decision: decision, balanceFen: nil, dataVersion: 1, timings: StageTimings(),
            rideCode: decision.outcome == .open ? evidence : nil)
    }

    func expect<T: Equatable>(_ got: T, _ want: T, _ what: String, line: UInt = #line) throws {
        guard got == want else { throw ScenarioFailure("\(what): got \(got), want \(want)", line) }
    }

    public func evidenceIsStoredAndMarkedForClearing() throws {
        let store = try makeStore()
        let shanghai = Self.evidence(.shanghai, account: 77, counter: 5)
        let alipay = Self.evidence(.alipay, account: 4242, counter: 9)
        let hohhot = Self.evidence(.hohhot, account: (1 << 52) - 1, counter: .max)
        let entries = [
            Self.entry(1, shanghai), Self.entry(2, nil), Self.entry(3, alipay),
            Self.entry(4, Self.evidence(.shanghai, account: 77, counter: 5), decision: .deny(.rideCodeReused)),
            Self.entry(5, hohhot),
        ]
        try store.uploadJournal(gate: "QR-1", entries: entries)
        // Uploaded again (a retry after a lost answer): no second row.
        try store.uploadJournal(gate: "QR-1", entries: entries)
        try store.uploadJournal(gate: "QR-2", entries: [Self.entry(1, Self.evidence(.tianjin, account: 1, counter: 1))])

        let all = try store.rideCodeRides(issuer: nil, clearingOnly: false)
        try expect(all.map { "\($0.gate)/\($0.sequence)" }, ["QR-1/1", "QR-1/3", "QR-1/5", "QR-2/1"], "passages only")
        try expect(all.first?.evidence, shanghai, "the evidence, field for field")
        try expect(all.first?.wallMillis, entries[0].wallMillis, "when")
        try expect(all.first { $0.sequence == 5 }?.evidence, hohhot, "edge values")
        try expect(all.first { $0.sequence == 3 }?.evidence.clearing, false, "a Beijing issuer is not cleared")

        let clearing = try store.rideCodeRides(issuer: nil, clearingOnly: true)
        try expect(clearing.map { "\($0.gate)/\($0.sequence)" }, ["QR-1/1", "QR-1/5", "QR-2/1"], "to clear")
        let batches = RideCodeClearingBatch.grouped(clearing)
        try expect(batches.map(\.issuer), [16, 17, 19], "per issuer")
        try expect(batches.map(\.rides.count), [1, 1, 1], "rides per issuer")
        try expect(batches.first?.issuerName, "shanghai", "named")
        try expect(
            try store.rideCodeRides(issuer: RideCodeIssuer.alipay.rawValue, clearingOnly: false).map(\.sequence), [3],
            "one issuer")
        try expect(try store.rideCodeRides(issuer: 2, clearingOnly: true).count, 0, "alipay has nothing to clear")
        try expect(try store.acknowledgedSequence(gate: "QR-1"), 5, "the records themselves are stored")
    }
}
