import FaregateCore
import XCTest

/// Table-driven tests of the barrier state machine with simulated time: each step is
/// (milliseconds since start, event, state after, actions that must appear, actions that must not).
final class BarrierControllerTests: XCTestCase {
    struct Step {
        var ms: UInt64
        var event: BarrierEvent
        var state: BarrierController.State
        var expect: [BarrierAction] = []
        var forbid: [BarrierAction] = []
    }

    static let t0: UInt64 = 1_000_000_000

    /// Runs `steps`, sending `.tick` first whenever the controller's deadline has passed.
    @discardableResult
    func run(_ c: inout BarrierController, _ steps: [Step], file: StaticString = #filePath, line: UInt = #line)
        -> [BarrierAction]
    {
        var all: [BarrierAction] = []
        for (i, s) in steps.enumerated() {
            let now = Self.t0 + s.ms * 1_000_000
            var actions: [BarrierAction] = []
            if case .tick = s.event {
            } else if let d = c.deadline, d <= now {
                c.handle(.tick, now: now, into: &actions)
            }
            c.handle(s.event, now: now, into: &actions)
            all += actions
            XCTAssertEqual(c.state, s.state, "step \(i) \(s.event)", file: file, line: line)
            for e in s.expect {
                XCTAssertTrue(
                    actions.contains(e), "step \(i) \(s.event): missing \(e) in \(actions)", file: file, line: line)
            }
            for f in s.forbid {
                XCTAssertFalse(
                    actions.contains(f), "step \(i) \(s.event): unexpected \(f) in \(actions)", file: file, line: line)
            }
        }
        return all
    }

    static let ok = BarrierEvent.decided(.unpaid, .open(.ok))
    static func s(_ z: SensorZone, _ r: SensorReading = .adult) -> BarrierEvent { .sensor(z, r) }

    func testStartShowsIdleOutputs() {
        var c = BarrierController(directions: .entryOnly)
        let a = c.start(now: Self.t0)
        XCTAssertEqual(
            a,
            [
                .flaps(.close), .indicator(.unpaid, .greenArrow), .display(.unpaid, .ready),
                .indicator(.paid, .redCross), .display(.paid, .noPassage),
            ])
    }

    func testOrdinaryPassage() {
        var c = BarrierController()
        _ = c.start(now: Self.t0)
        run(
            &c,
            [
                Step(
                    ms: 0, event: .tapDetected(.unpaid), state: .validating(.unpaid),
                    expect: [.display(.unpaid, .reading)]),
                Step(
                    ms: 100, event: Self.ok, state: .open(.entry),
                    expect: [.flaps(.open(.entry)), .buzzer(.accept), .display(.unpaid, .reason(.ok))]),
                Step(
                    ms: 600, event: Self.s(.unpaidMonitoring), state: .passing(.entry),
                    expect: [.bodyEntered(.entry, .authorized)]),
                Step(ms: 900, event: Self.s(.buffer), state: .passing(.entry)),
                Step(ms: 1000, event: Self.s(.unpaidMonitoring, .clear), state: .passing(.entry)),
                Step(ms: 1100, event: Self.s(.paidMonitoring), state: .passing(.entry)),
                Step(
                    ms: 1300, event: Self.s(.buffer, .clear), state: .closing(.entry),
                    expect: [.flaps(.close), .display(.unpaid, .ready)]),
                Step(ms: 1900, event: .tick, state: .idle),
                Step(ms: 2000, event: Self.s(.paidMonitoring, .clear), state: .idle, forbid: [.buzzer(.alarm)]),
            ])
        XCTAssertEqual(c.credits, 0)
        XCTAssertNil(c.deadline)
    }

    func testValidationTimesOut() {
        var c = BarrierController()
        run(
            &c,
            [
                Step(ms: 0, event: .tapDetected(.unpaid), state: .validating(.unpaid)),
                Step(ms: 1999, event: .tick, state: .validating(.unpaid)),
                Step(ms: 2000, event: .tick, state: .idle),
            ])
    }

    func testDenyAndStaffDecisionsKeepFlapsClosed() {
        var c = BarrierController()
        _ = c.start(now: Self.t0)
        let a = run(
            &c,
            [
                Step(ms: 0, event: .tapDetected(.unpaid), state: .validating(.unpaid)),
                Step(
                    ms: 50, event: .decided(.unpaid, .deny(.healthRed)), state: .idle,
                    expect: [.buzzer(.deny), .display(.unpaid, .reason(.healthRed))]),
                Step(
                    ms: 3000, event: .decided(.unpaid, .staff(.healthYellow)), state: .idle,
                    expect: [.callStaff(.unpaid, .healthYellow), .display(.unpaid, .reason(.healthYellow))]),
            ])
        XCTAssertFalse(a.contains { if case .flaps(.open) = $0 { true } else { false } })
    }

    func testUnusedOpeningIsCancelledAfterConfiguredTime() {
        for seconds: UInt64 in [5, 2] {
            var c = BarrierController(timings: BarrierTimings(unusedOpening: seconds * 1_000_000_000))
            _ = c.start(now: Self.t0)
            run(
                &c,
                [
                    Step(ms: 0, event: Self.ok, state: .open(.entry)),
                    Step(ms: seconds * 1000 - 1, event: .tick, state: .open(.entry)),
                    Step(
                        ms: seconds * 1000, event: .tick, state: .idle,
                        expect: [.openingCancelled(.entry), .flaps(.close)]),
                ])
        }
    }

    func testRiderSteppingBackKeepsTheTap() {
        var c = BarrierController()
        run(
            &c,
            [
                Step(ms: 0, event: Self.ok, state: .open(.entry)),
                Step(ms: 500, event: Self.s(.unpaidMonitoring), state: .passing(.entry)),
                Step(ms: 900, event: Self.s(.unpaidMonitoring, .clear), state: .open(.entry)),
            ])
        XCTAssertEqual(c.credits, 1)
    }

    func testCloseTailgatingKeepsFlapsOpenAndAlarms() {
        var c = BarrierController()
        _ = c.start(now: Self.t0)
        run(
            &c,
            [
                Step(ms: 0, event: Self.ok, state: .open(.entry)),
                Step(ms: 500, event: Self.s(.unpaidMonitoring), state: .passing(.entry)),
                Step(ms: 800, event: Self.s(.buffer), state: .passing(.entry)),
                Step(ms: 900, event: Self.s(.unpaidMonitoring, .clear), state: .passing(.entry)),
                Step(
                    ms: 1100, event: Self.s(.unpaidMonitoring), state: .passing(.entry),
                    expect: [
                        .bodyEntered(.entry, .tailgater), .alarmRaised(.closeTailgating, enforced: true),
                        .buzzer(.alarm), .indicator(.unpaid, .redCross),
                    ], forbid: [.flaps(.close)]),
                Step(ms: 1200, event: Self.s(.buffer, .clear), state: .passing(.entry), forbid: [.flaps(.close)]),
                Step(ms: 1300, event: Self.s(.buffer), state: .passing(.entry)),
                Step(ms: 1400, event: Self.s(.unpaidMonitoring, .clear), state: .passing(.entry)),
                Step(ms: 1700, event: Self.s(.buffer, .clear), state: .closing(.entry), expect: [.flaps(.close)]),
                Step(ms: 2200, event: .tick, state: .idle, expect: [.alarmCleared(.closeTailgating), .buzzer(.off)]),
            ])
    }

    func testOrdinaryTailgatingClosesInFrontOfTheFollower() {
        var c = BarrierController()
        _ = c.start(now: Self.t0)
        run(
            &c,
            [
                Step(ms: 0, event: Self.ok, state: .open(.entry)),
                Step(ms: 500, event: Self.s(.unpaidMonitoring), state: .passing(.entry)),
                Step(ms: 800, event: Self.s(.buffer), state: .passing(.entry)),
                Step(ms: 900, event: Self.s(.unpaidMonitoring, .clear), state: .passing(.entry)),
                Step(
                    ms: 1400, event: Self.s(.unpaidMonitoring), state: .passing(.entry),
                    expect: [.bodyEntered(.entry, .tailgater), .alarmRaised(.tailgating, enforced: true)]),
                Step(ms: 1500, event: Self.s(.buffer, .clear), state: .closing(.entry), expect: [.flaps(.close)]),
                Step(ms: 2000, event: .tick, state: .alarm(.tailgating)),
                Step(ms: 2500, event: Self.s(.unpaidMonitoring, .clear), state: .alarm(.tailgating)),
                Step(ms: 4999, event: .tick, state: .alarm(.tailgating)),
                Step(ms: 5000, event: .tick, state: .idle, expect: [.alarmCleared(.tailgating), .buzzer(.off)]),
            ])
    }

    func testTailgaterWhoTapsIsLetThrough() {
        var c = BarrierController()
        run(
            &c,
            [
                Step(ms: 0, event: Self.ok, state: .open(.entry)),
                Step(ms: 500, event: Self.s(.unpaidMonitoring), state: .passing(.entry)),
                Step(ms: 800, event: Self.s(.buffer), state: .passing(.entry)),
                Step(ms: 900, event: Self.s(.unpaidMonitoring, .clear), state: .passing(.entry)),
                Step(ms: 1400, event: Self.s(.unpaidMonitoring), state: .passing(.entry)),
                Step(ms: 1500, event: Self.s(.buffer, .clear), state: .closing(.entry)),
                Step(ms: 2000, event: .tick, state: .alarm(.tailgating)),
                Step(
                    ms: 2500, event: Self.ok, state: .open(.entry),
                    expect: [.alarmCleared(.tailgating), .flaps(.open(.entry))]),
                Step(
                    ms: 2800, event: Self.s(.buffer), state: .passing(.entry),
                    expect: [.bodyEntered(.entry, .authorized)]),
            ])
    }

    func testChildInFrontOfAdultPassesOnOneTap() {
        var c = BarrierController()
        let a = run(
            &c,
            [
                Step(ms: 0, event: Self.ok, state: .open(.entry)),
                Step(ms: 500, event: Self.s(.unpaidMonitoring, .child), state: .passing(.entry)),
                Step(ms: 700, event: Self.s(.buffer, .child), state: .passing(.entry)),
                Step(ms: 800, event: Self.s(.unpaidMonitoring, .clear), state: .passing(.entry)),
                Step(
                    ms: 1300, event: Self.s(.unpaidMonitoring, .adult), state: .passing(.entry),
                    expect: [.bodyEntered(.entry, .childCompanion)]),
                Step(ms: 1500, event: Self.s(.buffer, .adult), state: .passing(.entry)),
                Step(ms: 1600, event: Self.s(.unpaidMonitoring, .clear), state: .passing(.entry)),
                Step(ms: 1900, event: Self.s(.buffer, .clear), state: .closing(.entry)),
                Step(ms: 2400, event: .tick, state: .idle),
            ])
        XCTAssertFalse(a.contains { if case .alarmRaised = $0 { true } else { false } })
    }

    func testChildAndAdultWithoutGapPassOnOneTap() {
        var c = BarrierController()
        let a = run(
            &c,
            [
                Step(ms: 0, event: Self.ok, state: .open(.entry)),
                Step(ms: 500, event: Self.s(.unpaidMonitoring, .child), state: .passing(.entry)),
                Step(
                    ms: 800, event: Self.s(.unpaidMonitoring, .adult), state: .passing(.entry),
                    expect: [.bodyEntered(.entry, .childCompanion)]),
            ])
        XCTAssertFalse(a.contains { if case .alarmRaised = $0 { true } else { false } })
    }

    func testAdultFollowingAdultIsNotACompanion() {
        var c = BarrierController()
        run(
            &c,
            [
                Step(ms: 0, event: Self.ok, state: .open(.entry)),
                Step(ms: 500, event: Self.s(.unpaidMonitoring, .adult), state: .passing(.entry)),
                Step(ms: 700, event: Self.s(.buffer), state: .passing(.entry)),
                Step(ms: 800, event: Self.s(.unpaidMonitoring, .clear), state: .passing(.entry)),
                Step(
                    ms: 1300, event: Self.s(.unpaidMonitoring, .adult), state: .passing(.entry),
                    expect: [.bodyEntered(.entry, .tailgater), .alarmRaised(.tailgating, enforced: true)]),
            ])
    }

    func testTwoTapsLetTwoRidersThroughWithoutAlarm() {
        var c = BarrierController()
        let a = run(
            &c,
            [
                Step(ms: 0, event: Self.ok, state: .open(.entry)),
                Step(ms: 300, event: Self.ok, state: .open(.entry)),
                Step(ms: 500, event: Self.s(.unpaidMonitoring), state: .passing(.entry)),
                Step(ms: 700, event: Self.s(.buffer), state: .passing(.entry)),
                Step(ms: 800, event: Self.s(.unpaidMonitoring, .clear), state: .passing(.entry)),
                Step(
                    ms: 1000, event: Self.s(.unpaidMonitoring), state: .passing(.entry),
                    expect: [.bodyEntered(.entry, .authorized)]),
                Step(ms: 1100, event: Self.s(.buffer, .clear), state: .passing(.entry)),
                Step(ms: 1200, event: Self.s(.buffer), state: .passing(.entry)),
                Step(ms: 1300, event: Self.s(.unpaidMonitoring, .clear), state: .passing(.entry)),
                Step(ms: 1600, event: Self.s(.buffer, .clear), state: .closing(.entry)),
            ])
        XCTAssertFalse(a.contains { if case .alarmRaised = $0 { true } else { false } })
        XCTAssertEqual(c.credits, 0)
    }

    func testBufferZoneNeverClosesOnAPerson() {
        var c = BarrierController()
        _ = c.start(now: Self.t0)
        run(
            &c,
            [
                Step(ms: 0, event: Self.ok, state: .open(.entry)),
                Step(ms: 500, event: Self.s(.unpaidMonitoring), state: .passing(.entry)),
                Step(ms: 700, event: Self.s(.buffer), state: .passing(.entry)),
                Step(ms: 800, event: Self.s(.unpaidMonitoring, .clear), state: .passing(.entry)),
                // The rider lingers in the buffer far past every timer: flaps stay open.
                Step(ms: 60_000, event: .tick, state: .passing(.entry), forbid: [.flaps(.close)]),
                Step(ms: 60_100, event: Self.s(.buffer, .clear), state: .closing(.entry), expect: [.flaps(.close)]),
                // A body reaches the buffer while the flaps travel: they reopen.
                Step(
                    ms: 60_300, event: Self.s(.buffer), state: .passing(.entry),
                    expect: [.flaps(.open(.entry))]),
            ])
    }

    func testReverseIntrusionWhileOpenClosesAndReopensForThePayer() {
        var c = BarrierController()
        _ = c.start(now: Self.t0)
        run(
            &c,
            [
                Step(ms: 0, event: Self.ok, state: .open(.entry)),
                Step(
                    ms: 200, event: Self.s(.paidMonitoring), state: .alarm(.reverseIntrusion),
                    expect: [.alarmRaised(.reverseIntrusion, enforced: true), .flaps(.close), .buzzer(.alarm)]),
                Step(ms: 1000, event: Self.s(.paidMonitoring, .clear), state: .alarm(.reverseIntrusion)),
                Step(
                    ms: 3200, event: .tick, state: .open(.entry),
                    expect: [.alarmCleared(.reverseIntrusion), .flaps(.open(.entry))]),
            ])
        XCTAssertEqual(c.credits, 1)
    }

    func testReverseIntrusionWhilePassingBeforeTheRiderCrossed() {
        var c = BarrierController()
        run(
            &c,
            [
                Step(ms: 0, event: Self.ok, state: .open(.entry)),
                Step(ms: 300, event: Self.s(.unpaidMonitoring), state: .passing(.entry)),
                Step(
                    ms: 400, event: Self.s(.paidMonitoring), state: .alarm(.reverseIntrusion),
                    expect: [.alarmRaised(.reverseIntrusion, enforced: true)]),
            ])
        XCTAssertEqual(c.credits, 1, "the rider's tap is kept")
    }

    func testReverseIntrusionWhileClosed() {
        var c = BarrierController(directions: .entryOnly)
        run(
            &c,
            [
                Step(
                    ms: 0, event: Self.s(.paidMonitoring), state: .alarm(.reverseIntrusion),
                    expect: [.alarmRaised(.reverseIntrusion, enforced: true), .buzzer(.alarm)],
                    forbid: [.flaps(.open(.exit))]),
                Step(ms: 500, event: Self.s(.paidMonitoring, .clear), state: .alarm(.reverseIntrusion)),
                Step(ms: 3000, event: .tick, state: .idle, expect: [.alarmCleared(.reverseIntrusion)]),
            ])
    }

    func testEnteringWithoutATap() {
        var c = BarrierController(directions: .entryOnly)
        run(
            &c,
            [
                Step(ms: 0, event: Self.s(.unpaidMonitoring), state: .idle, forbid: [.buzzer(.alarm)]),
                Step(
                    ms: 500, event: Self.s(.buffer), state: .alarm(.enteredWithoutTap),
                    expect: [
                        .alarmRaised(.enteredWithoutTap, enforced: true), .display(.unpaid, .alarm(.enteredWithoutTap)),
                    ],
                    forbid: [.flaps(.open(.entry))]),
                Step(ms: 900, event: Self.s(.buffer, .clear), state: .alarm(.enteredWithoutTap)),
                Step(ms: 1000, event: Self.s(.unpaidMonitoring, .clear), state: .alarm(.enteredWithoutTap)),
                Step(ms: 3500, event: .tick, state: .idle),
            ])
    }

    func testStaffResetEndsAlarm() {
        var c = BarrierController()
        run(
            &c,
            [
                Step(ms: 0, event: Self.s(.buffer), state: .alarm(.enteredWithoutTap)),
                Step(ms: 100, event: .staff(.resetAlarm), state: .idle, expect: [.alarmCleared(.enteredWithoutTap)]),
            ])
    }

    func testBidirectionalSuspendsTheOtherEnd() {
        var c = BarrierController(directions: .bidirectional)
        _ = c.start(now: Self.t0)
        XCTAssertTrue(c.acceptsTap(at: .paid))
        run(
            &c,
            [
                Step(
                    ms: 0, event: Self.ok, state: .open(.entry),
                    expect: [.indicator(.paid, .redCross), .display(.paid, .wait)]),
                Step(
                    ms: 100, event: .decided(.paid, .open(.ok)), state: .open(.entry),
                    expect: [.tapRefused(.paid, .wait)]),
                Step(ms: 5000, event: .tick, state: .idle, expect: [.indicator(.paid, .greenArrow)]),
                Step(ms: 5100, event: .decided(.paid, .open(.ok)), state: .open(.exit), expect: [.flaps(.open(.exit))]),
            ])
        XCTAssertFalse(c.acceptsTap(at: .unpaid))
        XCTAssertTrue(c.acceptsTap(at: .paid))
    }

    func testEntryOnlyAndExitOnlyRefuseTheOtherEnd() {
        for (mode, refused) in [(DirectionMode.entryOnly, GateEnd.paid), (.exitOnly, .unpaid)] {
            var c = BarrierController(directions: mode)
            run(
                &c,
                [
                    Step(
                        ms: 0, event: .decided(refused, .open(.ok)), state: .idle,
                        expect: [.tapRefused(refused, .noPassage)]),
                    Step(
                        ms: 10, event: .decided(refused.opposite, .open(.ok)),
                        state: .open(PassageDirection(from: refused.opposite))),
                ])
            XCTAssertFalse(c.acceptsTap(at: refused))
        }
    }

    func testFireAlarmOpensEverythingAndLatchesUntilStaffReset() {
        var c = BarrierController()
        _ = c.start(now: Self.t0)
        run(
            &c,
            [
                Step(ms: 0, event: Self.ok, state: .open(.entry)),
                Step(ms: 100, event: Self.s(.unpaidMonitoring), state: .passing(.entry)),
                Step(
                    ms: 200, event: .fireAlarm(active: true), state: .freeOpen(.fireAlarm),
                    expect: [
                        .emergencyOpen(.fireAlarm), .flaps(.retract), .indicator(.paid, .greenArrow),
                        .display(.unpaid, .emergency),
                    ]),
                Step(ms: 300, event: Self.s(.buffer), state: .freeOpen(.fireAlarm), forbid: [.buzzer(.alarm)]),
                Step(ms: 400, event: Self.s(.paidMonitoring), state: .freeOpen(.fireAlarm)),
                Step(
                    ms: 500, event: .decided(.unpaid, .open(.ok)), state: .freeOpen(.fireAlarm),
                    expect: [.tapRefused(.unpaid, .emergency)]),
                Step(
                    ms: 600, event: .staff(.setMode(.normal)), state: .freeOpen(.fireAlarm),
                    expect: [.staffCommandRefused(.setMode(.normal))]),
                Step(ms: 700, event: .fireAlarm(active: false), state: .freeOpen(.fireAlarm)),
                // Staff reset while someone is still in the buffer: the flaps wait for it to clear.
                Step(
                    ms: 800, event: .staff(.setMode(.normal)), state: .idle, expect: [.emergencyEnded],
                    forbid: [.flaps(.close)]),
                Step(ms: 900, event: Self.s(.buffer, .clear), state: .idle, expect: [.flaps(.close)]),
            ])
    }

    func testStaffEmergencyAndPowerLossFailOpen() {
        var c = BarrierController()
        _ = c.start(now: Self.t0)
        run(
            &c,
            [
                Step(
                    ms: 0, event: .powerFailure(active: true), state: .freeOpen(.powerLoss), expect: [.flaps(.retract)]),
                Step(
                    ms: 100, event: .powerFailure(active: false), state: .idle,
                    expect: [.emergencyEnded, .flaps(.close)]),
                Step(
                    ms: 200, event: .staff(.setMode(.emergencyOpen)), state: .freeOpen(.staff),
                    expect: [.modeChanged(.emergencyOpen), .flaps(.retract)]),
                Step(ms: 300, event: .staff(.setMode(.normal)), state: .idle, expect: [.emergencyEnded]),
            ])
    }

    func testOutOfServiceAndClosedModes() {
        var c = BarrierController()
        _ = c.start(now: Self.t0)
        run(
            &c,
            [
                Step(
                    ms: 0, event: .staff(.setMode(.outOfService)), state: .outOfService,
                    expect: [.indicator(.unpaid, .redCross), .display(.unpaid, .reason(.gateOutOfService))]),
                Step(
                    ms: 10, event: Self.ok, state: .outOfService,
                    expect: [.tapRefused(.unpaid, .reason(.gateOutOfService))]),
                Step(ms: 20, event: Self.s(.buffer), state: .outOfService, forbid: [.buzzer(.alarm)]),
                Step(ms: 30, event: Self.s(.buffer, .clear), state: .outOfService),
                Step(
                    ms: 40, event: .staff(.setMode(.closed)), state: .stationClosed,
                    expect: [.display(.unpaid, .stationClosed)]),
                Step(ms: 50, event: Self.ok, state: .stationClosed, expect: [.tapRefused(.unpaid, .stationClosed)]),
                Step(ms: 60, event: Self.s(.buffer), state: .alarm(.enteredWithoutTap)),
                Step(ms: 70, event: Self.s(.buffer, .clear), state: .alarm(.enteredWithoutTap)),
                Step(ms: 3060, event: .tick, state: .stationClosed),
                Step(ms: 3100, event: .staff(.setMode(.normal)), state: .idle, expect: [.modeChanged(.normal)]),
            ])
    }

    func testModeChangeDuringPassageWaitsForItToEnd() {
        var c = BarrierController()
        run(
            &c,
            [
                Step(ms: 0, event: Self.ok, state: .open(.entry)),
                Step(ms: 100, event: .staff(.setMode(.outOfService)), state: .open(.entry)),
                Step(
                    ms: 5100, event: .tick, state: .outOfService, expect: [.openingCancelled(.entry), .flaps(.close)]),
            ])
    }

    func testShadowEnforcementLogsAlarmsButFollowsTheOldRule() {
        var c = BarrierController(enforcement: .shadow)
        _ = c.start(now: Self.t0)
        let a = run(
            &c,
            [
                Step(ms: 0, event: Self.ok, state: .open(.entry)),
                Step(ms: 500, event: Self.s(.unpaidMonitoring), state: .passing(.entry)),
                Step(ms: 800, event: Self.s(.buffer), state: .passing(.entry)),
                Step(ms: 900, event: Self.s(.unpaidMonitoring, .clear), state: .passing(.entry)),
                Step(
                    ms: 1400, event: Self.s(.unpaidMonitoring), state: .passing(.entry),
                    expect: [.alarmRaised(.tailgating, enforced: false)]),
                // Old rule: the flaps stay open while anyone is in the passage.
                Step(ms: 1500, event: Self.s(.buffer, .clear), state: .passing(.entry), forbid: [.flaps(.close)]),
                Step(ms: 1600, event: Self.s(.buffer), state: .passing(.entry)),
                Step(ms: 1700, event: Self.s(.unpaidMonitoring, .clear), state: .passing(.entry)),
                Step(ms: 1800, event: Self.s(.buffer, .clear), state: .closing(.entry)),
                Step(ms: 2300, event: .tick, state: .idle),
                Step(
                    ms: 2400, event: Self.s(.buffer), state: .idle,
                    expect: [.alarmRaised(.enteredWithoutTap, enforced: false)]),
            ])
        XCTAssertFalse(a.contains(.buzzer(.alarm)))
        XCTAssertFalse(a.contains(.indicator(.unpaid, .redCross)))
    }

    func testShadowDecisionOpensAndShowsItsMessage() {
        var c = BarrierController()
        _ = c.start(now: Self.t0)
        run(
            &c,
            [
                Step(
                    ms: 0, event: .decided(.unpaid, .open(.okShadow)), state: .open(.entry),
                    expect: [.flaps(.open(.entry)), .display(.unpaid, .reason(.okShadow))])
            ])
    }

    func testDisplayTextsHaveBothLanguages() {
        var texts: [DisplayText] = [.ready, .reading, .wait, .noPassage, .emergency, .stationClosed]
        texts += AlarmKind.allCases.map { .alarm($0) }
        texts += Reason.allCases.map { .reason($0) }
        for t in texts {
            XCTAssertFalse(t.zh.isEmpty, "\(t)")
            XCTAssertFalse(t.en.isEmpty, "\(t)")
        }
        XCTAssertEqual(DisplayText.reason(.passback).zh, Reason.passback.messageZH)
    }

    func testZonesRelativeToDirection() {
        XCTAssertEqual(SensorZone.unpaidMonitoring.relative(to: .entry), .monitoring)
        XCTAssertEqual(SensorZone.unpaidMonitoring.relative(to: .exit), .exit)
        XCTAssertEqual(SensorZone.paidDetection.relative(to: .exit), .detection)
        XCTAssertEqual(SensorZone.buffer.relative(to: .exit), .buffer)
        var o = PassageOccupancy()
        for z in SensorZone.allCases {
            for r in SensorReading.allCases {
                o[z] = r
                XCTAssertEqual(o[z], r)
            }
            o[z] = .clear
        }
        XCTAssertEqual(o.bits, 0)
    }
}
