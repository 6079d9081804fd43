import FaregateCore
import XCTest

/// The sync schedule in simulated time: interval and jitter after successes, doubling backoff up
/// to its cap after failures, reset by a success; every wait is read off the returned deadlines.
final class SyncScheduleTests: XCTestCase {
    private let second: UInt64 = 1_000_000_000

    func testJitterStaysInsideItsWindowAndSpreadsGates() {
        var schedule = SyncSchedule(intervalSeconds: 60, jitterSeconds: 10, maxBackoffSeconds: 600, seed: 1)
        var now: UInt64 = 5 * second
        var waits: [UInt64] = [schedule.first(at: now) - now]
        for _ in 0..<500 {
            let next = schedule.next(after: true, at: now)
            waits.append(next - now)
            now = next
        }
        XCTAssertTrue(waits.allSatisfy { $0 >= 60 * second && $0 <= 70 * second }, "every wait in [60 s, 70 s]")
        // Spread: the waits cover the window rather than sitting at one value.
        XCTAssertLessThan(waits.min() ?? 0, 61 * second)
        XCTAssertGreaterThan(waits.max() ?? 0, 69 * second)
        XCTAssertGreaterThan(Set(waits).count, 450, "jitter draws differ")

        // Two gates seeded differently do not call central in step; the same seed replays exactly.
        var a = SyncSchedule(intervalSeconds: 60, jitterSeconds: 10, maxBackoffSeconds: 600, seed: 1)
        var b = SyncSchedule(intervalSeconds: 60, jitterSeconds: 10, maxBackoffSeconds: 600, seed: 2)
        var a2 = SyncSchedule(intervalSeconds: 60, jitterSeconds: 10, maxBackoffSeconds: 600, seed: 1)
        XCTAssertNotEqual(a.first(at: 0), b.first(at: 0))
        XCTAssertEqual(a2.first(at: 0), waits[0])
    }

    func testNoJitterMeansTheIntervalExactly() {
        var schedule = SyncSchedule(intervalSeconds: 30, jitterSeconds: 0, maxBackoffSeconds: 600, seed: 9)
        XCTAssertEqual(schedule.first(at: 100), 100 + 30 * second)
        XCTAssertEqual(schedule.next(after: true, at: 200), 200 + 30 * second)
    }

    func testBackoffDoublesToItsCapAndASuccessResetsIt() {
        var schedule = SyncSchedule(intervalSeconds: 60, jitterSeconds: 0, maxBackoffSeconds: 20, seed: 3)
        var now: UInt64 = 0
        var waits: [UInt64] = []
        for _ in 0..<8 {
            let next = schedule.next(after: false, at: now)
            waits.append((next - now) / second)
            now = next
        }
        XCTAssertEqual(waits, [1, 2, 4, 8, 16, 20, 20, 20])
        XCTAssertEqual(schedule.failuresInARow, 8)

        XCTAssertEqual(schedule.next(after: true, at: now) - now, 60 * second, "back to the interval")
        XCTAssertEqual(schedule.failuresInARow, 0)
        XCTAssertEqual(schedule.next(after: false, at: now) - now, second, "the backoff starts again at 1 s")
    }

    /// Out-of-range configuration and clocks near the end of time never trap (wrapping
    /// arithmetic would make the gate sync in a tight loop; a trap would crash-loop it).
    func testExtremeValuesSaturate() {
        var huge = SyncSchedule(intervalSeconds: 1e300, jitterSeconds: 1e300, maxBackoffSeconds: 1e300, seed: 4)
        XCTAssertEqual(huge.first(at: 10), .max)
        for _ in 0..<100 { XCTAssertGreaterThan(huge.next(after: false, at: 10), 10) }
        XCTAssertEqual(huge.next(after: false, at: .max - 1), .max)

        var negative = SyncSchedule(intervalSeconds: -5, jitterSeconds: -1, maxBackoffSeconds: -3, seed: 5)
        XCTAssertEqual(negative.first(at: 7), 7)
        XCTAssertEqual(negative.next(after: false, at: 7), 7 + second, "the first retry waits 1 s whatever the cap")
        XCTAssertEqual(negative.next(after: false, at: 7), 7 + second, "a cap under 1 s counts as 1 s: no tight loop")
        var tiny = SyncSchedule(intervalSeconds: 60, jitterSeconds: 0, maxBackoffSeconds: 0.01, seed: 6)
        for _ in 0..<5 { XCTAssertEqual(tiny.next(after: false, at: 0), second) }
        XCTAssertEqual(negative.next(after: true, at: .max), .max)
    }
}
