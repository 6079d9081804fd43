import Dispatch
import FaregateCore
import FaregateRuntime
import FaregateSimulation
import Foundation
import Synchronization
import XCTest

/// `BarrierDriver` on a `ManualClock` and a `SimulatedGateIO` that follows it: its two threads move
/// only when the test advances the clock or posts something, and the test waits for them to catch
/// up (`settle`, `quiesce`), never sleeping.
final class BarrierDriverTests: XCTestCase {
    static let ms: UInt64 = 1_000_000
    let clock = ManualClock()
    var io: SimulatedGateIO!
    var driver: BarrierDriver!
    /// What the driver told `start`'s `laneEvents`, in order.
    let laneEvents = Locked<[LaneEvent]>([])

    override func tearDown() {
        driver?.stop()
        super.tearDown()
    }

    var now: UInt64 { clock.monotonicNanos() }

    /// Starts a driver on a board that follows `clock`; `board` may wrap it.
    func start(
        timings: BarrierTimings = BarrierTimings(), beforeStart: (SimulatedGateIO) -> Void = { _ in },
        board: (SimulatedGateIO) -> any GateIO = { $0 }
    ) {
        io = SimulatedGateIO(clock: clock)
        beforeStart(io)
        driver = BarrierDriver(
            io: board(io), clock: clock, directions: .entryOnly, enforcement: .enforced, timings: timings)
        let events = laneEvents
        driver.start { e in events.withLock { $0.append(e) } }
    }

    /// Lets both threads catch up with the clock: the input thread has handed on every input due
    /// by now, the controller thread has handled everything posted and ticked at now.
    func settle(file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(io.waitUntilDelivered(), "the input thread took every due input", file: file, line: line)
        driver.flush()
    }

    /// `settle`, then waits until both threads sleep; returns their deadlines (the input thread's is
    /// its next input's time, nil with none; the controller thread's the earlier of the controller's
    /// deadline and the next heartbeat).
    @discardableResult
    func quiesce(file: StaticString = #filePath, line: UInt = #line) -> [UInt64?] {
        settle(file: file, line: line)
        waitUntil("both threads sleep", file: file, line: line) { clock.sleepDeadlines.count == 2 }
        return clock.sleepDeadlines
    }

    /// Waits until `condition` holds, re-checking it each time a thread begins a sleep on the
    /// clock (each pass of the controller thread ends with one), with a host-time safety net.
    func waitUntil(
        _ what: @autoclosure () -> String, file: StaticString = #filePath, line: UInt = #line,
        _ condition: () -> Bool
    ) {
        while true {
            let begun = clock.sleepsBegun
            if condition() { return }
            guard clock.waitForSleeps(beyond: begun) else {
                XCTFail("never: \(what())", file: file, line: line)
                return
            }
        }
    }

    /// Advances the clock by `nanos` to (or past) the controller thread's deadline and waits for
    /// the pass it wakes for by itself (its heartbeat at the new time).
    func advanceToDriverDeadline(by nanos: UInt64, file: StaticString = #filePath, line: UInt = #line) {
        clock.advance(nanos: nanos)
        let t = now
        waitUntil("a pass at \(t)", file: file, line: line) { io.lastHeartbeat == t }
    }

    /// Moves the clock to `t` in steps of at most `step`, settling after each: inputs are handled
    /// at their own times when they fall on the steps (every script here is on a 10 ms grid).
    func run(to t: UInt64, step: UInt64 = 10 * ms, file: StaticString = #filePath, line: UInt = #line) {
        while now < t {
            clock.advance(nanos: min(step, t - now))
            settle(file: file, line: line)
        }
    }

    func flaps(_ outputs: [SimulatedGateIO.Output]) -> [FlapCommand] {
        outputs.compactMap { if case .flaps(let f) = $0 { f } else { nil } }
    }

    func buzzes(_ outputs: [SimulatedGateIO.Output]) -> [BuzzerPattern] {
        outputs.compactMap { if case .buzzer(let b) = $0 { b } else { nil } }
    }

    // MARK: Decisions and passages

    func testADecisionOpensTheFlapsAndAPassageClosesThem() {
        start()
        quiesce()
        XCTAssertEqual(flaps(io.takeOutputs()), [.close], "start-up closes the flaps")

        let t1 = now
        driver.decided(.open(.ok), at: .unpaid)
        quiesce()
        var out = io.takeOutputs()
        XCTAssertEqual(flaps(out), [.open(.entry)])
        XCTAssertEqual(buzzes(out), [.accept])
        XCTAssertEqual(driver.snapshot.state, .open(.entry))

        io.personWalks(.entry, at: t1 + 100 * Self.ms)
        run(to: t1 + 4_000 * Self.ms)
        out = io.takeOutputs()
        XCTAssertEqual(flaps(out), [.close], "closed once, after the rider left the buffer")
        XCTAssertEqual(driver.snapshot.state, .idle)
        XCTAssertEqual(driver.snapshot.passages, 1)
        XCTAssertEqual(driver.snapshot.alarms, [:])
    }

