import FaregateCentralScenarios
import FaregateCore
import FaregatePostgres
import FaregateSodium
import Foundation
import XCTest

/// Issuer keys on PostgreSQL (migration 7): the shared scenario as admin, then the roles: an
/// office login adds and revokes keys but cannot sign-store a document; a gate login reads the
/// keys and the newest document (and its sync verifies it) but can write neither.
extension PostgresGateRoleTests {
    func testIssuerKeysOnPostgresAndWhoMayWriteThem() throws {
        let central = try PostgresCentralStore.create(connecting: admin)
        let keys = try Ed25519KeyPair()
        let verifier = try SyncVerifier(pinnedPublicKey: keys.publicKey, scope: .production)
        try IssuerKeyStoreScenarios.run(central, signer: keys, verifier: verifier)

        let officeLogin = loginName("ik_office")
        try PostgresConnection(base).execute(
            "CREATE ROLE \(officeLogin) LOGIN PASSWORD 'office-pw' IN ROLE faregate_office")
        let office = try PostgresCentralStore(connecting: try connection(officeLogin, password: "office-pw"))
        var added = IssuerKeyStoreScenarios.ed
        added.keyID = 8
        try office.addIssuerKey(added, wallMillis: 10)
        XCTAssertTrue(try office.revokeIssuerKey(issuer: 2, keyID: 8, wallMillis: 11))
        XCTAssertEqual(try office.issuerKeys().count, 3)
        assertRefused("office stores a document") {
            try office.storeIssuerKeyDocument(version: 99, sealed: [1, 2, 3])
        }

        let gateLogin = loginName("ik_gate")
        try central.addGateLogin(GateLogin(login: gateLogin, gate: "gate-k"), password: "k-secret")
        let gate = try PostgresCentralStore(connecting: try connection(gateLogin, password: "k-secret"))
        XCTAssertEqual(try gate.issuerKeys().count, 3, "the gate role reads the issuer keys")
        let latest = try XCTUnwrap(try gate.latestIssuerKeyDocument())
        XCTAssertEqual(latest.version, 2)
        XCTAssertEqual(
            try verifier.verifyIssuerKeys(latest.sealed, nowMillis: 1_780_000_000_000, held: nil).version, 2)
        var forged = IssuerKeyStoreScenarios.ed
        forged.keyID = 9
        assertRefused("gate adds a key") { try gate.addIssuerKey(forged, wallMillis: 12) }
        assertRefused("gate revokes a key") { _ = try gate.revokeIssuerKey(issuer: 0, keyID: 3, wallMillis: 12) }
        assertRefused("gate stores a document") {
            try gate.storeIssuerKeyDocument(version: 99, sealed: latest.sealed)
        }
        XCTAssertEqual(try central.issuerKeys().count, 3, "nothing the gate tried changed the keys")
        XCTAssertEqual(try central.issuerKeys().first { $0.keyID == 3 }?.revoked, false)
        XCTAssertEqual(try central.latestIssuerKeyDocument()?.version, 2)
    }
}
