import FaregateCore
import FaregateSQLite
import Foundation
import XCTest

/// Publication and the change feed of the SQLite store: same semantics as PostgreSQL.
final class SQLiteCentralStoreSyncTests: XCTestCase {
    var path = ""

    override func setUp() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("central-\(UUID().uuidString).db").path
    }

    override func tearDown() {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    func key(_ n: UInt64) -> CardKey { CardKey(rawValue: 1_000_000_000_000_000_000 + n) }
    func hash(_ n: Int) -> [UInt8] { Array(repeating: UInt8(n), count: 32) }

    func testWritersPublishInTheirTransactionAndHealthReachesEveryBoundCard() throws {
        let store = try SQLiteCentralStore.create(at: path)
        try store.insertCards(
            [
                SQLiteCentralStore.CardRecord(key: key(1), cardType: .normal, identityHash: hash(1), health: .green),
                SQLiteCentralStore.CardRecord(key: key(2), cardType: .normal, identityHash: hash(1), health: .green),
                SQLiteCentralStore.CardRecord(key: key(3), cardType: .normal, identityHash: nil, health: .unknown),
            ], wallMillis: 1)
        XCTAssertEqual(try store.dataVersion(), 1)
        XCTAssertEqual(try store.publish(wallMillis: 2), PublishResult(version: 1, cards: 0), "nothing pending")
        XCTAssertEqual(try store.changes(after: 0, maxChanges: 10)?.changes.count, 3)

        XCTAssertEqual(try store.setHealth(of: key(1), to: .red, wallMillis: 3), 2)
        let delta = try XCTUnwrap(try store.changes(after: 1, maxChanges: 10))
        XCTAssertEqual(delta.toVersion, 2)
        XCTAssertEqual(
            delta.changes,
            [1, 2].map { CardChange(version: 2, key: key($0), status: CardStatus(health: .red, binding: .bound)) })
        XCTAssertNil(try store.changes(after: 0, maxChanges: 2))
        XCTAssertEqual(try store.changes(after: 2, maxChanges: 0)?.changes, [])

        XCTAssertEqual(try store.setHealth(identityHash: hash(1), to: .yellow, wallMillis: 4), 2)
        XCTAssertThrowsError(try store.setHealth(identityHash: hash(9), to: .yellow, wallMillis: 4))

        try store.bind(key(3), identityHash: hash(1), wallMillis: 5)
        XCTAssertThrowsError(try store.bind(key(3), identityHash: hash(2), wallMillis: 6)) { error in
            XCTAssertEqual((error as? CentralStoreError)?.code, .refused)
        }
        let bound = try XCTUnwrap(try store.changes(after: 3, maxChanges: 10))
        XCTAssertEqual(
            bound.changes, [CardChange(version: 4, key: key(3), status: CardStatus(health: .yellow, binding: .bound))])

        // Snapshot and replayed change log agree.
        var snapshot: [CardKey: CardStatus] = [:]
        let v = try store.forEachStatus { snapshot[$0] = $1 }
        var replay: [CardKey: CardStatus] = [:]
        for c in try XCTUnwrap(try store.changes(after: 0, maxChanges: 100)).changes { replay[c.key] = c.status }
        XCTAssertEqual(v, 4)
        XCTAssertEqual(snapshot, replay)
        XCTAssertEqual(try store.stats().dataVersion, 4)
    }

    func testGateStatesReportSyncAndAcknowledgement() throws {
        let store = try SQLiteCentralStore.create(at: path)
        try store.recordSync(gate: "g2", dataVersion: 7, wallMillis: 99)
        let e = JournalEntry(
            sequence: 1, wallMillis: 5, reader: 0, key: key(1), kind: .decision, decision: .deny(.healthRed),
            balanceFen: nil, dataVersion: 7, timings: StageTimings())
        try store.uploadJournal(gate: "g2", entries: [e, e])
        XCTAssertEqual(
            try store.gateStates(),
            [GateSyncState(gate: "g2", lastSyncMillis: 99, dataVersion: 7, acknowledgedSequence: 1, journalRecords: 1)])
    }
}