    /// The controller thread wakes by itself for each heartbeat and for the controller's deadline,
    /// which is not on the heartbeat grid; a pass just before the deadline changes nothing.
    func testAnUnusedOpeningIsCancelledExactlyAtItsDeadline() {
        var timings = BarrierTimings()
        timings.unusedOpening = 1_234 * Self.ms
        start(timings: timings)
        quiesce()
        _ = io.takeOutputs()
        let t1 = now
        let deadline = t1 + timings.unusedOpening
        driver.decided(.open(.ok), at: .unpaid)
        quiesce()
        XCTAssertEqual(flaps(io.takeOutputs()), [.open(.entry)])

        while now + BarrierDriver.heartbeatPeriod < deadline {
            advanceToDriverDeadline(by: BarrierDriver.heartbeatPeriod)
        }
        waitUntil("sleeps until the controller's deadline") { clock.sleepDeadlines.contains(deadline) }
        clock.advance(nanos: deadline - 1 - now)
        let before = quiesce()
        XCTAssertTrue(before.contains(deadline), "still sleeps until the deadline")
        XCTAssertEqual(driver.snapshot.state, .open(.entry), "not cancelled 1 ns before its deadline")
        XCTAssertEqual(io.takeOutputs().filter { if case .flaps = $0 { true } else { false } }, [])

        advanceToDriverDeadline(by: 1)
        XCTAssertEqual(driver.snapshot.state, .idle)
        XCTAssertEqual(flaps(io.takeOutputs()), [.close])
        XCTAssertEqual(driver.snapshot.passages, 0)
    }

    func testHeartbeatsAreFedAsSimulatedTimePasses() {
        start()
        let deadlines = quiesce()
        XCTAssertTrue(deadlines.contains(now + BarrierDriver.heartbeatPeriod), "\(deadlines)")
        XCTAssertTrue(deadlines.contains(nil), "the input thread waits for an input only")
        XCTAssertEqual(io.lastHeartbeat, now)
        let fed = io.heartbeats
        for i in 1...30 {
            advanceToDriverDeadline(by: BarrierDriver.heartbeatPeriod)
            XCTAssertEqual(io.heartbeats, fed + UInt64(i), "one heartbeat per period")
            XCTAssertFalse(io.watchdogExpired(now: now))
        }
        driver.stop()
        clock.advance(nanos: io.watchdogNanos + 1)
        XCTAssertEqual(io.heartbeats, fed + 30, "a stopped loop feeds nothing")
        XCTAssertTrue(io.watchdogExpired(now: now), "so the board fails open by itself")
    }

    /// The heartbeat comes from the controller thread itself (io-board.md), so a controller stuck
    /// in a board call stops feeding the watchdog and the board fails open.
    func testAHungControllerStopsFeedingTheWatchdog() {
        let stalling = StallingGateIO()
        start(board: { board in
            stalling.board = board
            return stalling
        })
        quiesce()
        XCTAssertFalse(io.watchdogExpired(now: now))
        stalling.stallNextFlapCommand()
        driver.decided(.open(.ok), at: .unpaid)
        XCTAssertEqual(stalling.stalled.wait(timeout: .now() + 10), .success, "the controller is stuck")
        clock.advance(nanos: io.watchdogNanos + 1)
        XCTAssertTrue(io.watchdogExpired(now: now), "no heartbeat from a stuck controller")
        stalling.release.signal()
        settle()
        XCTAssertFalse(io.watchdogExpired(now: now), "fed again once it runs")
        XCTAssertEqual(driver.snapshot.state, .open(.entry))
    }

    // MARK: Fire alarm and staff

