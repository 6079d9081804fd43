import FaregateCore
import FaregateSQLite
import FaregateSodium
import Foundation
import XCTest

/// Signed publications stored in the SQLite file, taken by a gate holding only the public key.
final class SQLitePublicationTests: XCTestCase {
    /// A row past `PublicationLimits.maxBodyBytes` is refused by its length, before its body is
    /// fetched (issue 16.6); the rows before it in a chain are still handed out.
    func testOversizedBodiesAreRefusedBeforeTheyAreRead() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pub-\(UUID().uuidString).db").path
        defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } }
        let store = try SQLiteCentralStore.create(at: path)
        let keys = try Ed25519KeyPair()
        let sha = SodiumSHA256()
        func key(_ n: UInt64) -> CardKey { CardKey(rawValue: 1_000_000_000_000_000_000 + n) }
        try store.insertCards(
            (0..<2).map {
                CentralCardRecord(key: key($0), cardType: .normal, identityHash: [UInt8($0)], health: .green)
            },
            wallMillis: 1)
        try store.setHealth(of: key(1), to: .red, wallMillis: 2)
        XCTAssertEqual(try SyncPublisher.signNewVersions(in: store, signer: keys, digest: sha), [1, 2])
        try SyncPublisher.storeSnapshot(in: store, signer: keys, digest: sha)
        let admin = try SQLiteConnection(path: path)
        try admin.execute(
            "UPDATE publications SET body = zeroblob(\(PublicationLimits.maxBodyBytes + 1)) WHERE kind = 1 OR to_version = 2"
        )
        XCTAssertThrowsError(try store.latestSnapshot()) { error in
            XCTAssertEqual((error as? CentralStoreError)?.code, .refused)
            XCTAssertTrue("\(error)".contains("MiB limit"), "\(error)")
        }
        XCTAssertEqual(try store.deltas(after: 0, limit: 10).map(\.manifest.toVersion), [1], "stops at the huge row")
    }

    func testChainSnapshotAndGapFallback() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pub-\(UUID().uuidString).db").path
        defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } }
        let store = try SQLiteCentralStore.create(at: path)
        let keys = try Ed25519KeyPair()
        let sha = SodiumSHA256()
        func key(_ n: UInt64) -> CardKey { CardKey(rawValue: 1_000_000_000_000_000_000 + n) }
        try store.insertCards(
            (0..<3).map {
                CentralCardRecord(key: key($0), cardType: .normal, identityHash: [UInt8($0)], health: .green)
            },
            wallMillis: 1)
        try store.setHealth(of: key(1), to: .red, wallMillis: 2)
        XCTAssertEqual(try SyncPublisher.signNewVersions(in: store, signer: keys, digest: sha), [1, 2])
        let verifier = try SyncVerifier(pinnedPublicKey: keys.publicKey)

        var table: [CardKey: CardStatus] = [:]
        for d in try verifier.verifiedDeltas(try store.deltas(after: 0, limit: 10), versionInService: 0) {
            d.apply(to: &table)
        }
        var truth: [CardKey: CardStatus] = [:]
        XCTAssertEqual(try store.forEachStatus { truth[$0] = $1 }, 2)
        XCTAssertEqual(table, truth)

        // A chain with a hole stops before it; the gate then takes the snapshot.
        try SyncPublisher.storeSnapshot(in: store, signer: keys, digest: sha)
        XCTAssertEqual(try store.deltas(after: 5, limit: 10).count, 0)
        let snap = try XCTUnwrap(try store.latestSnapshot())
        XCTAssertEqual(try verifier.verify(envelope: snap.envelope, body: snap.body, versionInService: 1).toVersion, 2)
        XCTAssertThrowsError(try verifier.verify(envelope: snap.envelope, body: snap.body, versionInService: 2)) {
            XCTAssertEqual(($0 as? SyncVerificationError)?.code, .rolledBack)
        }
        // A different central key (not pinned) is refused.
        let other = try SyncVerifier(pinnedPublicKey: try Ed25519KeyPair().publicKey)
        XCTAssertThrowsError(try other.verifiedDeltas(try store.deltas(after: 0, limit: 10), versionInService: 0)) {
            XCTAssertEqual(($0 as? SyncVerificationError)?.code, .badSignature)
        }
    }
}
