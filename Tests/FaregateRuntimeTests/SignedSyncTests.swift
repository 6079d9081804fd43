import FaregateCore
import FaregateRuntime
import FaregateSQLite
import FaregateSimulation
import FaregateSodium
import Foundation
import XCTest

/// A gate that pins the central key takes signed snapshots and deltas only; tampered, wrongly
/// signed or rolled-back publications are refused and the table in service stays.
final class SignedSyncTests: XCTestCase {
    var dir: String!
    let a = CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001)!
    let b = CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_002)!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-signed-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testFollowsTheSignedChainAndRefusesWhatDoesNotVerify() throws {
        let central = dir + "/central.sqlite"
        let store = try SQLiteCentralStore.create(at: central)
        let key = try Ed25519KeyPair()
        let digest = SodiumSHA256()
        try store.insertCards(
            [
                .init(key: a, cardType: .normal, identityHash: [UInt8](repeating: 1, count: 32), health: .green),
                .init(key: b, cardType: .normal, identityHash: [UInt8](repeating: 2, count: 32), health: .green),
            ], wallMillis: 1)
        try SyncPublisher.signNewVersions(in: store, scope: .production, signer: key, digest: digest)
        try SyncPublisher.storeSnapshot(in: store, scope: .production, signer: key, digest: digest)
        let clock = ManualClock()
        // Central's timestamp signer (farectl central timestamp, every minute in production).
        func stamp() throws {
            try SyncPublisher.storeTimestamp(
                in: store, scope: .production, signer: key, nowMillis: clock.wallMillis(), validForMillis: 300_000)
        }
        try stamp()

        let reader = SimulatedCardReader(name: "r0", index: 0, clock: clock)
        var options = GateRuntime.Options(gateID: "SIGNED-1")
        options.sync.intervalSeconds = 3600
        options.tableSync = GateSync(
            mode: .signed(try SyncVerifier(pinnedPublicKey: key.publicKey, scope: .production)))
        let collector = ReportCollector()
        let gate = GateRuntime(
            options: options, journal: try FileJournal(directory: dir + "/journal"), readers: [reader],
            barrier: SimulatedBarrier(), clock: clock,
            storeFactory: { () throws(CentralStoreError) -> any CentralStore in try SQLiteCentralStore(path: central) },
            observer: { collector.record($0) })
        gate.start()
        defer { gate.stop() }
        XCTAssertEqual(gate.table.current().table?.dataVersion, 1, "started from the signed snapshot")
        XCTAssertEqual(gate.table.current().table?.status(of: a)?.health, .green)

        // A health change, published and signed: the gate follows with a delta.
        try store.setHealth(of: a, to: .red, wallMillis: 2)
        try SyncPublisher.signNewVersions(in: store, scope: .production, signer: key, digest: digest)
        try stamp()
        XCTAssertTrue(gate.syncOnce())
        XCTAssertEqual(gate.table.current().table?.dataVersion, 2)
        XCTAssertEqual(gate.table.current().table?.status(of: a)?.health, .red)
        reader.present(.transit(a.identifier))
        collector.waitFor(1)
        XCTAssertEqual(collector.decisions.last, .deny(.healthRed))

        // The next delta altered in the database (b turned green → unknown in the body): refused.
        try store.setHealth(of: b, to: .yellow, wallMillis: 3)
        try SyncPublisher.signNewVersions(in: store, scope: .production, signer: key, digest: digest)
        let db = try SQLiteConnection(path: central)
        try db.execute("UPDATE publications SET body = substr(body, 1, length(body) - 1) || x'00' WHERE to_version = 3")
        XCTAssertFalse(gate.syncOnce())
        XCTAssertTrue(gate.lastSyncFailure?.contains("refused") ?? false, gate.lastSyncFailure ?? "")
        XCTAssertEqual(gate.table.current().table?.dataVersion, 2, "the table in service stays")
        XCTAssertEqual(gate.table.current().table?.status(of: b)?.health, .green)

        // Re-signed by someone else's key: still refused.
        let intruder = try Ed25519KeyPair()
        try db.execute("DELETE FROM publications WHERE to_version = 3")
        try SyncPublisher.signNewVersions(in: store, scope: .production, signer: intruder, digest: digest)
        XCTAssertFalse(gate.syncOnce())
        XCTAssertEqual(gate.table.current().table?.dataVersion, 2)

        // Signed with the right key but for staging (one key used for two environments): refused.
        try db.execute("DELETE FROM publications WHERE to_version = 3")
        try SyncPublisher.signNewVersions(in: store, scope: .staging, signer: key, digest: digest)
        XCTAssertFalse(gate.syncOnce())
        XCTAssertTrue(gate.lastSyncFailure?.contains("wrong_scope") ?? false, gate.lastSyncFailure ?? "")
        XCTAssertEqual(gate.table.current().table?.dataVersion, 2)

        // Properly signed: accepted.
        try db.execute("DELETE FROM publications WHERE to_version = 3")
        try SyncPublisher.signNewVersions(in: store, scope: .production, signer: key, digest: digest)
        XCTAssertTrue(gate.syncOnce(), gate.lastSyncFailure ?? "")
        XCTAssertEqual(gate.table.current().table?.status(of: b)?.health, .yellow)

        // Nothing newer signed (version 4 is published but unsigned): the gate stays current at 3.
        try store.setHealth(of: b, to: .green, wallMillis: 4)
        XCTAssertTrue(gate.syncOnce())
        XCTAssertEqual(gate.table.current().table?.dataVersion, 3)
    }

    /// Freshness (issue 16, part 1): a central that keeps serving the same version, or whose
    /// timestamp signer stopped, makes the gate stale after `max_data_age_seconds`; a fresh
    /// statement makes it current again; a staging statement or one for a version the gate does
    /// not hold vouches for nothing. A new gate provisioned with a minimum version refuses an
    /// older (genuinely signed) snapshot.
    func testAFrozenCentralMakesTheGateStale() throws {
        let central = dir + "/central.sqlite"
        let store = try SQLiteCentralStore.create(at: central)
        let key = try Ed25519KeyPair()
        let digest = SodiumSHA256()
        try store.insertCards(
            [.init(key: a, cardType: .normal, identityHash: [UInt8](repeating: 1, count: 32), health: .green)],
            wallMillis: 1)
        try SyncPublisher.signNewVersions(in: store, scope: .production, signer: key, digest: digest)
        try SyncPublisher.storeSnapshot(in: store, scope: .production, signer: key, digest: digest)
        let clock = ManualClock()
        func stamp(_ scope: SyncScope? = nil) throws {
            try SyncPublisher.storeTimestamp(
                in: store, scope: try scope ?? .production, signer: key, nowMillis: clock.wallMillis(),
                validForMillis: 300_000)
        }
        try stamp()

        func gate(minimumVersion: UInt64 = 0, _ collector: ReportCollector) throws -> (GateRuntime, SimulatedCardReader)
        {
            let reader = SimulatedCardReader(name: "r0", index: 0, clock: clock)
            var options = GateRuntime.Options(gateID: "FRESH-1")
            options.sync.intervalSeconds = 36_000
            options.policy.maxDataAgeSeconds = 600
            var verifier = try SyncVerifier(pinnedPublicKey: key.publicKey, scope: .production)
            verifier.minimumVersion = minimumVersion
            options.tableSync = GateSync(mode: .signed(verifier))
            let g = GateRuntime(
                options: options, journal: try FileJournal(directory: dir + "/journal-\(minimumVersion)"),
                readers: [reader], barrier: SimulatedBarrier(), clock: clock,
                storeFactory: { () throws(CentralStoreError) -> any CentralStore in
                    try SQLiteCentralStore(path: central)
                },
                observer: { collector.record($0) })
            return (g, reader)
        }
        let collector = ReportCollector()
        let (g, reader) = try gate(collector)
        g.start()
        defer { g.stop() }
        func tap() -> Decision? {
            reader.present(.transit(a.identifier))
            collector.waitFor(1)  // one more answer
            return collector.decisions.last
        }
        XCTAssertEqual(tap(), .open(.ok), "vouched for by the statement just signed")

        // Frozen: central answers every sync, with the same version and the same statement.
        clock.advance(seconds: 400)
        XCTAssertTrue(g.syncOnce(), "the sync itself succeeds")
        XCTAssertEqual(tap(), .open(.ok), "400 s old: within max_data_age_seconds")
        clock.advance(seconds: 201)
        XCTAssertTrue(g.syncOnce())
        XCTAssertEqual(tap(), .staff(.staleData), "601 s since central last vouched: stale")

        // The signer runs again: current again.
        try stamp()
        XCTAssertTrue(g.syncOnce())
        XCTAssertEqual(tap(), .open(.ok))

        // A statement signed for staging vouches for nothing at a production gate.
        clock.advance(seconds: 601)
        try stamp(.staging)
        XCTAssertTrue(g.syncOnce())
        XCTAssertEqual(tap(), .staff(.staleData))

        // A statement for a version the gate cannot reach (its delta was never signed) neither.
        try store.setHealth(of: a, to: .yellow, wallMillis: 2)
        _ = try store.publish(wallMillis: 2)
        let lastSigned = try store.lastSignedVersion()
        let ahead = SyncTimestamp(
            scope: try .production, version: lastSigned + 1, issuedAtMillis: clock.wallMillis(),
            expiresAtMillis: clock.wallMillis() + 300_000)
        try store.storeTimestamp(ahead.sealed(by: key))
        XCTAssertTrue(g.syncOnce())
        XCTAssertEqual(
            tap(), .staff(.staleData), "central says version \(lastSigned + 1) is current; the gate has less")

        // A new gate provisioned with a minimum version past the newest snapshot takes nothing.
        let (newGate, _) = try gate(minimumVersion: lastSigned + 1, ReportCollector())
        XCTAssertFalse(newGate.syncOnce())
        XCTAssertTrue(newGate.lastSyncFailure?.contains("minimum version") ?? false, newGate.lastSyncFailure ?? "")
        XCTAssertNil(newGate.table.current().table)
    }
}