    func testFireAlarmAtStartHoldsTheFlapsOpenUntilStaffReset() {
        start(beforeStart: { io in io.fireAlarm(true, at: self.now) })
        // start() reads the level itself, before any thread runs.
        XCTAssertEqual(flaps(io.takeOutputs()).last, .retract)
        XCTAssertEqual(driver.snapshot.state, .freeOpen(.fireAlarm))

        driver.decided(.open(.ok), at: .unpaid)
        driver.staff(.setMode(.normal))
        run(to: now + 10_000 * Self.ms, step: BarrierDriver.heartbeatPeriod)
        XCTAssertEqual(flaps(io.takeOutputs()), [], "held open while time passes")
        XCTAssertEqual(driver.snapshot.state, .freeOpen(.fireAlarm), "no reset while the alarm is active")
        XCTAssertEqual(driver.snapshot.refusedTaps, 1)

        io.fireAlarm(false, at: now + 10 * Self.ms)
        run(to: now + 10 * Self.ms)
        XCTAssertEqual(driver.snapshot.state, .freeOpen(.fireAlarm), "latched until staff reset it")
        driver.staff(.setMode(.normal))
        quiesce()
        XCTAssertEqual(driver.snapshot.state, .idle)
        XCTAssertEqual(flaps(io.takeOutputs()), [.close])
    }

    /// What the lane does by itself is told, in order, once the snapshot shows it: the board lost
    /// and back (with the out-of-service reason), the fire alarm's and a power loss's free-open and
    /// their ends; a staff emergency-open and its end are not (they are the staff commands' own
    /// journal entries).
    func testTheLaneTellsWhatItDidByItself() {
        start()
        quiesce()
        io.ioBoard(online: false, at: now + 10 * Self.ms)
        run(to: now + 10 * Self.ms)
        XCTAssertEqual(driver.snapshot.state, .outOfService)
        XCTAssertFalse(driver.snapshot.boardOnline)
        XCTAssertEqual(driver.snapshot.outOfServiceReason, "io_board_lost")
        XCTAssertEqual(laneEvents.withLock { $0 }, [.ioBoard(online: false)])
        io.ioBoard(online: true, at: now + 10 * Self.ms)
        run(to: now + 10 * Self.ms)
        XCTAssertEqual(driver.snapshot.state, .idle)
        XCTAssertNil(driver.snapshot.outOfServiceReason)
        driver.staff(.setMode(.outOfService))
        quiesce()
        XCTAssertEqual(driver.snapshot.outOfServiceReason, "staff")
        driver.staff(.setMode(.normal))
        io.powerFailure(true, at: now + 10 * Self.ms)
        io.powerFailure(false, at: now + 20 * Self.ms)
        io.fireAlarm(true, at: now + 30 * Self.ms)
        io.fireAlarm(false, at: now + 40 * Self.ms)
        run(to: now + 40 * Self.ms)
        // Staff take the latched fire opening over (their command is its own entry) and end it.
        driver.staff(.setMode(.emergencyOpen))
        driver.staff(.setMode(.normal))
        quiesce()
        XCTAssertEqual(
            laneEvents.withLock { $0 },
            [
                .ioBoard(online: false), .ioBoard(online: true), .emergencyOpen(.powerLoss), .emergencyEnded,
                .emergencyOpen(.fireAlarm),
            ], "staff took the fire opening over and ended it: their commands are the record")
    }

    func testStaffCommandsReachTheController() {
        struct Step {
            var command: StaffCommand
            var state: BarrierController.State
            var mode: GateMode
            var directions: DirectionMode = .entryOnly
            var enforcement: Enforcement = .enforced
        }
        let steps: [Step] = [
            Step(command: .setMode(.outOfService), state: .outOfService, mode: .outOfService),
            Step(command: .setMode(.closed), state: .stationClosed, mode: .closed),
            Step(command: .setMode(.emergencyOpen), state: .freeOpen(.staff), mode: .emergencyOpen),
            Step(command: .setMode(.normal), state: .idle, mode: .normal),
            Step(command: .setDirections(.bidirectional), state: .idle, mode: .normal, directions: .bidirectional),
            Step(
                command: .setEnforcement(.shadow), state: .idle, mode: .normal, directions: .bidirectional,
                enforcement: .shadow),
            Step(
                command: .setEnforcement(.enforced), state: .idle, mode: .normal, directions: .bidirectional),
        ]
        start()
        for (i, s) in steps.enumerated() {
            driver.staff(s.command)
            quiesce()
            let status = driver.snapshot
            XCTAssertEqual(status.state, s.state, "step \(i) \(s.command)")
            XCTAssertEqual(status.mode, s.mode, "step \(i) \(s.command)")
            XCTAssertEqual(status.directions, s.directions, "step \(i) \(s.command)")
            XCTAssertEqual(status.enforcement, s.enforcement, "step \(i) \(s.command)")
        }

        // Someone pushes into the flaps without a tap; staff reset the alarm.
        _ = io.takeOutputs()
        io.inject([TimedGateInput(at: now + 10 * Self.ms, .sensor(.buffer, .adult))])
        run(to: now + 10 * Self.ms)
        XCTAssertEqual(driver.snapshot.state, .alarm(.enteredWithoutTap))
        XCTAssertEqual(driver.snapshot.activeAlarm, .enteredWithoutTap)
        XCTAssertEqual(buzzes(io.takeOutputs()), [.alarm])
        driver.staff(.resetAlarm)
        quiesce()
        XCTAssertEqual(driver.snapshot.state, .idle)
        XCTAssertNil(driver.snapshot.activeAlarm)
        XCTAssertEqual(buzzes(io.takeOutputs()), [.off])
    }

