import FaregateCentralScenarios
import FaregateCore
import FaregatePostgres
import FaregateSodium
import Foundation
import XCTest

/// Central-store tests against a real PostgreSQL server (`scripts/services/postgres`).
///
/// Each test works in its own schema (`search_path` in the connection string), dropped afterwards,
/// so tests do not see each other's rows.
final class PostgresCentralStoreTests: XCTestCase {
    var conninfo = ""
    var schema = ""

    override func setUpWithError() throws {
        guard let base = ProcessInfo.processInfo.environment["FAREGATE_TEST_PG"], !base.isEmpty else {
            if ProcessInfo.processInfo.environment["FAREGATE_REQUIRE_SERVICES"] == "1" {
                XCTFail("FAREGATE_TEST_PG is not set but services are required (scripts/services/postgres)")
            }
            throw XCTSkip("FAREGATE_TEST_PG not set: start scripts/services/postgres")
        }
        schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        let admin = try PostgresConnection(base)
        try admin.execute("CREATE SCHEMA \(schema)")
        conninfo = base + " options='-c search_path=\(schema)'"
    }

    override func tearDownWithError() throws {
        guard !schema.isEmpty, let base = ProcessInfo.processInfo.environment["FAREGATE_TEST_PG"] else { return }
        let admin = try PostgresConnection(base)
        try admin.execute("DROP SCHEMA \(schema) CASCADE")
    }

    func key(_ n: UInt64) -> CardKey { CardKey(rawValue: 1_000_000_000_000_000_000 + n) }
    func hash(_ n: Int) -> [UInt8] { Array(repeating: UInt8(n & 0xFF), count: 31) + [UInt8(n >> 8 & 0xFF)] }

    func record(_ n: UInt64, identity: Int?, health: HealthStatus = .green) -> CentralCardRecord {
        CentralCardRecord(key: key(n), cardType: .normal, identityHash: identity.map(hash), health: health)
    }

    func testMigrationIsIdempotentAndOpenChecksSchema() throws {
        XCTAssertThrowsError(try PostgresCentralStore(connecting: conninfo)) { error in
            XCTAssertEqual((error as? CentralStoreError)?.code, .schemaMismatch)
        }
        try PostgresCentralStore.create(connecting: conninfo)
        let store = try PostgresCentralStore.create(connecting: conninfo)
        XCTAssertEqual(try store.dataVersion(), 0)
    }

    func testUnreachableServerIsUnavailable() {
        XCTAssertThrowsError(try PostgresCentralStore(connecting: "host=127.0.0.1 port=1 connect_timeout=2")) { error in
            XCTAssertEqual((error as? CentralStoreError)?.code, .unavailable)
        }
    }

    func testMultiHostConnectionStringFailsOverToTheLiveHost() throws {
        // First host refuses; libpq tries the next one. Derive the live host/port from the test string.
        let parts = Dictionary(
            uniqueKeysWithValues: (ProcessInfo.processInfo.environment["FAREGATE_TEST_PG"] ?? "").split(separator: " ")
                .compactMap { p -> (String, String)? in
                    let kv = p.split(separator: "=", maxSplits: 1)
                    return kv.count == 2 ? (String(kv[0]), String(kv[1])) : nil
                })
        let multi =
            "host=127.0.0.1,\(parts["host"] ?? "127.0.0.1") port=1,\(parts["port"] ?? "5432") dbname=\(parts["dbname"] ?? "")"
            + " user=\(parts["user"] ?? "") options='-c search_path=\(schema)'"
        try PostgresCentralStore.create(connecting: multi)
        XCTAssertEqual(try PostgresCentralStore(connecting: multi).dataVersion(), 0)
    }

