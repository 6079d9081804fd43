import FaregateCore
import FaregateSodium
import Synchronization
import XCTest

/// The root-signed key set (issue 16.4): its codec field by field, the root check, rollback of
/// the key-set version, key validity windows, revocation, and the epoch reset, with real Ed25519
/// keys and the verifier the gate uses (`SyncVerifier(pinnedRootKey:…)`).
final class PublicationKeySetTests: XCTestCase {
    let now: Int64 = 1_800_000_000_000
    let day: Int64 = 86_400_000

    /// The gate's wall clock, moved by the test.
    final class WallClock: Sendable {
        let millis: Mutex<Int64>
        init(_ v: Int64) { millis = Mutex(v) }
        var value: Int64 {
            get { millis.withLock { $0 } }
            set { millis.withLock { $0 = newValue } }
        }
    }

    func key(_ pair: Ed25519KeyPair, from: Int64? = nil, until: Int64? = nil) -> PublicationKeySet.Key {
        PublicationKeySet.Key(
            keyID: PublicationKeySet.Key.id(of: pair.publicKey), publicKey: pair.publicKey,
            validFromMillis: from ?? now - day, validUntilMillis: until ?? now + day)
    }

    func gate(_ root: Ed25519KeyPair, clock: WallClock) throws -> (SyncVerifier, PublicationKeyRing) {
        let v = try SyncVerifier(pinnedRootKey: root.publicKey, scope: .production, wallMillis: { clock.value })
        return (v, try XCTUnwrap(v.signatures as? PublicationKeyRing))
    }

    func snapshot(_ version: UInt64, by signer: Ed25519KeyPair) throws -> SignedPublication {
        SignedPublication(
            kind: .snapshot, from: 0, to: version,
            body: DeltaBody(fromVersion: 0, toVersion: version, entries: []).encoded(), scope: try .production,
            signer: signer, digest: SodiumSHA256())
    }

    func code(_ body: () throws -> Void) -> SyncVerificationError.Code? {
        do {
            try body()
            return nil
        } catch {
            return (error as? SyncVerificationError)?.code
        }
    }

    func testCodecRoundTripsEveryFieldAndTheLayoutIsAsDocumented() throws {
        let a = try Ed25519KeyPair()
        let b = try Ed25519KeyPair()
        let set = PublicationKeySet(
            scope: try .production, version: 7, epoch: 2, epochFloor: 41,
            keys: [key(a, from: -5, until: 99), key(b)], revoked: [9, 3])
        let bytes = set.canonicalBytes
        XCTAssertEqual(bytes.count, PublicationKeySet.headerSize + 2 * 52 + 2 * 4)
        XCTAssertEqual(Array(bytes[0..<4]), Array("FGR1".utf8))
        XCTAssertEqual(bytes[4], 1)
        XCTAssertEqual(Array(bytes[5..<10]), Array("metro".utf8))
        XCTAssertEqual(bytes[53], 7)
        XCTAssertEqual(bytes[61], 2)
        XCTAssertEqual(bytes[69], 41)
        XCTAssertEqual(bytes[77], 2)
        XCTAssertEqual(bytes[78], 2)
        let parsed = try PublicationKeySet(canonical: bytes)
        XCTAssertEqual(parsed, set)
        XCTAssertEqual(parsed.revoked, [3, 9], "kept sorted: one encoding per set")
        XCTAssertEqual(parsed.keys.map(\.keyID), set.keys.map(\.keyID).sorted())
        XCTAssertEqual(PublicationKeySet.hex(0x0000_00ab), "000000ab")
    }

