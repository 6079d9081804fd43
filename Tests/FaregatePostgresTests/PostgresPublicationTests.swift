import FaregateCore
import FaregatePostgres
import FaregateSodium
import Foundation
import XCTest

/// Signed publications stored in PostgreSQL and taken by a gate that holds only the public key.
final class PostgresPublicationTests: XCTestCase {
    var conninfo = ""
    var schema = ""

    override func setUpWithError() throws {
        guard let base = ProcessInfo.processInfo.environment["FAREGATE_TEST_PG"], !base.isEmpty else {
            if ProcessInfo.processInfo.environment["FAREGATE_REQUIRE_SERVICES"] == "1" {
                XCTFail("FAREGATE_TEST_PG is not set but services are required (scripts/services/postgres)")
            }
            throw XCTSkip("FAREGATE_TEST_PG not set: start scripts/services/postgres")
        }
        schema = "p_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try PostgresConnection(base).execute("CREATE SCHEMA \(schema)")
        conninfo = base + " options='-c search_path=\(schema)'"
    }

    override func tearDownWithError() throws {
        guard !schema.isEmpty, let base = ProcessInfo.processInfo.environment["FAREGATE_TEST_PG"] else { return }
        try PostgresConnection(base).execute("DROP SCHEMA \(schema) CASCADE")
    }

    func key(_ n: UInt64) -> CardKey { CardKey(rawValue: 1_000_000_000_000_000_000 + n) }

    /// A row past `PublicationLimits.maxBodyBytes` is refused by its length, before its body is
    /// fetched (issue 16.6); the rows before it in a chain are still handed out.
    func testOversizedBodiesAreRefusedBeforeTheyAreRead() throws {
        let store = try PostgresCentralStore.create(connecting: conninfo)
        let keys = try Ed25519KeyPair()
        let sha = SodiumSHA256()
        try store.insertCards(
            (0..<2).map {
                CentralCardRecord(key: key($0), cardType: .normal, identityHash: [UInt8($0)], health: .green)
            },
            wallMillis: 1)
        try store.publish(wallMillis: 1)
        try store.setHealth(of: key(0), to: .red, wallMillis: 2)
        try store.publish(wallMillis: 2)
        XCTAssertEqual(try SyncPublisher.signNewVersions(in: store, signer: keys, digest: sha), [1, 2])
        try SyncPublisher.storeSnapshot(in: store, signer: keys, digest: sha)
        // Past the limit by one byte (TOAST compresses the repeated bytes: the server stores little).
        let admin = try PostgresConnection(conninfo)
        try admin.execute(
            "UPDATE publications SET body = convert_to(repeat('a', \(PublicationLimits.maxBodyBytes + 1)), 'UTF8') WHERE kind = 1 OR to_version = 2"
        )
        XCTAssertThrowsError(try store.latestSnapshot()) { error in
            XCTAssertEqual((error as? CentralStoreError)?.code, .refused)
            XCTAssertTrue("\(error)".contains("MiB limit"), "\(error)")
        }
        XCTAssertEqual(try store.deltas(after: 0, limit: 10).map(\.manifest.toVersion), [1], "stops at the huge row")
    }

    func testGateFollowsSignedChainAndRefusesTamperedRows() throws {
        let store = try PostgresCentralStore.create(connecting: conninfo)
        let keys = try Ed25519KeyPair()
        let sha = SodiumSHA256()
        try store.insertCards(
            (0..<4).map {
                CentralCardRecord(key: key($0), cardType: .normal, identityHash: [UInt8($0 / 2)], health: .green)
            },
            wallMillis: 1)
        try store.publish(wallMillis: 1)
        XCTAssertEqual(try SyncPublisher.signNewVersions(in: store, signer: keys, digest: sha), [1])
        let snapshot = try SyncPublisher.storeSnapshot(in: store, signer: keys, digest: sha)
        XCTAssertEqual(snapshot.toVersion, 1)

        // Gate start: snapshot.
        let verifier = try SyncVerifier(pinnedPublicKey: keys.publicKey)
        let snap = try XCTUnwrap(try store.latestSnapshot())
        let sm = try verifier.verify(
            envelope: snap.envelope, body: snap.body, versionInService: nil, expecting: .snapshot)
        var table: [CardKey: CardStatus] = [:]
        try DeltaBody(decoding: snap.body).apply(to: &table)
        var version = sm.toVersion

        // Two more versions, signed; the gate takes the chain.
        try store.setHealth(of: key(0), to: .red, wallMillis: 2)
        try store.publish(wallMillis: 2)
        try store.setHealth(of: key(2), to: .yellow, wallMillis: 3)
        try store.publish(wallMillis: 3)
        XCTAssertEqual(try SyncPublisher.signNewVersions(in: store, signer: keys, digest: sha), [2, 3])
        XCTAssertEqual(try SyncPublisher.signNewVersions(in: store, signer: keys, digest: sha), [], "idempotent")
        let chain = try store.deltas(after: version, limit: 10)
        XCTAssertEqual(chain.map(\.manifest.toVersion), [2, 3])
        for d in try verifier.verifiedDeltas(chain, versionInService: version) { d.apply(to: &table) }
        version = try XCTUnwrap(chain.last).manifest.toVersion
        var truth: [CardKey: CardStatus] = [:]
        XCTAssertEqual(try store.forEachStatus { truth[$0] = $1 }, version)
        XCTAssertEqual(table, truth)

        // Someone with database access but not the key rewrites a stored delta: refused, table kept.
        try store.setHealth(of: key(0), to: .green, wallMillis: 4)
        try store.publish(wallMillis: 4)
        try SyncPublisher.signNewVersions(in: store, signer: keys, digest: sha)
        let admin = try PostgresConnection(conninfo)
        try admin.execute("UPDATE publications SET body = set_byte(body, length(body) - 1, 3) WHERE to_version = 4")
        let kept = table
        XCTAssertThrowsError(
            try verifier.verifiedDeltas(try store.deltas(after: version, limit: 10), versionInService: version)
        ) {
            XCTAssertEqual(($0 as? SyncVerificationError)?.code, .hashMismatch)
        }
        XCTAssertEqual(table, kept)
        // Replaying an old delta is refused too.
        XCTAssertThrowsError(try verifier.verifiedDeltas(chain, versionInService: version)) {
            XCTAssertEqual(($0 as? SyncVerificationError)?.code, .rolledBack)
        }
    }
}
