import FaregateCentralScenarios
import FaregateCore
import FaregateSQLite
import Foundation
import XCTest

final class SQLiteCentralStoreTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-sqlite-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func key(_ n: UInt64) -> CardKey { CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_000 + n)! }

    func statuses(_ store: SQLiteCentralStore) throws -> ([CardKey: CardStatus], UInt64) {
        var out: [CardKey: CardStatus] = [:]
        let v = try store.forEachStatus { out[$0] = $1 }
        return (out, v)
    }

    func testStatusesReflectBindingsHealthAndFlags() throws {
        let store = try SQLiteCentralStore.create(at: dir + "/c.sqlite")
        let person = [UInt8](repeating: 7, count: 32)
        try store.insertCards(
            [
                .init(key: key(1), cardType: .normal, identityHash: person, health: .green),
                .init(key: key(2), cardType: .normal, identityHash: nil, health: .unknown),
                .init(
                    key: key(3), cardType: .student, blacklisted: true, identityHash: [UInt8](repeating: 8, count: 32),
                    health: .red),
                .init(key: key(4), cardType: .normal, returned: true, identityHash: nil, health: .unknown),
            ], wallMillis: 1000)
        let (s, v) = try statuses(store)
        XCTAssertEqual(v, 1)
        XCTAssertEqual(s[key(1)], CardStatus(health: .green, binding: .bound))
        XCTAssertEqual(s[key(2)], CardStatus(health: .unknown, binding: .unbound))
        XCTAssertEqual(s[key(3)], CardStatus(health: .red, binding: .bound, blacklisted: true))
        XCTAssertEqual(s[key(4)], CardStatus(health: .unknown, binding: .unbound, returned: true))
        XCTAssertEqual(s.count, 4)
    }

    func testHealthChangeReachesEveryCardOfTheIdentityAndBumpsTheVersion() throws {
        let store = try SQLiteCentralStore.create(at: dir + "/c.sqlite")
        let person = [UInt8](repeating: 1, count: 32)
        let phoneCode = CardKey(medium: .rideCode, identifier: 5)!
        try store.insertCards(
            [
                .init(key: key(1), cardType: .normal, identityHash: person, health: .green),
                .init(key: phoneCode, cardType: .unspecified, identityHash: person, health: .green),
                .init(key: key(2), cardType: .normal, identityHash: [UInt8](repeating: 2, count: 32), health: .green),
            ], wallMillis: 1000)
        XCTAssertEqual(try store.setHealth(of: key(1), to: .red, wallMillis: 2000), 2, "both cards of the person")
        let (s, v) = try statuses(store)
        XCTAssertEqual(v, 2)
        XCTAssertEqual(s[key(1)]?.health, .red)
        XCTAssertEqual(s[phoneCode]?.health, .red, "the same person's ride code changes too")
        XCTAssertEqual(s[key(2)]?.health, .green)
        XCTAssertThrowsError(try store.setHealth(of: key(99), to: .red, wallMillis: 1)) {
            XCTAssertEqual(($0 as? CentralStoreError)?.code, .refused)
        }
    }

    func testJournalUploadIsIdempotentAndAcknowledgesOnlyContiguousSequences() throws {
        let store = try SQLiteCentralStore.create(at: dir + "/c.sqlite")
        func e(_ s: UInt64) -> JournalEntry {
            JournalEntry(
                sequence: s, wallMillis: 1, reader: 0, key: key(s), kind: .decision, decision: .open(.ok),
                balanceFen: 1,
                dataVersion: 1, timings: StageTimings())
        }
        try store.uploadJournal(gate: "G1", entries: [e(1), e(2), e(4)])
        XCTAssertEqual(try store.acknowledgedSequence(gate: "G1"), 2, "3 is missing: 4 is stored but not acknowledged")
        try store.uploadJournal(gate: "G1", entries: [e(2), e(3)])
        XCTAssertEqual(try store.acknowledgedSequence(gate: "G1"), 4)
        try store.uploadJournal(gate: "G1", entries: [e(1), e(2), e(3), e(4)])
        XCTAssertEqual(try store.journal(gate: "G1").map(\.sequence), [1, 2, 3, 4], "re-uploads store nothing twice")
        XCTAssertEqual(try store.acknowledgedSequence(gate: "G2"), 0)
    }

    func testMissingCorruptAndForeignFilesGiveClearErrors() throws {
        XCTAssertThrowsError(try SQLiteCentralStore(path: dir + "/missing.sqlite")) {
            XCTAssertEqual(($0 as? CentralStoreError)?.code, .unavailable)
            XCTAssertTrue("\($0)".contains("missing.sqlite"), "\($0)")
        }
        let garbage = dir + "/garbage.sqlite"
        FileManager.default.createFile(atPath: garbage, contents: Data((0..<8192).map { UInt8($0 % 251) }))
        XCTAssertThrowsError(try SQLiteCentralStore(path: garbage)) {
            XCTAssertEqual(($0 as? CentralStoreError)?.code, .corrupt, "\($0)")
        }
        let foreign = dir + "/foreign.sqlite"
        let other = try SQLiteConnection(path: foreign, create: true)
        try other.execute("CREATE TABLE x(y)")
        XCTAssertThrowsError(try SQLiteCentralStore(path: foreign)) {
            XCTAssertEqual(($0 as? CentralStoreError)?.code, .corrupt, "\($0)")
        }
    }

    func testNewerSchemaIsRefused() throws {
        let path = dir + "/c.sqlite"
        try SQLiteCentralStore.create(at: path)
        let db = try SQLiteConnection(path: path)
        try db.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
        XCTAssertThrowsError(try SQLiteCentralStore(path: path)) {
            XCTAssertEqual(($0 as? CentralStoreError)?.code, .schemaMismatch)
        }
    }
}

/// Issue 16.5 / 16.6 on the SQLite store (`JournalExactlyOnceScenarios`).
final class SQLiteJournalExactlyOnceTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-sqlite-once-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func scenarios() -> JournalExactlyOnceScenarios {
        JournalExactlyOnceScenarios { try SQLiteCentralStore.create(at: self.dir + "/\(UUID().uuidString).sqlite") }
    }

    func testConflictIsFlaggedAndNeverAcknowledged() throws { try scenarios().conflictIsFlaggedAndNeverAcknowledged() }
    func testHolesCountAndAreListed() throws { try scenarios().holesCountAndAreListed() }
}

/// Issue 17.6 on the SQLite store (`RideCodeEvidenceScenarios`).
final class SQLiteRideCodeEvidenceTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-sqlite-rc-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testEvidenceIsStoredAndMarkedForClearing() throws {
        try RideCodeEvidenceScenarios { try SQLiteCentralStore.create(at: self.dir + "/central.sqlite") }
            .evidenceIsStoredAndMarkedForClearing()
    }
}