    func testEveryMalformedFieldIsRefusedWithoutATrap() throws {
        let a = try Ed25519KeyPair()
        let good = PublicationKeySet(scope: try .production, version: 3, keys: [key(a)], revoked: [1, 2]).canonicalBytes
        func refused(_ mutate: (inout [UInt8]) -> Void, _ what: String) {
            var b = good
            mutate(&b)
            XCTAssertThrowsError(try PublicationKeySet(canonical: b), what) {
                XCTAssertEqual(($0 as? SyncVerificationError)?.code, .malformed, what)
            }
        }
        refused({ $0[0] = UInt8(ascii: "X") }, "magic")
        refused({ $0[4] = 2 }, "format")
        refused({ $0[5] = 0 }, "empty network")
        refused({ $0[40] = 0xFF }, "bytes after the network's padding")
        refused({ for i in 53..<61 { $0[i] = 0 } }, "version 0")
        refused({ $0[60] = 0x80 }, "version 2^63")
        refused({ $0[68] = 0x80 }, "epoch 2^63")
        refused({ $0[76] = 0x80 }, "floor 2^63")
        refused({ $0[77] = 17 }, "17 keys")
        refused({ $0[77] = 2 }, "key count past the bytes")
        refused({ $0[78] = 0 }, "revoked count short of the bytes")
        refused({ $0.append(0) }, "a byte after the end")
        refused({ $0.removeLast() }, "a byte short")
        refused({ b in for i in 0..<8 { b[79 + 44 + i] = i == 7 ? 0x80 : 0 } }, "valid until before valid from")
        refused(
            {
                $0[79 + 52] = 2; $0[79 + 52 + 4] = 1
            }, "revoked ids not increasing")
        refused({ b in for i in 0..<4 { b[79 + 56 + i] = b[79 + i] } }, "a listed key also revoked")
        for n in 0..<good.count { XCTAssertThrowsError(try PublicationKeySet(canonical: good.prefix(n))) }
        let two = PublicationKeySet(scope: try .production, version: 3, keys: [key(a), key(try Ed25519KeyPair())])
        var swapped = two.canonicalBytes
        let first = Array(swapped[79..<131])
        swapped.replaceSubrange(79..<131, with: swapped[131..<183])
        swapped.replaceSubrange(131..<183, with: first)
        XCTAssertThrowsError(try PublicationKeySet(canonical: swapped), "key ids out of order")
    }

    func testOnlyTheRootsSignatureForThisScopeIsTaken() throws {
        let root = try Ed25519KeyPair()
        let online = try Ed25519KeyPair()
        let (_, ring) = try gate(root, clock: WallClock(now))
        let set = PublicationKeySet(scope: try .production, version: 1, keys: [key(online)])
        XCTAssertEqual(code { try ring.adopt(set.sealed(by: online)) }, .badSignature, "signed by an online key")
        var tampered = set.sealed(by: root)
        tampered[60] ^= 1
        XCTAssertEqual(code { try ring.adopt(tampered) }, .badSignature)
        var staging = set
        staging.scope = try .staging
        XCTAssertEqual(code { try ring.adopt(staging.sealed(by: root)) }, .wrongScope)
        XCTAssertEqual(code { try ring.adopt([1, 2, 3]) }, .malformed)
        XCTAssertNil(ring.keySet, "nothing was taken")
        XCTAssertEqual(try ring.adopt(set.sealed(by: root)), true)
        XCTAssertEqual(try ring.adopt(set.sealed(by: root)), false, "the same key set again changes nothing")
    }

    func testTheKeySetVersionNeverGoesBack() throws {
        let root = try Ed25519KeyPair()
        let a = try Ed25519KeyPair()
        let b = try Ed25519KeyPair()
        let (_, ring) = try gate(root, clock: WallClock(now))
        let v2 = PublicationKeySet(scope: try .production, version: 2, keys: [key(b)], revoked: [key(a).keyID])
        let v1 = PublicationKeySet(scope: try .production, version: 1, keys: [key(a)])
        try ring.adopt(v2.sealed(by: root))
        XCTAssertEqual(code { try ring.adopt(v1.sealed(by: root)) }, .rolledBack, "an old key set that trusts A")
        let other = PublicationKeySet(scope: try .production, version: 2, keys: [key(a)])
        XCTAssertEqual(code { try ring.adopt(other.sealed(by: root)) }, .malformed, "a second v2")
        XCTAssertEqual(ring.keySet, v2)
        let max = PublicationKeySet(scope: try .production, version: SyncManifest.maxVersion, keys: [key(b)])
        XCTAssertEqual(try ring.adopt(max.sealed(by: root)), true, "versions up to 2^63 − 1")
    }