    func testStatusCountsPassagesAlarmsAndRefusedTaps() {
        start()
        quiesce()
        // A rider; a rider with a close tailgater; a tap at the closed end; a reverse intruder.
        driver.decided(.open(.ok), at: .unpaid)
        io.personWalks(.entry, at: now + 100 * Self.ms)
        run(to: now + 4_000 * Self.ms)
        driver.decided(.open(.ok), at: .unpaid)
        io.tailgater(.entry, at: now + 100 * Self.ms, gap: 100 * Self.ms)
        run(to: now + 8_000 * Self.ms)
        driver.decided(.open(.ok), at: .paid)
        io.reverseIntruder(against: .entry, at: now + 100 * Self.ms)
        run(to: now + 8_000 * Self.ms)

        let status = driver.snapshot
        XCTAssertEqual(status.passages, 2)
        XCTAssertEqual(status.alarms, [.closeTailgating: 1, .reverseIntrusion: 1])
        XCTAssertEqual(status.refusedTaps, 1)
        XCTAssertEqual(status.state, .idle)
        XCTAssertNil(status.activeAlarm)
    }

    // MARK: Stopping

    func testStopJoinsBothThreadsWhileTheirDeadlinesAreFarAway() {
        let hour: UInt64 = 3_600_000 * Self.ms
        var timings = BarrierTimings()
        timings.unusedOpening = hour
        start(timings: timings)
        driver.decided(.open(.ok), at: .unpaid)
        io.inject([TimedGateInput(at: now + hour, .sensor(.unpaidDetection, .adult))])
        let deadlines = quiesce()
        XCTAssertTrue(deadlines.contains(now + hour), "the input thread sleeps until an input an hour away")

        let stopped = DispatchSemaphore(value: 0)
        let driver = self.driver!
        Thread.detachNewThread {
            driver.stop()
            stopped.signal()
        }
        // A safety net for a hang, not a timing: under the ManualClock nothing else would wake them.
        XCTAssertEqual(stopped.wait(timeout: .now() + 10), .success, "stop() returned")
        XCTAssertEqual(clock.sleepDeadlines, [], "neither thread sleeps on the clock any more")
        driver.flush()  // returns at once: nothing handles it any more
        driver.decided(.open(.ok), at: .unpaid)
        XCTAssertEqual(driver.snapshot.state, .open(.entry), "nothing is handled after stop")
    }
}

/// A simulated board whose flap drive can be made to hang once, as a stuck serial write would:
/// the next flap command blocks the calling thread until `release` is signalled.
final class StallingGateIO: GateInputSource, FireAlarmInput, FlapDrive, GateSignals, @unchecked Sendable {
    // @unchecked Sendable: `board` is set before the driver starts and never changed; `armed` is
    // an atomic; the semaphores are thread-safe.
    var board: SimulatedGateIO!
    private let armed = Atomic<Bool>(false)
    /// Signalled when a flap command starts hanging.
    let stalled = DispatchSemaphore(value: 0)
    /// Ends the hang.
    let release = DispatchSemaphore(value: 0)

    func stallNextFlapCommand() { armed.store(true, ordering: .sequentiallyConsistent) }

    func command(_ command: FlapCommand) {
        if armed.exchange(false, ordering: .sequentiallyConsistent) {
            stalled.signal()
            release.wait()
        }
        board.command(command)
    }

    func nextInput() -> TimedGateInput? { board.nextInput() }
    func cancel() { board.cancel() }
    var fireAlarmActive: Bool { board.fireAlarmActive }
    func heartbeat() { board.heartbeat() }
    func indicator(_ end: GateEnd, _ indicator: Indicator) { board.indicator(end, indicator) }
    func display(_ end: GateEnd, _ text: DisplayText) { board.display(end, text) }
    func buzzer(_ pattern: BuzzerPattern) { board.buzzer(pattern) }
}
