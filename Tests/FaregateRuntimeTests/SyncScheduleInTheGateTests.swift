import FaregateCore
import FaregateRuntime
import FaregateSQLite
import FaregateSimulation
import Foundation
import XCTest

/// The sync thread of a real gate on a `ManualClock`: it sleeps until the schedule's deadlines,
/// backs off while central state is down, returns to interval-plus-jitter once it is back, and
/// syncs at once when asked. Simulated time only: the test reads where the thread sleeps and
/// moves the clock there; nothing waits for real time to pass.
final class SyncScheduleInTheGateTests: XCTestCase {
    var dir: String!
    let second: UInt64 = 1_000_000_000

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-schedule-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testTheSyncThreadFollowsIntervalJitterAndBackoffInSimulatedTime() throws {
        let central = dir + "/central.sqlite"
        let key = CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001)!
        try SQLiteCentralStore.create(at: central).insertCards(
            [.init(key: key, cardType: .normal, identityHash: [UInt8](repeating: 1, count: 32), health: .green)],
            wallMillis: 1)
        let clock = ManualClock()
        let outage = SimulatedOutage()
        var options = GateRuntime.Options(gateID: "SCHED-1")
        options.sync.intervalSeconds = 60
        options.sync.jitterSeconds = 10
        options.sync.maxBackoffSeconds = 20
        options.syncSeed = 42
        let gate = GateRuntime(
            options: options, journal: try FileJournal(directory: dir + "/journal"), readers: [],
            barrier: SimulatedBarrier(), clock: clock,
            storeFactory: { () throws(CentralStoreError) -> any CentralStore in
                SimulatedOutageCentralStore(try SQLiteCentralStore(path: central), outage: outage)
            })
        // The schedule the thread must follow, replayed from the same seed.
        var expected = SyncSchedule(intervalSeconds: 60, jitterSeconds: 10, maxBackoffSeconds: 20, seed: 42)

        var sleeps = clock.sleepsBegun
        gate.start()
        defer { gate.stop() }
        XCTAssertEqual(gate.currentCounters.syncs, 1, "one sync before serving")
        XCTAssertTrue(clock.waitForSleeps(beyond: sleeps))
        var deadline = try XCTUnwrap(clock.sleepDeadlines.first ?? nil)
        XCTAssertEqual(deadline, expected.first(at: clock.monotonicNanos()))
        XCTAssertTrue((60 * second...70 * second).contains(deadline - clock.monotonicNanos()))

        /// Moves the clock to the thread's deadline and waits for its next sleep; returns the new
        /// deadline.
        func runToDeadline() throws -> UInt64 {
            sleeps = clock.sleepsBegun
            clock.advance(nanos: deadline - clock.monotonicNanos())
            XCTAssertTrue(clock.waitForSleeps(beyond: sleeps), "the sync thread went back to sleep")
            return try XCTUnwrap(clock.sleepDeadlines.first ?? nil)
        }

        // Just short of the deadline nothing happens: the thread still sleeps towards it.
        clock.advance(nanos: deadline - clock.monotonicNanos() - 1)
        XCTAssertEqual(clock.sleepDeadlines, [deadline])
        XCTAssertEqual(gate.currentCounters.syncs, 1)

        // Central goes down: 1, 2, 4, 8, 16 s, then the 20 s cap, each wait read off the thread.
        outage.set(down: true)
        var waits: [UInt64] = []
        for _ in 0..<7 {
            let next = try runToDeadline()
            XCTAssertEqual(next, expected.next(after: false, at: clock.monotonicNanos()))
            waits.append((next - clock.monotonicNanos()) / second)
            deadline = next
        }
        XCTAssertEqual(waits, [1, 2, 4, 8, 16, 20, 20])
        XCTAssertEqual(gate.currentCounters.syncFailures, 7)
        XCTAssertNotNil(gate.lastSyncFailure)

        // Central is back: the next scheduled sync succeeds and the interval with jitter returns.
        outage.set(down: false)
        deadline = try runToDeadline()
        XCTAssertEqual(deadline, expected.next(after: true, at: clock.monotonicNanos()))
        XCTAssertTrue((60 * second...70 * second).contains(deadline - clock.monotonicNanos()))
        XCTAssertEqual(gate.currentCounters.syncs, 2)
        XCTAssertNil(gate.lastSyncFailure)

        // Asked to sync now: it does, without the clock moving, and reschedules from now.
        sleeps = clock.sleepsBegun
        gate.syncNow()
        XCTAssertTrue(clock.waitForSleeps(beyond: sleeps))
        XCTAssertEqual(gate.currentCounters.syncs, 3)
        XCTAssertEqual(clock.sleepDeadlines, [expected.next(after: true, at: clock.monotonicNanos())])
    }
}
