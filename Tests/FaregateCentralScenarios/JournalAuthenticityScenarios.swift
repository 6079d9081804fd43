import FaregateCore
import Foundation

/// Journal authenticity on the central side (issue 16.5), run against a real store by the SQLite
/// and PostgreSQL suites with real Ed25519 gate keys: a signed batch is stored byte for byte; a
/// bad signature, an unregistered or revoked key, a broken chain and an unsigned upload for a
/// keyed gate are refused, recorded for an operator and never acknowledged; a conflicting record
/// is flagged and not acknowledged; lines a gate reports it did not write are flagged.
public struct JournalAuthenticityScenarios {
    public typealias Store = CentralStore & JournalReviewStore & GateKeyStore
    let makeStore: () throws -> any Store
    let makeKey: () throws -> any JournalBatchSigner

    public init(
        makeStore: @escaping () throws -> any Store, makeKey: @escaping () throws -> any JournalBatchSigner
    ) {
        self.makeStore = makeStore
        self.makeKey = makeKey
    }

    func expect<T: Equatable>(_ got: T, _ want: T, _ what: String, line: UInt = #line) throws {
        guard got == want else { throw ScenarioFailure("\(what): got \(got), want \(want)", line) }
    }

    /// J2 lines for `range`, chained from `previous`, MAC'd by `key`; and the last chain value.
    public static func lines(
        _ range: ClosedRange<UInt64>, key: any JournalBatchSigner, previous: JournalChainValue = .zero,
        reader: UInt16 = 0
    ) -> (lines: [String], chain: JournalChainValue) {
        var chain = previous
        var out: [String] = []
        for seq in range {
            let (line, next) = JournalCodec.encode(
                JournalExactlyOnceScenarios.entry(seq, reader: reader), previous: chain, authenticator: key)
            out.append(line)
            chain = next
        }
        return (out, chain)
    }

