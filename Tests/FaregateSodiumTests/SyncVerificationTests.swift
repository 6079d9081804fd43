import FaregateCore
import FaregateSodium
import XCTest

func hex(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    var i = s.startIndex
    while i < s.endIndex {
        let j = s.index(i, offsetBy: 2)
        out.append(UInt8(s[i..<j], radix: 16) ?? 0)
        i = j
    }
    return out
}

extension SyncScope {
    /// The scope the tests' gates serve.
    static var production: SyncScope { get throws { try SyncScope(network: "metro", environment: "production") } }
    static var staging: SyncScope { get throws { try SyncScope(network: "metro", environment: "staging") } }
}

/// libsodium primitives against published vectors, and every rejection case of the verifier.
final class SyncVerificationTests: XCTestCase {
    func testSHA256MatchesFIPS180Vector() {
        XCTAssertEqual(
            SodiumSHA256().sha256(Array("abc".utf8)),
            hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))
        XCTAssertEqual(
            SodiumSHA256().sha256([]), hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"))
    }

    func testEd25519MatchesRFC8032TestVector1() throws {
        let seed = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
        let pk = hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        let keys = try Ed25519KeyPair(secretKey: seed + pk)
        XCTAssertEqual(keys.publicKey, pk)
        let sig = keys.signature(of: [])
        XCTAssertEqual(
            sig,
            hex(
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
            ))
        XCTAssertTrue(try Ed25519Verifier(publicKey: pk).isValidSignature(sig, of: []))
        XCTAssertFalse(try Ed25519Verifier(publicKey: pk).isValidSignature(sig, of: [0]))
        XCTAssertThrowsError(try Ed25519KeyPair(secretKey: seed + hex(String(repeating: "00", count: 32))))
        XCTAssertThrowsError(try Ed25519Verifier(publicKey: [1, 2, 3]))
    }

    func testIdentityHashIsKeyedAndNormalised() throws {
        let k1 = try IdentityHasher.generateKey()
        let k2 = try IdentityHasher.generateKey()
        XCTAssertNotEqual(k1, k2)
        let h1 = try IdentityHasher(key: k1)
        XCTAssertEqual(h1.hash(idNumber: "11010519491231002x"), h1.hash(idNumber: " 11010519491231002X\n"))
        XCTAssertNotEqual(
            h1.hash(idNumber: "11010519491231002X"), try IdentityHasher(key: k2).hash(idNumber: "11010519491231002X"))
        XCTAssertNotEqual(h1.hash(idNumber: "110105194912310021"), h1.hash(idNumber: "110105194912310022"))
        XCTAssertEqual(h1.hash(idNumber: "1").count, 32)
        XCTAssertThrowsError(try IdentityHasher(key: [1]))
    }

    // MARK: manifest verification

    let central = try? Ed25519KeyPair()

    func publication(
        kind: SyncManifest.Kind = .delta, from: UInt64 = 5, to: UInt64 = 6, scope: SyncScope? = nil,
        signer: Ed25519KeyPair? = nil
    ) throws -> ([UInt8], [UInt8]) {
        let keys = try XCTUnwrap(signer ?? central)
        let body = DeltaBody(
            fromVersion: from, toVersion: to,
            entries: [
                .init(key: CardKey(rawValue: 1), operation: .upsert(CardStatus(health: .red, binding: .bound))),
                .init(key: CardKey(rawValue: 9), operation: .remove),
            ]
        ).encoded()
        let manifest = SyncManifest(
            kind: kind, fromVersion: kind == .snapshot ? 0 : from, toVersion: to, bodySize: UInt64(body.count),
            bodySHA256: SodiumSHA256().sha256(body), scope: try scope ?? .production)
        return (manifest.sealed(by: keys), body)
    }

    func verifier() throws -> SyncVerifier {
        try SyncVerifier(pinnedPublicKey: try XCTUnwrap(central).publicKey, scope: .production)
    }

    func assertRejected(
        _ code: SyncVerificationError.Code, envelope: [UInt8], body: [UInt8], inService: UInt64? = 5,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        XCTAssertThrowsError(
            try verifier().verify(envelope: envelope, body: body, versionInService: inService), file: file, line: line
        ) {
            XCTAssertEqual(($0 as? SyncVerificationError)?.code, code, "\($0)", file: file, line: line)
        }
    }