    func testOnlyListedKeysInsideTheirWindowSign() throws {
        let root = try Ed25519KeyPair()
        let a = try Ed25519KeyPair()
        let stranger = try Ed25519KeyPair()
        let clock = WallClock(now)
        let (verifier, ring) = try gate(root, clock: clock)
        let p = try snapshot(5, by: a)
        XCTAssertEqual(
            code { _ = try verifier.verify(envelope: p.envelope, body: p.body, versionInService: nil) }, .noKeySet)
        try ring.adopt(
            PublicationKeySet(scope: try .production, version: 1, keys: [key(a, from: now, until: now + day)]).sealed(
                by: root))
        XCTAssertEqual(try verifier.verify(envelope: p.envelope, body: p.body, versionInService: nil).toVersion, 5)
        XCTAssertEqual(
            try ring.signer(of: Array(p.envelope.suffix(64)), message: Array(p.envelope.prefix(110))), key(a).keyID)
        let forged = try snapshot(5, by: stranger)
        XCTAssertEqual(
            code { _ = try verifier.verify(envelope: forged.envelope, body: forged.body, versionInService: nil) },
            .badSignature)
        let skew = SyncTimestamp.maxClockSkewMillis
        for (wall, expected) in [
            (now - skew, nil), (now - skew - 1, SyncVerificationError.Code.keyNotValid), (now + day + skew, nil),
            (now + day + skew + 1, .keyNotValid), (.min, .keyNotValid), (.max, .keyNotValid),
        ] as [(Int64, SyncVerificationError.Code?)] {
            clock.value = wall
            XCTAssertEqual(
                code { _ = try verifier.verify(envelope: p.envelope, body: p.body, versionInService: nil) }, expected,
                "at \(wall)")
        }
        // Timestamp statements go through the same check.
        clock.value = now + 1000
        let t = SyncTimestamp(scope: try .production, version: 5, issuedAtMillis: now, expiresAtMillis: now + 60_000)
        XCTAssertEqual(try verifier.verifyTimestamp(t.sealed(by: a), nowMillis: now + 1000).version, 5)
        XCTAssertEqual(code { _ = try verifier.verifyTimestamp(t.sealed(by: stranger), nowMillis: now) }, .badSignature)
    }

    func testRotationThenRevocation() throws {
        let root = try Ed25519KeyPair()
        let a = try Ed25519KeyPair()
        let b = try Ed25519KeyPair()
        let (verifier, ring) = try gate(root, clock: WallClock(now))
        let byA = try snapshot(5, by: a)
        let byB = try snapshot(6, by: b)
        func verdict(_ p: SignedPublication) -> SyncVerificationError.Code? {
            code { _ = try verifier.verify(envelope: p.envelope, body: p.body, versionInService: nil) }
        }
        try ring.adopt(PublicationKeySet(scope: try .production, version: 1, keys: [key(a)]).sealed(by: root))
        XCTAssertNil(verdict(byA))
        XCTAssertEqual(verdict(byB), .badSignature, "B is not vouched for yet")
        try ring.adopt(PublicationKeySet(scope: try .production, version: 2, keys: [key(a), key(b)]).sealed(by: root))
        XCTAssertNil(verdict(byA), "rotation: both during the overlap")
        XCTAssertNil(verdict(byB))
        try ring.adopt(
            PublicationKeySet(scope: try .production, version: 3, keys: [key(b)], revoked: [key(a).keyID]).sealed(
                by: root))
        XCTAssertEqual(verdict(byA), .revokedKey)
        XCTAssertNil(verdict(byB))
        XCTAssertNil(ring.rebaseFloor, "revocation alone keeps the epoch")
        // A key dropped without revocation is not believed either.
        try ring.adopt(
            PublicationKeySet(scope: try .production, version: 4, keys: [], revoked: [key(a).keyID]).sealed(by: root))
        XCTAssertEqual(verdict(byB), .keyNotValid)
        // A restarted gate that never saw A's public key still refuses its signature.
        let (fresh, freshRing) = try gate(root, clock: WallClock(now))
        try freshRing.adopt(
            PublicationKeySet(scope: try .production, version: 3, keys: [key(b)], revoked: [key(a).keyID]).sealed(
                by: root))
        XCTAssertEqual(
            code { _ = try fresh.verify(envelope: byA.envelope, body: byA.body, versionInService: nil) }, .badSignature)
    }