    func testInsertPublishSnapshotAndCardLevelPublication() throws {
        let store = try PostgresCentralStore.create(connecting: conninfo)
        try store.insertCards(
            [record(1, identity: 7), record(2, identity: 7), record(3, identity: 7), record(4, identity: nil)],
            wallMillis: 1000)
        XCTAssertEqual(try store.dataVersion(), 0, "writers do not publish by themselves")
        XCTAssertEqual(try store.publish(wallMillis: 1001), PublishResult(version: 1, cards: 4))
        XCTAssertEqual(try store.publish(wallMillis: 1002), PublishResult(version: 1, cards: 0), "nothing pending")

        var snapshot: [CardKey: CardStatus] = [:]
        let v = try store.forEachStatus { snapshot[$0] = $1 }
        XCTAssertEqual(v, 1)
        XCTAssertEqual(snapshot[key(1)], CardStatus(health: .green, binding: .bound))
        XCTAssertEqual(snapshot[key(4)], CardStatus(health: .unknown, binding: .unbound))

        // One identity's health change reaches all three of its cards.
        XCTAssertEqual(try store.setHealth(of: key(2), to: .red, wallMillis: 2000), 3)
        XCTAssertEqual(try store.publish(wallMillis: 2001), PublishResult(version: 2, cards: 3))
        let delta = try XCTUnwrap(try store.changes(after: 1, maxChanges: 100))
        XCTAssertEqual(delta.toVersion, 2)
        XCTAssertEqual(
            delta.changes,
            [1, 2, 3].map { CardChange(version: 2, key: key($0), status: CardStatus(health: .red, binding: .bound)) })
        XCTAssertNil(try store.changes(after: 0, maxChanges: 5), "7 rows after version 0: too far behind")

        // By identity hash too.
        XCTAssertEqual(try store.setHealth(identityHash: hash(7), to: .yellow, wallMillis: 3000), 3)
        XCTAssertThrowsError(try store.setHealth(of: key(4), to: .red, wallMillis: 3000)) { error in
            XCTAssertEqual((error as? CentralStoreError)?.code, .refused)
        }
    }