    func testValidDeltaIsAcceptedAndDecodes() throws {
        let (envelope, body) = try publication()
        let manifest = try verifier().verify(envelope: envelope, body: body, versionInService: 5, expecting: .delta)
        XCTAssertEqual(manifest.toVersion, 6)
        let delta = try DeltaBody(decoding: body, verifiedBy: manifest)
        XCTAssertEqual(delta.entries.count, 2)
        XCTAssertEqual(delta.entries[1], .init(key: CardKey(rawValue: 9), operation: .remove))
    }

    func testTamperedBodyIsRejected() throws {
        var (envelope, body) = try publication()
        body[body.count - 1] ^= 0x01
        try assertRejected(.hashMismatch, envelope: envelope, body: body)
        envelope[SyncManifest.encodedSize - 1] ^= 0x01  // a matching edit of the hash breaks the signature
        try assertRejected(.badSignature, envelope: envelope, body: body)
    }

    func testTruncatedBodyIsRejected() throws {
        let (envelope, body) = try publication()
        try assertRejected(.sizeMismatch, envelope: envelope, body: Array(body.dropLast()))
        try assertRejected(.sizeMismatch, envelope: envelope, body: body + [0])
    }

    func testTamperedManifestIsRejected() throws {
        var (envelope, body) = try publication()
        envelope[14] ^= 0x01  // toVersion
        try assertRejected(.badSignature, envelope: envelope, body: body)
    }

    func testTruncatedManifestIsRejected() throws {
        let (envelope, body) = try publication()
        try assertRejected(.malformed, envelope: Array(envelope.dropLast()), body: body)
    }

    func testWronglySignedIsRejected() throws {
        let (envelope, body) = try publication()
        let impostor = try Ed25519KeyPair()
        let forged =
            Array(envelope[0..<SyncManifest.encodedSize])
            + impostor.signature(of: Array(envelope[0..<SyncManifest.encodedSize]))
        try assertRejected(.badSignature, envelope: forged, body: body)
    }

    func testRolledBackOrReplayedIsRejected() throws {
        let (envelope, body) = try publication(from: 5, to: 6)
        try assertRejected(.rolledBack, envelope: envelope, body: body, inService: 6)  // replay
        try assertRejected(.rolledBack, envelope: envelope, body: body, inService: 9)  // older
        let (snap, snapBody) = try publication(kind: .snapshot, to: 4)
        try assertRejected(.rolledBack, envelope: snap, body: snapBody, inService: 5)
    }

    func testDeltaNotStartingAtVersionInServiceIsRejected() throws {
        let (envelope, body) = try publication(from: 3, to: 6)
        try assertRejected(.notApplicable, envelope: envelope, body: body, inService: 5)
        try assertRejected(.notApplicable, envelope: envelope, body: body, inService: nil)
    }

    func testWrongKindIsRejected() throws {
        let (envelope, body) = try publication(kind: .snapshot, to: 6)
        XCTAssertThrowsError(
            try verifier().verify(envelope: envelope, body: body, versionInService: 5, expecting: .delta)
        ) {
            XCTAssertEqual(($0 as? SyncVerificationError)?.code, .wrongKind)
        }
        // A snapshot is fine for a gate without a table.
        XCTAssertEqual(try verifier().verify(envelope: envelope, body: body, versionInService: nil).kind, .snapshot)
    }

    func testPublicationForAnotherEnvironmentOrNetworkIsRejected() throws {
        // Signed with the production key, but for staging (one key used for both): refused.
        let (staging, body) = try publication(scope: .staging)
        try assertRejected(.wrongScope, envelope: staging, body: body)
        let (otherNetwork, body2) = try publication(scope: SyncScope(network: "tram", environment: "production"))
        try assertRejected(.wrongScope, envelope: otherNetwork, body: body2)
        XCTAssertThrowsError(try SyncScope(network: "", environment: "production"))
        XCTAssertThrowsError(try SyncScope(network: "metro", environment: String(repeating: "x", count: 17)))
        XCTAssertThrowsError(try SyncScope(network: "me\u{0}tro", environment: "production"))
    }

