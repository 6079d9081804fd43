import FaregateCentralScenarios
import FaregateCore
import FaregateSQLite
import FaregateSodium
import Foundation
import XCTest

/// Issue 16.5 on the SQLite store (`JournalAuthenticityScenarios`, real Ed25519 gate keys).
final class SQLiteJournalAuthenticityTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-sqlite-auth-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func scenarios() -> JournalAuthenticityScenarios {
        JournalAuthenticityScenarios(
            makeStore: { try SQLiteCentralStore.create(at: self.dir + "/\(UUID().uuidString).sqlite") },
            makeKey: { try GateJournalKey.generate() })
    }

    func testSignedBatchIsStoredByteForByte() throws { try scenarios().signedBatchIsStoredByteForByte() }
    func testBadSignatureIsRefusedAndFlagged() throws { try scenarios().badSignatureIsRefusedAndFlagged() }
    func testUnregisteredAndRevokedKeysAreRefused() throws { try scenarios().unregisteredAndRevokedKeysAreRefused() }
    func testChainDiscontinuityIsRefused() throws { try scenarios().chainDiscontinuityIsRefused() }
    func testConflictingSignedDuplicateIsFlagged() throws { try scenarios().conflictingSignedDuplicateIsFlagged() }
    func testUnsignedUploadsAndRejectedLinesAreFlagged() throws {
        try scenarios().unsignedUploadsAndRejectedLinesAreFlagged()
    }
}
