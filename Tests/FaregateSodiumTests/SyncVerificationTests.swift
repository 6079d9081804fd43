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

    func publication(kind: SyncManifest.Kind = .delta, from: UInt64 = 5, to: UInt64 = 6) throws -> ([UInt8], [UInt8]) {
        let keys = try XCTUnwrap(central)
        let body = DeltaBody(
            fromVersion: from, toVersion: to,
            entries: [
                .init(key: CardKey(rawValue: 1), operation: .upsert(CardStatus(health: .red, binding: .bound))),
                .init(key: CardKey(rawValue: 9), operation: .remove),
            ]
        ).encoded()
        let manifest = SyncManifest(
            kind: kind, fromVersion: kind == .snapshot ? 0 : from, toVersion: to, bodySize: UInt64(body.count),
            bodySHA256: SodiumSHA256().sha256(body))
        return (manifest.sealed(by: keys), body)
    }

    func verifier() throws -> SyncVerifier { try SyncVerifier(pinnedPublicKey: try XCTUnwrap(central).publicKey) }

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
        let verifier = try SyncVerifier(pinnedPublicKey: keys.publicKey)
        let store = MemoryCentralStore()
        store.set(CardKey(rawValue: 1), CardStatus(health: .green, binding: .bound))
        store.set(CardKey(rawValue: 2), CardStatus(health: .unknown, binding: .unbound))
        let snap = try SyncPublisher.snapshot(from: store, signer: keys, digest: SodiumSHA256())
        let sm = try verifier.verify(
            envelope: snap.envelope, body: snap.body, versionInService: nil, expecting: .snapshot)
        var table: [CardKey: CardStatus] = [:]
        try DeltaBody(decoding: snap.body).apply(to: &table)
        XCTAssertEqual(table, store.table)

        store.set(CardKey(rawValue: 1), CardStatus(health: .red, binding: .bound))
        store.set(CardKey(rawValue: 3), CardStatus(health: .yellow, binding: .bound))
        let delta = try XCTUnwrap(
            try SyncPublisher.delta(
                from: store, after: sm.toVersion, maxChanges: 10, signer: keys, digest: SodiumSHA256()))
        let dm = try verifier.verify(envelope: delta.envelope, body: delta.body, versionInService: sm.toVersion)
        try DeltaBody(decoding: delta.body, verifiedBy: dm).apply(to: &table)
        XCTAssertEqual(table, store.table)
        XCTAssertNil(
            try SyncPublisher.delta(
                from: store, after: dm.toVersion, maxChanges: 10, signer: keys, digest: SodiumSHA256()))
        XCTAssertNil(
            try SyncPublisher.delta(from: store, after: 0, maxChanges: 1, signer: keys, digest: SodiumSHA256()),
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