    func testVersionsPastTwoToTheSixtyThreeAreMalformedNotATrap() throws {
        // Genuinely signed by the central key, version 2^64 − 1 (issue 16: it trapped the sync).
        for to in [UInt64.max, UInt64(Int64.max) + 1] {
            let (envelope, body) = try publication(kind: .snapshot, from: 0, to: to)
            try assertRejected(.malformed, envelope: envelope, body: body, inService: nil)
            try assertRejected(.malformed, envelope: envelope, body: body, inService: 5)
        }
        let (envelope, body) = try publication(kind: .snapshot, from: 0, to: UInt64(Int64.max))
        XCTAssertEqual(
            try verifier().verify(envelope: envelope, body: body, versionInService: nil).toVersion, UInt64(Int64.max))
        XCTAssertThrowsError(try DeltaBody(decoding: DeltaBody(fromVersion: 0, toVersion: .max, entries: []).encoded()))
        {
            XCTAssertEqual(($0 as? SyncVerificationError)?.code, .malformed)
        }
        var header = StatusSnapshot.encode(CompactStatusTable(dataVersion: 1, entries: [:]))
        for i in 16..<24 { header[i] = 0xFF }
        XCTAssertThrowsError(try StatusSnapshot.decode(header))
    }

    func testSignedBundleBuildsTheTableAndRefusesWhatDoesNotVerify() throws {
        let keys = try XCTUnwrap(central)
        let digest = SodiumSHA256()
        let a = CardKey(rawValue: 1)
        let b = CardKey(rawValue: 2)
        let green = CardStatus(health: .green, binding: .bound)
        let red = CardStatus(health: .red, binding: .bound)
        let snapshot = SignedPublication(
            kind: .snapshot, from: 0, to: 3,
            body: SyncPublisher.deltaFormatSnapshot([(a, green), (b, green)], 3), scope: try .production,
            signer: keys, digest: digest)
        let delta = SignedPublication(
            kind: .delta, from: 3, to: 4,
            body: DeltaBody(fromVersion: 3, toVersion: 4, entries: [.init(key: b, operation: .upsert(red))]).encoded(),
            scope: try .production, signer: keys, digest: digest)
        let bytes = SignedBundle([snapshot, delta]).encoded()
        let (table, basis) = try verifier().table(from: SignedBundle(decoding: bytes), versionInService: 2)
        XCTAssertEqual(table.dataVersion, 4)
        XCTAssertEqual(table.status(of: a), green)
        XCTAssertEqual(table.status(of: b), red)
        XCTAssertEqual(basis.deltas.count, 1)

        func refused(_ bytes: [UInt8], inService: UInt64? = nil, _ why: String) -> SyncVerificationError.Code? {
            do {
                _ = try verifier().table(from: SignedBundle(decoding: bytes), versionInService: inService)
                XCTFail("\(why) was accepted")
                return nil
            } catch let e as SyncVerificationError { return e.code } catch {
                XCTFail("\(why): \(error)")
                return nil
            }
        }
        XCTAssertEqual(refused(bytes, inService: 5, "an older bundle"), .rolledBack)
        XCTAssertEqual(refused(StatusSnapshot.encode(table), "an unsigned status snapshot"), .malformed)
        XCTAssertEqual(refused(Array(bytes.dropLast()), "a truncated bundle"), .sizeMismatch)
        XCTAssertEqual(refused(bytes + [0], "a padded bundle"), .malformed)
        XCTAssertEqual(refused(SignedBundle([delta]).encoded(), "deltas without a snapshot"), .wrongKind)
        XCTAssertEqual(refused(SignedBundle([]).encoded(), "an empty bundle"), .malformed)
        let foreign = SignedPublication(
            kind: .snapshot, from: 0, to: 1_000_000_000_000_000_000,
            body: SyncPublisher.deltaFormatSnapshot([(a, green)], 1_000_000_000_000_000_000), scope: try .production,
            signer: try Ed25519KeyPair(), digest: digest)
        XCTAssertEqual(refused(SignedBundle([foreign]).encoded(), "a foreign key's bundle"), .badSignature)
        let staging = SignedPublication(
            kind: .snapshot, from: 0, to: 3, body: snapshot.body, scope: try .staging, signer: keys, digest: digest)
        XCTAssertEqual(refused(SignedBundle([staging]).encoded(), "a staging bundle"), .wrongScope)
        // A delta in the chain signed by someone else: the whole bundle is refused.
        let forgedDelta = SignedPublication(
            kind: .delta, from: 3, to: 4, body: delta.body, scope: try .production, signer: try Ed25519KeyPair(),
            digest: digest)
        XCTAssertEqual(refused(SignedBundle([snapshot, forgedDelta]).encoded(), "a forged delta"), .badSignature)
    }