    func testLostConnectionIsUnavailableThenReconnects() throws {
        let name = "victim_" + schema
        try PostgresCentralStore.create(connecting: conninfo)
        let store = try PostgresCentralStore(connecting: conninfo + " application_name=\(name)")
        XCTAssertEqual(try store.dataVersion(), 0)
        // The server drops the store's session (as on a failover or restart).
        let admin = try PostgresConnection(ProcessInfo.processInfo.environment["FAREGATE_TEST_PG"] ?? "")
        let killed = try admin.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [name])
        XCTAssertEqual(killed.rows, 1)
        // pg_terminate_backend only signals: wait until the session is gone (bounded, no sleep).
        var gone = false
        for _ in 0..<100_000 where !gone {
            gone = try admin.query("SELECT 1 FROM pg_stat_activity WHERE application_name = $1", [name]).rows == 0
        }
        XCTAssertTrue(gone)
        XCTAssertThrowsError(try store.dataVersion()) { error in
            XCTAssertEqual((error as? CentralStoreError)?.code, .unavailable)
        }
        XCTAssertEqual(try store.dataVersion(), 0, "the next call reconnects")
    }

    func testDuplicateImportIsRefusedWhole() throws {
        let store = try PostgresCentralStore.create(connecting: conninfo)
        try store.insertCards([record(1, identity: 1)], wallMillis: 1)
        XCTAssertThrowsError(
            try store.insertCards([record(2, identity: 2), record(1, identity: 1)], wallMillis: 2)
        ) { error in XCTAssertEqual((error as? CentralStoreError)?.code, .refused) }
        let stats = try store.stats()
        XCTAssertEqual(stats.cards, 1, "card 2 was rolled back with the batch")
        XCTAssertEqual(stats.identities, 1)
        XCTAssertEqual(stats.pendingChanges, 1)
    }

    func testBindIsPermanentAndPublishesTheCard() throws {
        let store = try PostgresCentralStore.create(connecting: conninfo)
        try store.insertCards([record(1, identity: nil), record(2, identity: nil)], wallMillis: 1)
        try store.publish(wallMillis: 1)
        try store.bind(key(1), identityHash: hash(9), wallMillis: 2)
        try store.bind(key(2), identityHash: hash(9), wallMillis: 2)  // one identity, several cards
        XCTAssertThrowsError(try store.bind(key(1), identityHash: hash(10), wallMillis: 3)) { error in
            XCTAssertEqual((error as? CentralStoreError)?.code, .refused)
        }
        XCTAssertThrowsError(try store.bind(key(99), identityHash: hash(10), wallMillis: 3)) { error in
            XCTAssertEqual((error as? CentralStoreError)?.code, .refused)
        }
        XCTAssertEqual(try store.publish(wallMillis: 4), PublishResult(version: 2, cards: 2))
        let delta = try XCTUnwrap(try store.changes(after: 1, maxChanges: 10))
        XCTAssertEqual(
            delta.changes.map(\.status),
            [CardStatus(health: .unknown, binding: .bound), CardStatus(health: .unknown, binding: .bound)])
    }

    func entry(_ seq: UInt64) -> JournalEntry {
        JournalEntry(
            sequence: seq, wallMillis: 1_700_000_000_000 + Int64(seq), reader: 1, key: key(seq), kind: .decision,
            decision: .open(.ok), balanceFen: 100, dataVersion: 1, timings: StageTimings())
    }

    func testJournalUploadIsIdempotentAndAcknowledgesContiguousPrefix() throws {
        let store = try PostgresCentralStore.create(connecting: conninfo)
        try store.uploadJournal(gate: "g1", entries: [1, 2, 4].map(entry))
        XCTAssertEqual(try store.acknowledgedSequence(gate: "g1"), 2, "3 is missing")
        try store.uploadJournal(gate: "g1", entries: [1, 2, 3, 4, 5].map(entry))  // resend after a crash
        XCTAssertEqual(try store.acknowledgedSequence(gate: "g1"), 5)
        XCTAssertEqual(try store.journal(gate: "g1"), (1...5).map(entry), "every record exactly once")
        XCTAssertEqual(try store.acknowledgedSequence(gate: "unknown"), 0)
        try store.recordSync(gate: "g1", dataVersion: 3, wallMillis: 42)
        XCTAssertEqual(
            try store.gateStates(),
            [GateSyncState(gate: "g1", lastSyncMillis: 42, dataVersion: 3, acknowledgedSequence: 5, journalRecords: 5)])
    }

    /// Writers change health concurrently, a publisher publishes concurrently, pollers follow with
    /// `changes(after:)`. Every poller must see each version exactly once and in order (no gap), and
    /// end with exactly the central table.
    func testConcurrentWritersAndPollersNeverMissAChange() throws {
        let cardsPerIdentity = 2
        let writers = 4
        let writesPerWriter = 150
        let pollers = 3
        let setup = try PostgresCentralStore.create(connecting: conninfo)
        try setup.insertCards(
            (0..<(writers * cardsPerIdentity)).map { record(UInt64($0), identity: $0 / cardsPerIdentity) },
            wallMillis: 0)
        try setup.publish(wallMillis: 0)

        // Every thread connects, then waits at the start line so writers, publisher and pollers
        // really overlap (the test signals the start itself; no sleeping).
        let threads = writers + 1 + pollers
        let ready = DispatchSemaphore(value: 0)
        let go = DispatchSemaphore(value: 0)
        @Sendable func startLine(_ arrived: inout Bool) {
            guard !arrived else { return }
            arrived = true
            ready.signal()
            go.wait()
        }
        let failures = Failures()
        let writersDone = Counter()
        let group = DispatchGroup()
        let conninfo = self.conninfo
        let colours: [HealthStatus] = [.green, .yellow, .red, .unknown]

        for w in 0..<writers {
            spawn(group) {
                var arrived = false
                defer { writersDone.increment() }
                do {
                    let store = try PostgresCentralStore(connecting: conninfo)
                    startLine(&arrived)
                    for i in 0..<writesPerWriter {
                        let h = colours[(i + w) % colours.count]
                        try store.setHealth(
                            of: CardKey(rawValue: 1_000_000_000_000_000_000 + UInt64(w * cardsPerIdentity)), to: h,
                            wallMillis: Int64(i))
                        // Some writers publish themselves: several publishers race too.
                        if i % 7 == 0 { try store.publish(wallMillis: Int64(i)) }
                    }
                } catch {
                    failures.add("writer \(w): \(error)")
                    startLine(&arrived)
                }
            }
        }
        spawn(group) {
            var arrived = false
            do {
                let store = try PostgresCentralStore(connecting: conninfo)
                startLine(&arrived)
                while writersDone.value < writers { try store.publish(wallMillis: 1) }
                try store.publish(wallMillis: 2)
            } catch {
                failures.add("publisher: \(error)")
                startLine(&arrived)
            }
        }
        let tables = Tables()
        for p in 0..<pollers {
            spawn(group) {
                var arrived = false
                do {
                    let store = try PostgresCentralStore(connecting: conninfo)
                    var table: [CardKey: CardStatus] = [:]
                    var version = try store.forEachStatus { table[$0] = $1 }
                    var polls = 0
                    startLine(&arrived)
                    func poll() throws {
                        guard let set = try store.changes(after: version, maxChanges: 1_000_000) else {
                            failures.add("poller \(p): unexpectedly too far behind")
                            return
                        }
                        let versions = Array(Set(set.changes.map(\.version))).sorted()
                        if set.toVersion > version, versions != Array((version + 1)...set.toVersion) {
                            failures.add("poller \(p): after \(version) got versions \(versions), to \(set.toVersion)")
                        }
                        for c in set.changes { table[c.key] = c.status }
                        version = max(version, set.toVersion)
                        polls += 1
                    }
                    while writersDone.value < writers { try poll() }
                    tables.add(p, table, version, polls)
                } catch {
                    failures.add("poller \(p): \(error)")
                    startLine(&arrived)
                }
            }
        }
        for _ in 0..<threads { ready.wait() }
        for _ in 0..<threads { go.signal() }
        group.wait()
        XCTAssertEqual(failures.all, [])

        // Catch up after the final publish and compare with the central table.
        var truth: [CardKey: CardStatus] = [:]
        let finalVersion = try setup.forEachStatus { truth[$0] = $1 }
        XCTAssertEqual(try setup.publish(wallMillis: 3).cards, 0, "everything was published")
        XCTAssertEqual(tables.all.count, pollers)
        XCTAssertGreaterThan(finalVersion, UInt64(writers), "many publications happened while pollers ran")
        for (p, var table, version, polls) in tables.all {
            XCTAssertGreaterThan(polls, 0, "poller \(p) polled while writers wrote")
            let rest = try XCTUnwrap(try setup.changes(after: version, maxChanges: 1_000_000))
            for c in rest.changes { table[c.key] = c.status }
            XCTAssertEqual(rest.toVersion, finalVersion, "poller \(p)")
            XCTAssertEqual(table, truth, "poller \(p) ends with the central table")
        }
        // Card-level publication under concurrency: both cards of each identity agree.
        for w in 0..<writers {
            XCTAssertEqual(truth[key(UInt64(w * cardsPerIdentity))], truth[key(UInt64(w * cardsPerIdentity + 1))])
        }
    }
}

