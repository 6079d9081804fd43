import FaregateCore
import FaregateSimulation
import XCTest

/// Scenarios from the simulated board's out-of-band controls, driven through the controller in
/// simulated time.
final class SimulatedGateIOTests: XCTestCase {
    let t0: UInt64 = 10_000_000_000
    static let ms: UInt64 = 1_000_000

    func alarms(_ a: [SimulatedGateIO.TimedAction]) -> [AlarmKind] {
        a.compactMap { if case .alarmRaised(let k, _) = $0.action { k } else { nil } }
    }

    func bodies(_ a: [SimulatedGateIO.TimedAction]) -> [BodyRole] {
        a.compactMap { if case .bodyEntered(_, let r) = $0.action { r } else { nil } }
    }

    func start(_ c: inout BarrierController, _ io: SimulatedGateIO) {
        for a in c.start(now: t0) { a.perform(on: io, io) }
        _ = io.takeOutputs()
    }

    func tap(_ c: inout BarrierController, _ io: SimulatedGateIO, at t: UInt64, end: GateEnd = .unpaid) {
        var a: [BarrierAction] = []
        c.handle(.decided(end, .open(.ok)), now: t, into: &a)
        for x in a { x.perform(on: io, io) }
    }

    func testPersonWalksThroughAfterATap() {
        let io = SimulatedGateIO()
        var c = BarrierController()
        start(&c, io)
        _ = io.drive(&c, until: t0)
        tap(&c, io, at: t0)
        io.personWalks(.entry, at: t0 + 100 * Self.ms)
        let a = io.drive(&c, until: t0 + 5_000 * Self.ms)
        XCTAssertEqual(bodies(a), [.authorized])
        XCTAssertEqual(alarms(a), [])
        XCTAssertEqual(c.state, .idle)
        let flaps = io.takeOutputs().filter { if case .flaps = $0 { true } else { false } }
        XCTAssertEqual(flaps, [.flaps(.open(.entry)), .flaps(.close)])
    }

    func testCloseTailgaterIsLetThroughWithAlarm() {
        let io = SimulatedGateIO()
        var c = BarrierController()
        start(&c, io)
        tap(&c, io, at: t0)
        io.tailgater(.entry, at: t0 + 100 * Self.ms, gap: 100 * Self.ms)
        let a = io.drive(&c, until: t0 + 20_000 * Self.ms)
        XCTAssertEqual(alarms(a), [.closeTailgating])
        XCTAssertEqual(bodies(a), [.authorized, .tailgater])
        XCTAssertEqual(a.filter { $0.action == .flaps(.close) }.count, 1, "closed once, after both passed")
        XCTAssertEqual(c.state, .idle)
    }

    func testOrdinaryTailgaterIsStoppedByTheFlaps() {
        let io = SimulatedGateIO()
        var c = BarrierController()
        start(&c, io)
        tap(&c, io, at: t0)
        let first = t0 + 100 * Self.ms
        io.personWalks(.entry, at: first)
        // The follower reaches the monitoring zone 280 ms after the first left it, while the first
        // is still in the buffer, finds the flaps closed and backs away.
        let followerStart = first + PassageScript.dwell + 280 * Self.ms
        io.inject(PassageScript.approachAndRetreat(.entry, start: followerStart, intoBuffer: false))
        let a = io.drive(&c, until: t0 + 20_000 * Self.ms)
        XCTAssertEqual(alarms(a), [.tailgating])
        XCTAssertEqual(bodies(a), [.authorized, .tailgater])
        let closeAt = a.first { $0.action == .flaps(.close) }?.at ?? .max
        XCTAssertLessThan(
            closeAt, followerStart + PassageScript.step + 1_000 * Self.ms, "closed in front of the follower")
        XCTAssertTrue(a.contains { $0.action == .alarmCleared(.tailgating) })
        XCTAssertEqual(c.state, .idle)
    }

    func testFollowerAfterTheFlapsClosedEntersWithoutTap() {
        let io = SimulatedGateIO()
        var c = BarrierController()
        start(&c, io)
        tap(&c, io, at: t0)
        io.tailgater(.entry, at: t0 + 100 * Self.ms, gap: 800 * Self.ms)
        let a = io.drive(&c, until: t0 + 20_000 * Self.ms)
        XCTAssertEqual(alarms(a), [.enteredWithoutTap])
    }

    func testChildInFrontOfAdult() {
        let io = SimulatedGateIO()
        var c = BarrierController()
        start(&c, io)
        tap(&c, io, at: t0)
        io.childThenAdult(.entry, at: t0 + 100 * Self.ms)
        let a = io.drive(&c, until: t0 + 10_000 * Self.ms)
        XCTAssertEqual(bodies(a), [.authorized, .childCompanion])
        XCTAssertEqual(alarms(a), [])
    }

    func testReverseIntruderWhileClosedAndWhileOpen() {
        let io = SimulatedGateIO()
        var c = BarrierController()
        start(&c, io)
        io.reverseIntruder(against: .entry, at: t0)
        var a = io.drive(&c, until: t0 + 10_000 * Self.ms)
        XCTAssertEqual(alarms(a), [.reverseIntrusion])
        XCTAssertEqual(c.state, .idle)

        let t1 = t0 + 20_000 * Self.ms
        tap(&c, io, at: t1)
        io.reverseIntruder(against: .entry, at: t1 + 100 * Self.ms)
        a = io.drive(&c, until: t1 + 5_000 * Self.ms)
        XCTAssertEqual(alarms(a), [.reverseIntrusion])
        XCTAssertEqual(c.state, .open(.entry), "the payer's opening comes back after the intruder left")
        XCTAssertEqual(c.credits, 1)
    }

    func testFireAlarmFromTheBoard() {
        let io = SimulatedGateIO()
        var c = BarrierController()
        start(&c, io)
        io.fireAlarm(true, at: t0 + 1_000 * Self.ms)
        io.personWalks(.exit, at: t0 + 2_000 * Self.ms)
        io.personWalks(.entry, at: t0 + 2_500 * Self.ms)
        let a = io.drive(&c, until: t0 + 10_000 * Self.ms)
        XCTAssertEqual(c.state, .freeOpen(.fireAlarm))
        XCTAssertEqual(alarms(a), [], "nobody is alarmed during an evacuation")
        XCTAssertTrue(io.takeOutputs().contains(.flaps(.retract)))
        XCTAssertTrue(io.fireAlarmActive)
    }

    func testHeartbeatFeedsTheWatchdog() {
        let io = SimulatedGateIO(watchdogNanos: 1_000 * Self.ms)
        var c = BarrierController()
        _ = io.drive(&c, until: t0)
        XCTAssertFalse(io.watchdogExpired(now: t0 + 1_000 * Self.ms))
        XCTAssertTrue(io.watchdogExpired(now: t0 + 1_001 * Self.ms), "a silent controller lets the board fail open")
    }

    func testNextInputDeliversInTimeOrderAndCancels() {
        let io = SimulatedGateIO()
        io.inject([
            TimedGateInput(at: 20, .sensor(.buffer, .clear)), TimedGateInput(at: 10, .sensor(.buffer, .adult)),
        ])
        XCTAssertEqual(io.nextInput(), TimedGateInput(at: 10, .sensor(.buffer, .adult)))
        XCTAssertEqual(io.nextInput(), TimedGateInput(at: 20, .sensor(.buffer, .clear)))
        io.cancel()
        XCTAssertNil(io.nextInput())
    }
}
