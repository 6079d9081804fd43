import FaregateCore
import FaregateRuntime
import FaregateSQLite
import FaregateSimulation
import FaregateSodium
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 16.6 through the gate's sync: uploads carry on past a damaged line (a hole central
/// records), do not wait on the table update, and a gate whose local state was lost numbers
/// after central's highest record.
final class ExactlyOnceSyncTests: XCTestCase {
    var dir: String!
    let a = CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001)!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-once-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func makeCentral() throws -> (String, SQLiteCentralStore) {
        let central = dir + "/central.sqlite"
        let store = try SQLiteCentralStore.create(at: central)
        try store.insertCards(
            [.init(key: a, cardType: .normal, identityHash: [UInt8](repeating: 1, count: 32), health: .green)],
            wallMillis: 1)
        return (central, store)
    }

    func makeGate(central: String, tableSync: GateSync = GateSync(mode: .trusted)) throws -> (
        GateRuntime, SimulatedCardReader, ReportCollector
    ) {
        let clock = ManualClock()
        let reader = SimulatedCardReader(name: "r0", index: 0, clock: clock)
        var options = GateRuntime.Options(gateID: "ONCE-1")
        options.sync.intervalSeconds = 3600
        options.tableSync = tableSync
        let collector = ReportCollector()
        let gate = GateRuntime(
            options: options, journal: try FileJournal(directory: dir + "/journal"), readers: [reader],
            barrier: SimulatedBarrier(), clock: clock,
            storeFactory: { () throws(CentralStoreError) -> any CentralStore in try SQLiteCentralStore(path: central) },
            observer: { collector.record($0) })
        return (gate, reader, collector)
    }

    func testADamagedLineBecomesAHoleAndEveryLaterRecordReachesCentral() throws {
        let (central, store) = try makeCentral()
        let (gate, reader, collector) = try makeGate(central: central)
        gate.start()
        defer { gate.stop() }
        for i in 1...5 {
            reader.present(.transit(a.identifier + UInt64(i)))  // one card per tap (a repeat is one tap)
            collector.waitFor(1)
        }
        // Line 2 damaged on disk under the running gate (one byte flipped in place).
        let path = dir + "/journal/journal.log"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let firstLine = text.split(separator: "\n")[0].utf8.count + 1
        let fd = open(path, O_WRONLY)
        _ = [UInt8(ascii: "X")].withUnsafeBytes { pwrite(fd, $0.baseAddress, 1, off_t(firstLine + 3)) }
        close(fd)
        XCTAssertTrue(gate.syncOnce(), gate.lastSyncFailure ?? "")
        XCTAssertEqual(try store.journal(gate: "ONCE-1").map(\.sequence), [1, 3, 4, 5])
        XCTAssertEqual(try store.journalHoles(gate: "ONCE-1").map(\.sequence), [2])
        XCTAssertEqual(try store.acknowledgedSequence(gate: "ONCE-1"), 5, "uploads carry on past the hole")
        // Later records go up as usual.
        reader.present(.transit(a.identifier + 6))
        collector.waitFor(1)
        XCTAssertTrue(gate.syncOnce(), gate.lastSyncFailure ?? "")
        XCTAssertEqual(try store.acknowledgedSequence(gate: "ONCE-1"), 6)
    }

    func testARefusedPublicationDoesNotStopTheUpload() throws {
        let (central, store) = try makeCentral()
        let key = try Ed25519KeyPair()
        let digest = SodiumSHA256()
        try SyncPublisher.signNewVersions(in: store, signer: key, digest: digest)
        try SyncPublisher.storeSnapshot(in: store, signer: key, digest: digest)
        let (gate, reader, collector) = try makeGate(
            central: central, tableSync: GateSync(mode: .signed(try SyncVerifier(pinnedPublicKey: key.publicKey))))
        gate.start()
        defer { gate.stop() }
        XCTAssertEqual(gate.table.current().table?.dataVersion, 1)
        // The next delta altered in the database: the table update is refused at every sync.
        try store.setHealth(of: a, to: .red, wallMillis: 2)
        try SyncPublisher.signNewVersions(in: store, signer: key, digest: digest)
        let db = try SQLiteConnection(path: central)
        try db.execute("UPDATE publications SET body = substr(body, 1, length(body) - 1) || x'00' WHERE to_version = 2")
        for i in 1...3 {
            reader.present(.transit(a.identifier + UInt64(i)))
            collector.waitFor(1)
        }
        XCTAssertFalse(gate.syncOnce())
        XCTAssertTrue(gate.lastSyncFailure?.contains("refused") ?? false, gate.lastSyncFailure ?? "")
        XCTAssertEqual(gate.table.current().table?.dataVersion, 1, "the table in service stays")
        XCTAssertEqual(try store.acknowledgedSequence(gate: "ONCE-1"), 3, "the records reached central all the same")
    }

    func testAGateWithNoSurvivingMarkNumbersAfterCentral() throws {
        let (central, store) = try makeCentral()
        try store.uploadJournal(gate: "ONCE-1", entries: (1...40).map { JournalExactlyOnceStub.entry($0) })
        let journal = try FileJournal(directory: dir + "/journal")
        XCTAssertTrue(journal.highWaterCreated)
        let outcome = CentralSequenceCheck.run(
            gateID: "ONCE-1", journal: journal, within: .seconds(30),
            openStore: { () throws(CentralStoreError) -> any CentralStore in try SQLiteCentralStore(path: central) })
        XCTAssertEqual(outcome, .answered(highest: 40))
        XCTAssertEqual(journal.nextSequence, 41, "never 1 again")
        XCTAssertEqual(try FileJournal(directory: dir + "/journal").nextSequence, 41, "durable")
    }

    func testACentralThatDoesNotAnswerDelaysTheStartOnlyByTheBound() throws {
        let journal = try FileJournal(directory: dir + "/journal")
        let release = DispatchSemaphore(value: 0)
        defer { release.signal() }
        let outcome = CentralSequenceCheck.run(
            gateID: "ONCE-1", journal: journal, within: .milliseconds(50),
            openStore: { () throws(CentralStoreError) -> any CentralStore in
                release.wait()  // a central that hangs until the test ends
                throw CentralStoreError(.unavailable, "hung")
            })
        guard case .noAnswer = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(journal.nextSequence, 1)
    }

    func testASurvivingMarkIsNotHeldUpByCentral() throws {
        do {
            let j = try FileJournal(directory: dir + "/journal")
            try j.append([JournalExactlyOnceStub.entry(1)])
        }
        let journal = try FileJournal(directory: dir + "/journal")
        let release = DispatchSemaphore(value: 0)
        defer { release.signal() }
        // Bound of an hour: it returns at once all the same, without waiting for central.
        let outcome = CentralSequenceCheck.run(
            gateID: "ONCE-1", journal: journal, within: .seconds(3600),
            openStore: { () throws(CentralStoreError) -> any CentralStore in
                release.wait()
                throw CentralStoreError(.unavailable, "hung")
            })
        guard case .noAnswer = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(journal.nextSequence, 2)
    }
}

enum JournalExactlyOnceStub {
    static func entry(_ seq: UInt64) -> JournalEntry {
        JournalEntry(
            sequence: seq, wallMillis: 1_700_000_000_000 + Int64(seq), reader: 0,
            key: CardKey(medium: .transitCard, identifier: seq)!, kind: .decision, decision: .open(.ok),
            balanceFen: 100, dataVersion: 1, timings: StageTimings())
    }
}