/// Runs `body` on a new thread (not a GCD worker: the test's threads block on each other at the
/// start line, which must not starve a bounded pool).
func spawn(_ group: DispatchGroup, _ body: @escaping @Sendable () -> Void) {
    group.enter()
    Thread {
        body()
        group.leave()
    }.start()
}

/// Thread-safe collectors for the concurrency test (guarded by a lock).
final class Failures: @unchecked Sendable {  // invariant: `items` only touched under `lock`
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.withLock { items.append(s) } }
    var all: [String] { lock.withLock { items } }
}

final class Counter: @unchecked Sendable {  // invariant: `n` only touched under `lock`
    private let lock = NSLock()
    private var n = 0
    func increment() { lock.withLock { n += 1 } }
    var value: Int { lock.withLock { n } }
}

final class Tables: @unchecked Sendable {  // invariant: `items` only touched under `lock`
    private let lock = NSLock()
    private var items: [(Int, [CardKey: CardStatus], UInt64, Int)] = []
    func add(_ p: Int, _ t: [CardKey: CardStatus], _ v: UInt64, _ polls: Int) {
        lock.withLock { items.append((p, t, v, polls)) }
    }
    var all: [(Int, [CardKey: CardStatus], UInt64, Int)] { lock.withLock { items } }
}

extension PostgresCentralStoreTests {
    func onceScenarios() -> JournalExactlyOnceScenarios {
        JournalExactlyOnceScenarios { [conninfo] in try PostgresCentralStore.create(connecting: conninfo) }
    }

    func testConflictIsFlaggedAndNeverAcknowledged() throws {
        try onceScenarios().conflictIsFlaggedAndNeverAcknowledged()
    }
    func testHolesCountAndAreListed() throws { try onceScenarios().holesCountAndAreListed() }
}

/// Issue 16.5 on PostgreSQL (`JournalAuthenticityScenarios`, real Ed25519 gate keys).
extension PostgresCentralStoreTests {
    func authenticityScenarios() -> JournalAuthenticityScenarios {
        JournalAuthenticityScenarios(
            makeStore: { [conninfo] in try PostgresCentralStore.create(connecting: conninfo) },
            makeKey: { try GateJournalKey.generate() })
    }

    func testSignedBatchIsStoredByteForByte() throws { try authenticityScenarios().signedBatchIsStoredByteForByte() }
    func testBadSignatureIsRefusedAndFlagged() throws { try authenticityScenarios().badSignatureIsRefusedAndFlagged() }
    func testUnregisteredAndRevokedKeysAreRefused() throws {
        try authenticityScenarios().unregisteredAndRevokedKeysAreRefused()
    }
    func testChainDiscontinuityIsRefused() throws { try authenticityScenarios().chainDiscontinuityIsRefused() }
    func testConflictingSignedDuplicateIsFlagged() throws {
        try authenticityScenarios().conflictingSignedDuplicateIsFlagged()
    }
    func testUnsignedUploadsAndRejectedLinesAreFlagged() throws {
        try authenticityScenarios().unsignedUploadsAndRejectedLinesAreFlagged()
    }
}

extension PostgresCentralStoreTests {
    /// Issue 17.6 on PostgreSQL (`RideCodeEvidenceScenarios`).
    func testRideCodeEvidenceIsStoredAndMarkedForClearing() throws {
        try RideCodeEvidenceScenarios { [conninfo] in try PostgresCentralStore.create(connecting: conninfo) }
            .evidenceIsStoredAndMarkedForClearing()
    }
}
