import FaregateCentralScenarios
import FaregateCore
import FaregateSQLite
import FaregateSodium
import Foundation
import XCTest

/// Issuer keys in the SQLite central store (migration 7), by the shared scenario.
final class SQLiteIssuerKeyTests: XCTestCase {
    func testIssuerKeysAreAddedRevokedAndSignedAsGrowingDocuments() throws {
        let path = NSTemporaryDirectory() + "faregate-issuer-keys-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try SQLiteCentralStore.create(at: path)
        let keys = try Ed25519KeyPair()
        try IssuerKeyStoreScenarios.run(
            store, signer: keys, verifier: try SyncVerifier(pinnedPublicKey: keys.publicKey, scope: .production))
        // A second connection (what a gate opens) reads the same newest document.
        XCTAssertEqual(try SQLiteCentralStore(path: path).latestIssuerKeyDocument()?.version, 2)
    }
}
