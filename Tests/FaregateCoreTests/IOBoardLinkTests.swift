import FaregateCore
import XCTest

/// The board link's failure counting, out-of-service and return, and the barrier controller's side
/// of a lost board.
final class IOBoardLinkTests: XCTestCase {
    func settings(_ n: Int) -> IOBoardLink.Settings {
        var s = IOBoardLink.Settings()
        s.failedPollsOutOfService = n
        s.backoffInitial = 100
        s.backoffMax = 400
        return s
    }

    func testFailuresInARowTakeTheLaneOutAndAGoodPollResetsTheCount() {
        var link = IOBoardLink(settings: settings(3))
        XCTAssertEqual(link.connected(now: 0), [.rewriteOutputs])
        XCTAssertEqual(link.failed(.timeout, now: 1), [])
        XCTAssertEqual(link.failed(.crc, now: 2), [])
        XCTAssertEqual(link.polled(IOBoardLevels(), now: 3), [])
        XCTAssertEqual(link.failed(.timeout, now: 4), [])
        XCTAssertEqual(link.failed(.timeout, now: 5), [])
        XCTAssertEqual(link.failed(.timeout, now: 6), [.deliver(.ioBoard(online: false)), .disconnect])
        XCTAssertFalse(link.inService)
        XCTAssertFalse(link.connected)
        XCTAssertEqual(link.nextAttempt, 106)
        XCTAssertEqual(link.counters.timeouts, 4)
        XCTAssertEqual(link.counters.crcErrors, 1)
        XCTAssertEqual(link.counters.failedPolls, 5)
        XCTAssertEqual(link.counters.polls, 6)
        XCTAssertEqual(link.counters.losses, 1)
    }

    func testReconnectsBackOffAndTheLaneReturnsOnlyWhenThePassageIsClear() {
        var link = IOBoardLink(settings: settings(1))
        _ = link.connected(now: 0)
        XCTAssertEqual(link.failed(.timeout, now: 10), [.deliver(.ioBoard(online: false)), .disconnect])
        XCTAssertEqual(link.nextAttempt, 110)
        XCTAssertEqual(link.connectFailed(.disconnect, now: 110), [], "already out: told once")
        XCTAssertEqual(link.nextAttempt, 310)
        _ = link.connectFailed(.disconnect, now: 310)
        XCTAssertEqual(link.nextAttempt, 710, "doubling up to the maximum")
        _ = link.connectFailed(.disconnect, now: 710)
        XCTAssertEqual(link.nextAttempt, 1110)
        XCTAssertEqual(link.connected(now: 1110), [.rewriteOutputs])
        var busy = IOBoardLevels()
        busy.zones[.buffer] = .adult
        XCTAssertEqual(link.polled(busy, now: 1115), [.deliver(.sensor(.buffer, .adult))])
        XCTAssertFalse(link.inService, "someone stands in the passage: not yet")
        XCTAssertEqual(
            link.polled(IOBoardLevels(), now: 1120),
            [.deliver(.sensor(.buffer, .clear)), .deliver(.ioBoard(online: true))])
        XCTAssertTrue(link.inService)
        // After a good poll the backoff starts again from the first delay.
        XCTAssertEqual(link.failed(.timeout, now: 2000), [.deliver(.ioBoard(online: false)), .disconnect])
        XCTAssertEqual(link.nextAttempt, 2100)
        XCTAssertEqual(link.counters.losses, 2)
        XCTAssertEqual(link.counters.disconnects, 3)
    }

    func testAResetConnectionIsRetriedAtOnceAndAnUnreachableBoardIsOutAtOnce() {
        var link = IOBoardLink(settings: settings(5))
        _ = link.connected(now: 0)
        XCTAssertEqual(link.failed(.disconnect, now: 50), [.disconnect])
        XCTAssertTrue(link.inService)
        XCTAssertEqual(link.nextAttempt, 50)
        XCTAssertEqual(link.connectFailed(.disconnect, now: 50), [.deliver(.ioBoard(online: false))])
        XCTAssertFalse(link.inService)
    }

    // MARK: The controller

    func testALostBoardTakesTheLaneOutOfServiceWhateverIsGoingOnAndItComesBack() {
        var c = BarrierController(directions: .entryOnly)
        _ = c.start(now: 0)
        _ = c.handle(.decided(.unpaid, .open(.ok)), now: 1)
        _ = c.handle(.sensor(.unpaidMonitoring, .adult), now: 2)
        XCTAssertEqual(c.state, .passing(.entry))
        let lost = c.handle(.ioBoard(online: false), now: 3)
        XCTAssertEqual(c.state, .outOfService)
        XCTAssertTrue(lost.contains(.ioBoardChanged(online: false)))
        XCTAssertTrue(lost.contains(.display(.unpaid, .reason(.gateOutOfService))), "the rider is told: \(lost)")
        XCTAssertEqual(
            c.handle(.decided(.unpaid, .open(.ok)), now: 4).first, .tapRefused(.unpaid, .reason(.gateOutOfService)))
        // Staff cannot put it back in service while the board is gone.
        _ = c.handle(.staff(.setMode(.normal)), now: 5)
        XCTAssertEqual(c.state, .outOfService)
        _ = c.handle(.sensor(.unpaidMonitoring, .clear), now: 6)
        let back = c.handle(.ioBoard(online: true), now: 7)
        XCTAssertEqual(c.state, .idle)
        XCTAssertTrue(back.contains(.ioBoardChanged(online: true)))
        XCTAssertTrue(back.contains(.display(.unpaid, .ready)), "\(back)")
    }

    func testAStaffModeSurvivesTheBoardAndAFireStillOpens() {
        var c = BarrierController(directions: .entryOnly)
        _ = c.start(now: 0)
        _ = c.handle(.staff(.setMode(.closed)), now: 1)
        _ = c.handle(.ioBoard(online: false), now: 2)
        XCTAssertEqual(c.state, .outOfService)
        _ = c.handle(.fireAlarm(active: true), now: 3)
        XCTAssertEqual(c.state, .freeOpen(.fireAlarm))
        _ = c.handle(.fireAlarm(active: false), now: 4)
        _ = c.handle(.staff(.setMode(.closed)), now: 5)
        XCTAssertEqual(c.state, .outOfService, "the fire is over, the board is still lost")
        _ = c.handle(.ioBoard(online: true), now: 6)
        XCTAssertEqual(c.state, .stationClosed, "back to the mode staff set")
        XCTAssertEqual(
            c.handle(.ioBoard(online: true), now: 7).filter { if case .ioBoardChanged = $0 { true } else { false } }, []
        )
    }
}