    func testDeltaBodyWhoseVersionsDisagreeWithManifestIsRejected() throws {
        let (envelope, body) = try publication(from: 5, to: 6)
        let manifest = try verifier().verify(envelope: envelope, body: body, versionInService: 5)
        let other = DeltaBody(fromVersion: 5, toVersion: 7, entries: []).encoded()
        XCTAssertThrowsError(try DeltaBody(decoding: other, verifiedBy: manifest)) {
            XCTAssertEqual(($0 as? SyncVerificationError)?.code, .malformed)
        }
    }
}

/// The publisher's snapshot and delta, verified and applied the way a gate does. The publisher only
/// reads through `CentralAdminStore`; the real stores' change feeds are tested in their own suites.
final class SyncPublisherTests: XCTestCase {
    func testSnapshotThenDeltaVerifyAndApplyToTheCentralTable() throws {
        let keys = try Ed25519KeyPair()
        let verifier = try SyncVerifier(pinnedPublicKey: keys.publicKey, scope: .production)
        let scope = try SyncScope.production
        let store = MemoryCentralStore()
        store.set(CardKey(rawValue: 1), CardStatus(health: .green, binding: .bound))
        store.set(CardKey(rawValue: 2), CardStatus(health: .unknown, binding: .unbound))
        let snap = try SyncPublisher.snapshot(from: store, scope: scope, signer: keys, digest: SodiumSHA256())
        let sm = try verifier.verify(
            envelope: snap.envelope, body: snap.body, versionInService: nil, expecting: .snapshot)
        var table: [CardKey: CardStatus] = [:]
        try DeltaBody(decoding: snap.body).apply(to: &table)
        XCTAssertEqual(table, store.table)

        store.set(CardKey(rawValue: 1), CardStatus(health: .red, binding: .bound))
        store.set(CardKey(rawValue: 3), CardStatus(health: .yellow, binding: .bound))
        let delta = try XCTUnwrap(
            try SyncPublisher.delta(
                from: store, after: sm.toVersion, maxChanges: 10, scope: scope, signer: keys, digest: SodiumSHA256()))
        let dm = try verifier.verify(envelope: delta.envelope, body: delta.body, versionInService: sm.toVersion)
        try DeltaBody(decoding: delta.body, verifiedBy: dm).apply(to: &table)
        XCTAssertEqual(table, store.table)
        XCTAssertNil(
            try SyncPublisher.delta(
                from: store, after: dm.toVersion, maxChanges: 10, scope: scope, signer: keys, digest: SodiumSHA256()))
        XCTAssertNil(
            try SyncPublisher.delta(
                from: store, after: 0, maxChanges: 1, scope: scope, signer: keys, digest: SodiumSHA256()),
            "too far behind")
    }
}

/// A minimal in-memory `CentralAdminStore` for the publisher test: each `set` publishes one version.
final class MemoryCentralStore: CentralAdminStore {
    var table: [CardKey: CardStatus] = [:]
    var log: [CardChange] = []
    var version: UInt64 = 0

    func set(_ k: CardKey, _ s: CardStatus) {
        version += 1
        table[k] = s
        log.append(CardChange(version: version, key: k, status: s))
    }

