import FaregateCore
import Foundation
import XCTest

final class JournalCodecTests: XCTestCase {
    func entry(_ seq: UInt64, decision: Decision = .open(.ok), balance: Int32? = 1234) -> JournalEntry {
        JournalEntry(
            sequence: seq, wallMillis: 1_654_041_600_123, reader: 3,
            key: CardKey(medium: .rideCode, identifier: 99)!, kind: .decision, decision: decision, balanceFen: balance,
            dataVersion: 17, timings: StageTimings(select: 1, read: 2, queue: 3, lookup: 4, decide: 5))
    }

    func testRoundTripsEveryOutcomeAndKind() throws {
        var seq: UInt64 = 1
        for reason in Reason.allCases {
            for outcome in Decision.Outcome.allCases {
                for kind in JournalEntry.Kind.allCases {
                    var e = entry(
                        seq, decision: Decision(outcome: outcome, reason: reason), balance: seq % 2 == 0 ? nil : -5)
                    e.kind = kind
                    if kind == .staffCommand { e.command = .setMode(GateMode.allCases[Int(seq) % 4]) }
                    if kind == .laneEvent { e.event = Self.laneEvents[Int(seq) % Self.laneEvents.count] }
                    XCTAssertEqual(try JournalCodec.decode(Substring(JournalCodec.encode(e))), e)
                    seq += 1
                }
            }
        }
    }

    func testDetectsEverySingleByteChange() {
        let line = Array(JournalCodec.encode(entry(42)).utf8)
        for i in 0..<line.count {
            var damaged = line
            damaged[i] = damaged[i] == UInt8(ascii: "7") ? UInt8(ascii: "8") : UInt8(ascii: "7")
            XCTAssertThrowsError(
                try JournalCodec.decode(Substring(String(decoding: damaged, as: UTF8.self))), "byte \(i)")
        }
    }

    func testRejectsTruncatedLines() {
        let line = JournalCodec.encode(entry(7))
        for n in 0..<line.count {
            XCTAssertThrowsError(try JournalCodec.decode(Substring(line.prefix(n))), "prefix \(n)")
        }
    }

    /// Lines as builds before staff commands were journalled wrote them (checked in as text, so
    /// a change to the codec cannot rewrite them too) still decode; a staff command's line has
    /// its command in place of the shadow fields.
    func testOlderLinesStillDecodeAndStaffCommandsHaveTheirOwnLine() throws {
        let old = try JournalCodec.decode(
            "J1\t41\t1654041600123\t0\t1\tdecision\topen\tok\t1234\t17\t1\t2\t3\t4\t5\ta3ab96e5")
        XCTAssertEqual(old.sequence, 41)
        XCTAssertEqual(old.decision, .open(.ok))
        XCTAssertNil(old.command)
        let shadowed = try JournalCodec.decode(
            "J1\t42\t1654041600200\t1\t2\tdecision\topen\tok_shadow\t-\t17\t0\t0\t0\t0\t0\tdeny\thealth_red\tb0d8eeba")
        XCTAssertEqual(shadowed.shadowDecision, .deny(.healthRed))
        let staff =
            "J1\t43\t1654041600300\t0\t0\tstaff_command\tstaff\tstaff_command\t-\t17\t0\t0\t0\t0\t0\tmode=closed\t893c776f"
        let command = try JournalCodec.decode(Substring(staff))
        XCTAssertEqual(command.kind, .staffCommand)
        XCTAssertEqual(command.command, .setMode(.closed))
        XCTAssertEqual(JournalCodec.encode(command), staff)

        let commands: [StaffCommand] =
            [.resetAlarm] + GateMode.allCases.map(StaffCommand.setMode)
            + DirectionMode.allCases.map(StaffCommand.setDirections)
            + Enforcement.allCases.map(StaffCommand.setEnforcement)
        for c in commands {
            var e = command
            e.command = c
            XCTAssertEqual(try JournalCodec.decode(Substring(JournalCodec.encode(e))), e, c.token)
            XCTAssertEqual(StaffCommand(token: c.token), c)
            let json = try JSONEncoder().encode(e)
            XCTAssertEqual(try JSONDecoder().decode(JournalEntry.self, from: json), e, c.token)
            XCTAssertTrue(e.textLine.hasSuffix("\tcommand \(c.token)"), e.textLine)
        }
    }

