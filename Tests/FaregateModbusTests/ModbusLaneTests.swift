import FaregateCore
import FaregateModbus
import FaregateRuntime
import FaregateSimulation
import Foundation
import XCTest

/// A lane driven over real libmodbus on both ends, RTU on a pseudo-terminal pair and TCP on
/// loopback: taps open the right flaps and passages close them, real sensor edges tell a child in
/// front of an adult from a tailgater, the fire input opens everything, the board's watchdog
/// retracts the flaps when the controller stops, a lost board takes the lane out of service and
/// back. Every wait is on a condition with a deadline.
final class ModbusLaneTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-modbus-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func lane(_ link: ModbusLane.Link, map: String = "modbus-8in8out.json", directions: DirectionMode = .bidirectional)
        throws -> ModbusLane
    {
        let lane = try ModbusLane(link, map: map, directions: directions, directory: dir)
        XCTAssertTrue(lane.waitReady(), "the controller drives the board: \(lane.emulator.snapshot)")
        return lane
    }

    // MARK: Taps and passages

    func tapOpensTowardTheRightSideAndThePassageClosesTheFlaps(_ link: ModbusLane.Link) throws {
        let lane = try lane(link)
        defer { lane.stop() }
        _ = lane.emulator.takeEvents()
        // A rider leaving: taps at the paid end, walks through once the flaps open for them.
        lane.emulator.whenFlapsOpen(.exit, play: PassageScript.walk(.exit, start: 0))
        lane.barrier.decided(.open(.ok), at: .paid)
        // Toward the unpaid side, green at the paid end, red at the other (which waits).
        XCTAssertTrue(
            lane.emulator.wait {
                $0.commanded.flaps == .open(.exit) && $0.commanded.paid == .greenArrow
                    && $0.commanded.unpaid == .redCross
            })
        XCTAssertTrue(lane.emulator.wait { $0.commanded.flaps == .close && $0.levels.allClear })
        lane.barrier.flush()
        XCTAssertEqual(lane.barrier.snapshot.passages, 1)
        XCTAssertEqual(lane.barrier.snapshot.alarms, [:])
        XCTAssertEqual(lane.emulator.takeFlapMotions(), [.open(.exit), .close])
        // Every zone the rider crossed reached the controller as an edge, in order.
        let zones = lane.watched.inputs.compactMap { i -> SensorZone? in
            if case .sensor(let z, .adult) = i { z } else { nil }
        }
        XCTAssertEqual(zones, [.paidMonitoring, .buffer, .unpaidMonitoring])
    }

    func testTapOpensTowardTheRightSideOverRTU() throws {
        try tapOpensTowardTheRightSideAndThePassageClosesTheFlaps(.rtu)
    }
    func testTapOpensTowardTheRightSideOverTCP() throws {
        try tapOpensTowardTheRightSideAndThePassageClosesTheFlaps(.tcp)
    }

    /// One tap, two bodies: a follower 600 ms behind is a tailgater (flaps close in front of it,
    /// alarm), 100 ms behind a close tailgater; a child 200 ms in front of an adult is one party.
    func testTailgatersAndAChildInFrontOfAnAdultThroughRealSensorEdges() throws {
        let ms: UInt64 = 1_000_000
        // The ordinary tailgater reaches the monitoring zone 280 ms after the first left it, while
        // the first is still in the buffer, finds the flaps closed and backs away.
        let follower = PassageScript.dwell + 280 * ms
        let rows: [(script: [TimedGateInput], alarm: AlarmKind?)] = [
            (
                PassageScript.merge(
                    PassageScript.walk(.entry, start: 0),
                    PassageScript.approachAndRetreat(.entry, start: follower, intoBuffer: false)), .tailgating
            ),
            (PassageScript.pair(.entry, start: 0, gap: 100 * ms), .closeTailgating),
            (PassageScript.pair(.entry, start: 0, gap: 200 * ms, first: .child, second: .adult), nil),
        ]
        for (i, row) in rows.enumerated() {
            let lane = try lane(i % 2 == 0 ? .tcp : .rtu, map: "modbus-lane-16in.json", directions: .entryOnly)
            defer { lane.stop() }
            lane.emulator.whenFlapsOpen(.entry, play: row.script)
            lane.barrier.decided(.open(.ok), at: .unpaid)
            XCTAssertTrue(lane.emulator.wait { $0.commanded.flaps == .open(.entry) }, "row \(i)")
            if let alarm = row.alarm {
                // The alarm: the buzzer sounds continuously and the red cross shows.
                XCTAssertTrue(
                    lane.emulator.wait { $0.commanded.buzzer && $0.commanded.unpaid == .redCross }, "row \(i)")
                XCTAssertTrue(lane.emulator.wait { $0.levels.allClear }, "row \(i)")
                lane.barrier.flush()
                XCTAssertEqual(lane.barrier.snapshot.alarms, [alarm: 1], "row \(i)")
            } else {
                XCTAssertTrue(lane.emulator.wait { $0.levels.allClear && $0.commanded.flaps == .close }, "row \(i)")
                lane.barrier.flush()
                XCTAssertEqual(lane.barrier.snapshot.alarms, [:], "row \(i): the child's companion is no tailgater")
                XCTAssertEqual(lane.barrier.snapshot.passages, 1, "row \(i)")
                XCTAssertTrue(
                    lane.watched.inputs.contains(.sensor(.unpaidMonitoring, .child)), "the low beams alone: a child")
            }
        }
    }

    // MARK: Alarms and safety

    func testTheFireAlarmInputOpensEverything() throws {
        let lane = try lane(.tcp)
        defer { lane.stop() }
        lane.emulator.set(.fireAlarm(active: true))
        // The controller commands it (not only the board's own fire relay).
        XCTAssertTrue(
            lane.emulator.wait {
                $0.commanded.flaps == .retract && $0.commanded.unpaid == .greenArrow && $0.commanded.paid == .greenArrow
            })
        lane.barrier.flush()
        XCTAssertEqual(lane.barrier.snapshot.state, .freeOpen(.fireAlarm))
        lane.emulator.set(.fireAlarm(active: false))
        XCTAssertTrue(lane.watched.wait { $0 == .fireAlarm(active: false) })
        // The barrier has handled the cleared input (a reset while it is active is refused).
        XCTAssertTrue(lane.watched.waitHandedOn())
        lane.barrier.flush()
        // The software latches the fire until staff reset it.
        lane.barrier.staff(.setMode(.normal))
        XCTAssertTrue(lane.emulator.wait { $0.commanded.flaps == .close && $0.flaps == .close })
    }

    /// The heartbeat comes from the controller thread: with the controller stopped and the
    /// adapter still polling, the board's watchdog trips and the flaps retract.
    func testTheWatchdogRetractsTheFlapsWhenTheControllerStops() throws {
        let lane = try lane(.rtu)
        defer { lane.stop() }
        let before = lane.emulator.snapshot.requests
        lane.barrier.stop()
        XCTAssertTrue(
            lane.emulator.wait { $0.watchdogTripped && $0.flaps == .retract },
            "\(lane.emulator.snapshot) \(lane.emulator.takeEvents())")
        XCTAssertEqual(lane.emulator.snapshot.commanded.flaps, .close, "the last command was close")
        XCTAssertGreaterThan(lane.emulator.snapshot.requests, before, "the adapter kept polling all along")
    }

    // MARK: Board loss

    func lostBoardGoesOutOfServiceAndComesBack(_ link: ModbusLane.Link) throws {
        let lane = try lane(link)
        defer { lane.stop() }
        lane.emulator.setAnswering(false)
        XCTAssertTrue(lane.watched.wait { $0 == .ioBoard(online: false) })
        XCTAssertTrue(lane.watched.waitHandedOn())
        lane.barrier.flush()
        XCTAssertEqual(lane.barrier.snapshot.state, .outOfService)
        XCTAssertFalse(lane.barrier.snapshot.boardOnline)
        XCTAssertEqual(lane.adapter.displayed(.unpaid), .reason(.gateOutOfService), "the rider is told")
        lane.barrier.decided(.open(.ok), at: .unpaid)
        lane.barrier.flush()
        XCTAssertEqual(lane.barrier.snapshot.refusedTaps, 1)
        // No heartbeat reaches the board: its watchdog retracts the flaps.
        XCTAssertTrue(lane.emulator.wait { $0.watchdogTripped && $0.flaps == .retract })
        // Someone stands in the passage as the board comes back: not yet in service.
        lane.emulator.set(.sensor(.buffer, .adult))
        lane.emulator.setAnswering(true)
        XCTAssertTrue(lane.watched.wait { $0 == .sensor(.buffer, .adult) })
        XCTAssertTrue(lane.watched.waitHandedOn())
        lane.barrier.flush()
        XCTAssertEqual(lane.barrier.snapshot.state, .outOfService)
        XCTAssertFalse(lane.watched.inputs.contains(.ioBoard(online: true)))
        lane.emulator.set(.sensor(.buffer, .clear))
        XCTAssertTrue(lane.watched.wait { $0 == .ioBoard(online: true) })
        XCTAssertTrue(lane.watched.waitHandedOn())
        lane.barrier.flush()
        XCTAssertEqual(lane.barrier.snapshot.state, .idle)
        XCTAssertEqual(lane.barrier.snapshot.boardLosses, 1)
        // The board is driven again: a live heartbeat, then the explicit close ends the trip.
        XCTAssertTrue(lane.waitReady(), "\(lane.emulator.snapshot) \(lane.emulator.takeEvents().suffix(4))")
        let c = lane.adapter.boardCounters
        XCTAssertEqual(c.losses, 1)
        XCTAssertGreaterThanOrEqual(c.failedPolls, 5)
        XCTAssertGreaterThanOrEqual(c.connects, 2)
        XCTAssertEqual(link == .rtu ? c.timeouts : c.timeouts + c.disconnects, c.failedPolls)
    }

    func testABoardLostOverRTUTakesTheLaneOutOfServiceAndBack() throws {
        try lostBoardGoesOutOfServiceAndComesBack(.rtu)
    }
    func testABoardLostOverTCPTakesTheLaneOutOfServiceAndBack() throws {
        try lostBoardGoesOutOfServiceAndComesBack(.tcp)
    }

    func testNoBoardAtStartLeavesTheLaneOutOfService() throws {
        let map = try ModbusLane.map("modbus-8in8out.json")
        var settings = ModbusGateIO.Settings(endpoint: .tcp(host: "127.0.0.1", port: 1, unit: 255), map: map)
        settings.responseTimeoutNanos = 20_000_000
        let io = ModbusGateIO(settings: settings, clock: SystemClock())
        try io.start()
        defer { io.stop() }
        XCTAssertFalse(io.boardInService)
        XCTAssertEqual(io.nextInput()?.input, .ioBoard(online: false))
        XCTAssertGreaterThanOrEqual(io.boardCounters.disconnects, 1)
    }
}
