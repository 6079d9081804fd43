import Dispatch
import FaregateCore
import FaregateRuntime
import FaregateSimulation
import Foundation
import XCTest

/// Many threads post decisions to one `BarrierDriver` at once while another moves the clock and
/// reads its status: every decision must reach the controller once, which the board's record
/// shows (one accept or deny chirp per decision) and the status counts (refused taps). A lost or
/// doubled post, or a lost wake of the controller thread, fails the sums or hangs `flush()`.
/// The host-clock test runs under ThreadSanitizer (scripts/tsan-suites.txt says why not the other).
final class BarrierDriverStressTests: XCTestCase {
    static let posters = 4
    static let perPoster = 600

    func testNoDecisionIsLostOnTheManualClock() {
        let clock = ManualClock()
        run(clock: clock, io: SimulatedGateIO(clock: clock)) { clock.advance(nanos: 7_000_000) }
    }

    /// The same on the host's clock: the controller thread also wakes by itself every heartbeat.
    func testNoDecisionIsLostOnTheHostClock() {
        let clock = SystemClock()
        run(clock: clock, io: SimulatedGateIO(clock: clock)) {}
    }

    /// Each poster sends, in turn, an open at the entry end (accepted: banked or opening, never
    /// refused, as nobody walks), a deny at the entry end, and an open at the paid end of this
    /// entry-only gate (refused). Meanwhile `moveTime` runs repeatedly: ticks cancel unused
    /// openings, which changes the state but no count.
    private func run(clock: any GateClock, io: SimulatedGateIO, moveTime: @escaping @Sendable () -> Void) {
        let driver = BarrierDriver(io: io, clock: clock, directions: .entryOnly, enforcement: .enforced)
        driver.start()
        _ = io.takeOutputs()
        let kinds: [(Decision, GateEnd)] = [(.open(.ok), .unpaid), (.deny(.unboundCard), .unpaid), (.open(.ok), .paid)]
        let started = DispatchSemaphore(value: 0)
        let go = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        for p in 0..<Self.posters {
            done.enter()
            Thread.detachNewThread {
                started.signal()
                go.wait()
                for i in 0..<Self.perPoster {
                    let (decision, end) = kinds[(p + i) % kinds.count]
                    driver.decided(decision, at: end)
                }
                done.leave()
            }
        }
        let finished = DispatchSemaphore(value: 0)
        let mover = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            while finished.wait(timeout: .now()) == .timedOut {
                moveTime()
                _ = driver.snapshot
            }
            mover.signal()
        }
        for _ in 0..<Self.posters { started.wait() }
        for _ in 0..<Self.posters { go.signal() }
        // Safety nets for a hang, not timings.
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success, "every poster finished")
        finished.signal()
        XCTAssertEqual(mover.wait(timeout: .now() + 60), .success)
        driver.flush()
        let buzzes = io.takeOutputs().compactMap { if case .buzzer(let b) = $0 { b } else { nil } }
        let total = Self.posters * Self.perPoster
        XCTAssertEqual(buzzes.count { $0 == .accept }, total / kinds.count, "each entry open chirped once")
        XCTAssertEqual(buzzes.count { $0 == .deny }, 2 * total / kinds.count, "each deny and paid-end open beeped")
        XCTAssertEqual(driver.snapshot.refusedTaps, total / kinds.count, "each paid-end open refused once")
        driver.stop()
    }
}