    /// A command on a tap's line, or a staff command without one (or with one this build does not
    /// know), is damage, not a line to guess at.
    func testACommandBelongsToAStaffCommandLineOnly() {
        func sealed(_ fields: [String]) -> Substring {
            let body = fields.joined(separator: "\t")
            return Substring(body + "\t" + String(CRC32.checksum(body.utf8), radix: 16))
        }
        let head = ["J1", "5", "1", "0", "0"]
        let tail = ["-", "1", "0", "0", "0", "0", "0"]
        let bad: [[String]] = [
            head + ["decision", "open", "ok"] + tail + ["mode=closed"],
            head + ["staff_command", "staff", "staff_command"] + tail,
            head + ["staff_command", "staff", "staff_command"] + tail + ["mode=sideways"],
            head + ["staff_command", "staff", "staff_command"] + tail + ["mode", "closed"],
            head + ["staff_command", "staff", "staff_command"] + tail + ["volume=11"],
        ]
        for fields in bad {
            XCTAssertThrowsError(try JournalCodec.decode(sealed(fields)), fields.joined(separator: " "))
        }
        XCTAssertNoThrow(
            try JournalCodec.decode(
                sealed(head + ["staff_command", "staff", "staff_command"] + tail + ["reset-alarm"])))
    }

    static let laneEvents: [LaneEvent] =
        [.ioBoard(online: false), .ioBoard(online: true), .emergencyEnded]
        + EmergencySource.allCases.map {
            .emergencyOpen($0)
        }

    /// A lane event has its token where a staff command has its command; the tokens are what the
    /// journal and the JSON say, and a line with a token this build does not know is damage.
    func testALaneEventHasItsOwnLine() throws {
        XCTAssertEqual(
            Self.laneEvents.map(\.token),
            [
                "io_board=lost", "io_board=online", "emergency_ended", "emergency_open=fire_alarm",
                "emergency_open=staff", "emergency_open=power_loss",
            ])
        for e in Self.laneEvents { XCTAssertEqual(LaneEvent(token: e.token), e) }
        var core = GateCore(nextSequence: 7, policy: .healthCheckEra)
        let entry = core.laneEvent(.ioBoard(online: false), wallMillis: 1_654_041_600_300, dataVersion: 17)
        XCTAssertEqual(core.nextSequence, 8)
        let line = JournalCodec.encode(entry)
        XCTAssertEqual(
            line.split(separator: "\t").dropLast().joined(separator: " "),
            "J1 7 1654041600300 0 0 lane_event staff lane_event - 17 0 0 0 0 0 io_board=lost")
        XCTAssertEqual(try JournalCodec.decode(Substring(line)), entry)
        XCTAssertTrue(entry.textLine.hasSuffix("\tevent io_board=lost"), entry.textLine)
        XCTAssertTrue(entry.textLine.contains("\t-\t-\t"), entry.textLine)
        let json = try JSONEncoder().encode(entry)
        XCTAssertEqual(try JSONDecoder().decode(JournalEntry.self, from: json), entry)

        func sealed(_ fields: [String]) -> Substring {
            let body = fields.joined(separator: "\t")
            return Substring(body + "\t" + String(CRC32.checksum(body.utf8), radix: 16))
        }
        let head = ["J1", "5", "1", "0", "0", "lane_event", "staff", "lane_event", "-", "1", "0", "0", "0", "0", "0"]
        for bad in [head, head + ["io_board=maybe"], head + ["emergency_open=flood"], head + ["mode=closed"]] {
            XCTAssertThrowsError(try JournalCodec.decode(sealed(bad)), bad.joined(separator: " "))
        }
        var staff = head
        staff[5] = "staff_command"
        XCTAssertThrowsError(try JournalCodec.decode(sealed(staff + ["io_board=lost"])))
    }

    func testCRC32MatchesTheStandardCheckValue() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
    }
}
