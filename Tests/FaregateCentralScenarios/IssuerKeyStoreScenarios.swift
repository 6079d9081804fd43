import FaregateCore

/// What every `IssuerKeyStore` does (issue 17.3), run by the SQLite and PostgreSQL suites on a
/// fresh store: keys added once per (issuer, key id) and listed in order, revoked (idempotently),
/// signed as documents whose versions only grow, and the signed document verifies with the keys
/// and revoked flags the table holds.
public enum IssuerKeyStoreScenarios {
    public static let ed = RideCodeIssuerKey(
        issuer: .alipay, keyID: 7, algorithm: .ed25519, publicKey: [UInt8](repeating: 0x11, count: 32),
        validFrom: 1_700_000_000, validUntil: 1_900_000_000)
    public static let sm2 = RideCodeIssuerKey(
        issuer: .transitApp, keyID: 3, algorithm: .sm2, publicKey: [0x04] + [UInt8](repeating: 0x22, count: 64),
        validFrom: 1_700_000_000, validUntil: 1_900_000_000)

    public static func run(_ store: some IssuerKeyStore, signer: some ManifestSigner, verifier: SyncVerifier) throws {
        func expect(_ ok: Bool, _ what: String, _ line: UInt = #line) throws {
            if !ok { throw ScenarioFailure(what, line) }
        }
        func refused(_ body: () throws -> Void) -> Bool {
            do {
                try body()
                return false
            } catch let e as CentralStoreError { return e.code == .refused } catch { return false }
        }
        try expect(try store.issuerKeys().isEmpty, "a new store has no issuer key")
        try expect(try store.latestIssuerKeyDocument() == nil, "and no document")
        try store.addIssuerKey(ed, wallMillis: 1)
        try store.addIssuerKey(sm2, wallMillis: 2)
        var other = ed
        other.publicKey = [UInt8](repeating: 0x33, count: 32)
        try expect(refused { try store.addIssuerKey(other, wallMillis: 3) }, "a key id is never reused")
        try expect(try store.issuerKeys() == [sm2, ed], "listed in (issuer, key id) order, as added")

        let now: Int64 = 1_780_000_000_000
        let v1 = try SyncPublisher.storeIssuerKeys(
            in: store, scope: verifier.scope, signer: signer, nowMillis: now, validForMillis: 3_600_000)
        try expect(v1.version == 1, "the first document is version 1")
        guard let stored1 = try store.latestIssuerKeyDocument() else { throw ScenarioFailure("no stored document") }
        let d1 = try verifier.verifyIssuerKeys(stored1.sealed, nowMillis: now, held: nil)
        try expect(d1.keys.keys.count == 2 && d1.keys.keys.allSatisfy { !$0.revoked }, "both keys, none revoked")

        try expect(try store.revokeIssuerKey(issuer: 2, keyID: 7, wallMillis: 4), "revoked")
        try expect(try store.revokeIssuerKey(issuer: 2, keyID: 7, wallMillis: 5), "revoking again is harmless")
        try expect(!(try store.revokeIssuerKey(issuer: 2, keyID: 8, wallMillis: 5)), "no such key")
        var revoked = ed
        revoked.revoked = true
        try expect(try store.issuerKeys() == [sm2, revoked], "the revoked key stays listed, revoked")

        let v2 = try SyncPublisher.storeIssuerKeys(
            in: store, scope: verifier.scope, signer: signer, nowMillis: now + 1, validForMillis: 3_600_000)
        try expect(v2.version == 2, "the next document is the next version")
        guard let stored2 = try store.latestIssuerKeyDocument() else { throw ScenarioFailure("no stored document") }
        try expect(stored2.version == 2, "the newest is stored")
        let d2 = try verifier.verifyIssuerKeys(stored2.sealed, nowMillis: now, held: d1)
        try expect(d2.keys.key(issuer: 2, keyID: 7)?.revoked == true, "the signed document says revoked")
        try expect(
            refused { try store.storeIssuerKeyDocument(version: 1, sealed: stored1.sealed) },
            "an older document does not replace the newer")
        try expect(try store.latestIssuerKeyDocument()?.version == 2, "still version 2")
    }
}