    func batch(
        _ gate: String, _ lines: [String], holes: [ClosedRange<UInt64>] = [], rejected: [String] = [],
        key: any JournalBatchSigner
    ) throws -> SignedJournalBatch {
        guard let b = SignedJournalBatch(gate: gate, lines: lines, holes: holes, rejected: rejected, signer: key) else {
            throw ScenarioFailure("batch not built", #line)
        }
        return b
    }

    /// Expects `body` to be refused (a `.refused` store error), and a refusal with `code` listed.
    func expectRefused(
        _ store: any Store, gate: String, code: JournalBatchRefusal.Code, line: UInt = #line,
        _ body: () throws -> Void
    ) throws {
        do {
            try body()
            throw ScenarioFailure("accepted; want refused (\(code.rawValue))", line)
        } catch let e as CentralStoreError {
            try expect(e.code, .refused, "error code", line: line)
        }
        let codes = try store.journalRefusals(gate: gate).map(\.code)
        guard codes.contains(code.rawValue) else {
            throw ScenarioFailure("refusals \(codes) lack \(code.rawValue)", line)
        }
    }

    /// Stored as the gate wrote them, byte for byte; the first signed batch enrols the key of a
    /// gate that has none; holes in the batch count; a repeated batch is idempotent.
    public func signedBatchIsStoredByteForByte() throws {
        let store = try makeStore()
        let key = try makeKey()
        let (lines, _) = Self.lines(1...3, key: key)
        let (later, _) = Self.lines(6...6, key: key)
        let b = try batch("G1", lines + later, holes: [4...5], key: key)
        try store.uploadSignedJournal(b)
        try store.uploadSignedJournal(b)
        try expect(try store.acknowledgedSequence(gate: "G1"), 6, "records and holes acknowledged")
        for (i, line) in lines.enumerated() {
            try expect(try store.storedRecord(gate: "G1", sequence: UInt64(i + 1)), line, "original bytes of \(i + 1)")
        }
        try expect(try store.journalHoles(gate: "G1").map(\.sequence), [4, 5], "the signed holes")
        try expect(try store.gateKeys(gate: "G1").map(\.origin), ["first_use"], "enrolled on first use")
        try expect(try store.journalConflicts(gate: "G1").count, 0, "a repeat is no conflict")
        try expect(try store.journalRefusals(gate: "G1").count, 0, "nothing refused")
    }

    /// A line edited after signing (or any byte of the batch) breaks the signature: refused,
    /// flagged, nothing stored or acknowledged.
    public func badSignatureIsRefusedAndFlagged() throws {
        let store = try makeStore()
        let key = try makeKey()
        try store.addGateKey(gate: "G1", publicKey: key.publicKey)
        var b = try batch("G1", Self.lines(1...2, key: key).lines, key: key)
        b.lines[1] = b.lines[1].replacingFirst("\tdecision\topen\t", with: "\tdecision\tdeny\t")
        try expectRefused(store, gate: "G1", code: .badSignature) { try store.uploadSignedJournal(b) }
        try expect(try store.acknowledgedSequence(gate: "G1"), 0, "nothing acknowledged")
        try expect(try store.storedRecord(gate: "G1", sequence: 1), nil, "nothing stored")
    }

    /// A key registered for no gate, or for another gate, or revoked: refused and flagged.
    public func unregisteredAndRevokedKeysAreRefused() throws {
        let store = try makeStore()
        let registered = try makeKey()
        let stranger = try makeKey()
        try store.addGateKey(gate: "G1", publicKey: registered.publicKey)
        let strange = try batch("G1", Self.lines(1...1, key: stranger).lines, key: stranger)
        try expectRefused(store, gate: "G1", code: .unregisteredKey) { try store.uploadSignedJournal(strange) }
        // G1's key offered by another gate (with no key of its own): never enrolled for it.
        let borrowed = try batch("G2", Self.lines(1...1, key: registered).lines, key: registered)
        try expectRefused(store, gate: "G2", code: .unregisteredKey) { try store.uploadSignedJournal(borrowed) }
        try store.uploadSignedJournal(try batch("G1", Self.lines(1...1, key: registered).lines, key: registered))
        try expect(try store.acknowledgedSequence(gate: "G1"), 1, "the registered key's batch")
        try store.revokeGateKey(gate: "G1", publicKey: registered.publicKey)
        let (after, _) = Self.lines(2...2, key: registered)
        try expectRefused(store, gate: "G1", code: .revokedKey) {
            try store.uploadSignedJournal(try batch("G1", after, key: registered))
        }
        try expect(try store.acknowledgedSequence(gate: "G1"), 1, "not past the revoked key's batch")
        try expect(try store.gateKeys(gate: "G1").map(\.state), ["revoked"], "listed revoked")
        var refusedAgain = false
        do { try store.addGateKey(gate: "G1", publicKey: registered.publicKey) } catch { refusedAgain = true }
        try expect(refusedAgain, true, "a revoked key stays revoked")
    }

    /// A line whose `prev` is not the chain value of the line before it (stored, or in the batch)
    /// is refused even when the batch is validly signed.
    public func chainDiscontinuityIsRefused() throws {
        let store = try makeStore()
        let key = try makeKey()
        let (first, chain) = Self.lines(1...3, key: key)
        try store.uploadSignedJournal(try batch("G1", first, key: key))
        let (wrong, _) = Self.lines(4...5, key: key, previous: JournalChainValue(high: 1, low: 2))
        try expectRefused(store, gate: "G1", code: .chainBroken) {
            try store.uploadSignedJournal(try batch("G1", wrong, key: key))
        }
        // Inside one batch: line 5 chained to something else than line 4.
        let (four, _) = Self.lines(4...4, key: key, previous: chain)
        let (five, _) = Self.lines(5...5, key: key, previous: chain)
        try expectRefused(store, gate: "G1", code: .chainBroken) {
            try store.uploadSignedJournal(try batch("G1", four + five, key: key))
        }
        try expect(try store.acknowledgedSequence(gate: "G1"), 3, "nothing after the break")
        let (good, _) = Self.lines(4...5, key: key, previous: chain)
        try store.uploadSignedJournal(try batch("G1", good, key: key))
        try expect(try store.acknowledgedSequence(gate: "G1"), 5, "the continuing batch")
    }

    /// A signed record different from the one held for its sequence: flagged with both, the
    /// first kept, never acknowledged.
    public func conflictingSignedDuplicateIsFlagged() throws {
        let store = try makeStore()
        let key = try makeKey()
        let (lines, _) = Self.lines(1...3, key: key)
        try store.uploadSignedJournal(try batch("G1", lines, key: key))
        let (one, c1) = Self.lines(1...1, key: key)
        let (other, _) = Self.lines(2...2, key: key, previous: c1, reader: 7)
        try store.uploadSignedJournal(try batch("G1", one + other, key: key))
        let conflicts = try store.journalConflicts(gate: "G1")
        try expect(conflicts.map(\.sequence), [2], "flagged")
        try expect(conflicts.first?.offeredRecord, other.first, "the offered bytes")
        try expect(try store.storedRecord(gate: "G1", sequence: 2), lines[1], "the first kept")
        try expect(try store.acknowledgedSequence(gate: "G1"), 1, "never acknowledged")
    }

    /// Once a gate has a key, an unsigned upload for it is refused and flagged; lines the gate
    /// reports it did not write are flagged and never records.
    public func unsignedUploadsAndRejectedLinesAreFlagged() throws {
        let store = try makeStore()
        let key = try makeKey()
        try store.addGateKey(gate: "G1", publicKey: key.publicKey)
        try expectRefused(store, gate: "G1", code: .unsigned) {
            try store.uploadJournal(gate: "G1", entries: [JournalExactlyOnceScenarios.entry(1)])
        }
        try expectRefused(store, gate: "G1", code: .unsigned) {
            try store.recordHoles(gate: "G1", ranges: [1...1], reason: "x")
        }
        try expect(try store.acknowledgedSequence(gate: "G1"), 0, "nothing acknowledged")
        let forged = JournalCodec.encode(JournalExactlyOnceScenarios.entry(9))
        try store.uploadSignedJournal(try batch("G1", [], rejected: [forged], key: key))
        let flagged = try store.journalRefusals(gate: "G1").filter { $0.code == JournalRefusal.lineNotAuthentic }
        try expect(flagged.map(\.sample), [forged], "the forged line, as the gate found it")
        try expect(try store.storedRecord(gate: "G1", sequence: 9), nil, "never a record")
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let r = range(of: target) else { return self }
        return replacingCharacters(in: r, with: replacement)
    }
}