    func dataVersion() throws(CentralStoreError) -> UInt64 { version }
    func forEachStatus(_ body: (CardKey, CardStatus) -> Void) throws(CentralStoreError) -> UInt64 {
        for (k, s) in table { body(k, s) }
        return version
    }
    func uploadJournal(gate: String, entries: [JournalEntry]) throws(CentralStoreError) {}
    func uploadSignedJournal(_ batch: SignedJournalBatch) throws(CentralStoreError) {}
    func acknowledgedSequence(gate: String) throws(CentralStoreError) -> UInt64 { 0 }
    func recordHoles(gate: String, ranges: [ClosedRange<UInt64>], reason: String) throws(CentralStoreError) {}
    func highestSequence(gate: String) throws(CentralStoreError) -> UInt64 { 0 }
    func insertCards(_ cards: some Sequence<CentralCardRecord>, wallMillis: Int64) throws(CentralStoreError) {}
    func bind(_ key: CardKey, identityHash: [UInt8], wallMillis: Int64) throws(CentralStoreError) {}
    func setHealth(of key: CardKey, to health: HealthStatus, wallMillis: Int64) throws(CentralStoreError) -> Int { 0 }
    func setHealth(identityHash: [UInt8], to health: HealthStatus, wallMillis: Int64) throws(CentralStoreError) -> Int {
        0
    }
    func publish(wallMillis: Int64) throws(CentralStoreError) -> PublishResult {
        PublishResult(version: version, cards: 0)
    }
    func changes(after v: UInt64, maxChanges: Int) throws(CentralStoreError) -> ChangeSet? {
        let rows = log.filter { $0.version > v }
        return rows.count > maxChanges ? nil : ChangeSet(fromVersion: v, toVersion: version, changes: rows)
    }
    func recordSync(gate: String, dataVersion: UInt64, wallMillis: Int64) throws(CentralStoreError) {}
    func gateStates() throws(CentralStoreError) -> [GateSyncState] { [] }
}

/// Central's timestamp statement (issue 16, part 1) at the gate: signature, scope, skew bound,
/// expiry, and a version past 2^63.
final class SyncTimestampTests: XCTestCase {
    func testStatementsAreVerifiedAgainstKeyScopeAndTheGatesClock() throws {
        let keys = try Ed25519KeyPair()
        let verifier = try SyncVerifier(pinnedPublicKey: keys.publicKey, scope: .production)
        let now: Int64 = 1_800_000_000_000
        func statement(issued: Int64, expires: Int64, scope: SyncScope? = nil, version: UInt64 = 7) throws -> [UInt8] {
            SyncTimestamp(
                scope: try scope ?? .production, version: version, issuedAtMillis: issued, expiresAtMillis: expires
            ).sealed(by: keys)
        }
        func code(_ sealed: [UInt8], at t: Int64 = now) -> SyncVerificationError.Code? {
            do {
                _ = try verifier.verifyTimestamp(sealed, nowMillis: t)
                return nil
            } catch { return error.code }
        }
        let good = try statement(issued: now - 1000, expires: now + 299_000)
        XCTAssertEqual(try verifier.verifyTimestamp(good, nowMillis: now).version, 7)
        XCTAssertEqual(try verifier.verifyTimestamp(good, nowMillis: now).issuedAtMillis, now - 1000)
        // Within the skew bound either way: believed.
        XCTAssertNil(code(try statement(issued: now + 29_000, expires: now + 300_000)))
        XCTAssertNil(code(good, at: now + 299_000 + 29_000))
        // Past it: refused.
        XCTAssertEqual(code(try statement(issued: now + 31_000, expires: now + 300_000)), .outOfDate)
        XCTAssertEqual(code(good, at: now + 299_000 + 31_000), .outOfDate)
        XCTAssertNoThrow(try verifier.verifyTimestamp(good, nowMillis: now + 10_000_000, checkExpiry: false))
        XCTAssertEqual(code(try statement(issued: now, expires: now + 1, scope: .staging)), .wrongScope)
        XCTAssertEqual(code(try statement(issued: now, expires: now - 1)), .malformed)
        XCTAssertEqual(code(try statement(issued: now, expires: now + 1, version: .max)), .malformed)
        var forged = good
        forged[60] ^= 1  // the version's top byte
        XCTAssertEqual(code(forged), .badSignature)
        XCTAssertEqual(code(Array(good.dropLast())), .malformed)
        // Extremes of the clock do not trap.
        XCTAssertNotNil(code(good, at: .max))
        XCTAssertNotNil(code(good, at: .min))
        // A manifest's bytes never pass for a statement (different magic, same key).
        XCTAssertEqual(code(Array(repeating: 0, count: SyncTimestamp.sealedSize)), .badSignature)
    }
}