    /// Compromise recovery: an attacker with online key A pushed gates to a huge version; the root
    /// revokes A, vouches for C and raises the epoch with a floor. A gate then takes a snapshot
    /// below its version in service once (the version ordering of the voided epoch is dropped),
    /// and only one reaching the floor; afterwards versions only go forward again.
    func testEpochResetLetsTheGateLeaveAnAttackersVersionOnce() throws {
        let root = try Ed25519KeyPair()
        let a = try Ed25519KeyPair()
        let c = try Ed25519KeyPair()
        let (verifier, ring) = try gate(root, clock: WallClock(now))
        try ring.adopt(PublicationKeySet(scope: try .production, version: 1, keys: [key(a)]).sealed(by: root))
        ring.tableTakenInCurrentEpoch()
        let attack = SyncManifest.maxVersion
        let bad = try snapshot(attack, by: a)
        XCTAssertEqual(try verifier.table(from: SignedBundle([bad]), versionInService: 40).table.dataVersion, attack)
        XCTAssertNil(ring.rebaseFloor)
        // Genuine recovery data at version 42, signed by C: below the version in service.
        let genuine = try snapshot(42, by: c)
        try ring.adopt(
            PublicationKeySet(scope: try .production, version: 2, keys: [key(c)], revoked: [key(a).keyID]).sealed(
                by: root))
        XCTAssertEqual(
            code { _ = try verifier.table(from: SignedBundle([genuine]), versionInService: attack) }, .rolledBack,
            "without a reset the attacker's version holds")
        try ring.adopt(
            PublicationKeySet(
                scope: try .production, version: 3, epoch: 1, epochFloor: 42, keys: [key(c)], revoked: [key(a).keyID]
            ).sealed(by: root))
        let floor = try XCTUnwrap(ring.rebaseFloor)
        XCTAssertEqual(floor, 42)
        XCTAssertEqual(
            code {
                _ = try verifier.table(from: SignedBundle([try self.snapshot(41, by: c)]), versionInService: floor)
            },
            .rolledBack, "below the floor: a replayed old genuine snapshot is not enough")
        XCTAssertEqual(try verifier.table(from: SignedBundle([genuine]), versionInService: floor).table.dataVersion, 42)
        ring.tableTakenInCurrentEpoch()
        XCTAssertNil(ring.rebaseFloor, "once")
        XCTAssertEqual(ring.tableEpoch, 1)
        XCTAssertEqual(
            code { _ = try verifier.table(from: SignedBundle([try self.snapshot(41, by: c)]), versionInService: 42) },
            .rolledBack, "after the reset, versions go forward only")
        // The table epoch survives a restart through `restore`.
        let (_, restarted) = try gate(root, clock: WallClock(now))
        try restarted.adopt(try XCTUnwrap(ring.sealedKeySet))
        XCTAssertEqual(restarted.rebaseFloor, 42, "a restarted gate that lost its epoch rebases again")
        restarted.restore(tableEpoch: 1)
        XCTAssertNil(restarted.rebaseFloor)
    }
}
