import FaregateCore
import XCTest

/// The one text rendering of a journal entry (`journal tail`, `farectl tap`, the daemon's log).
final class JournalEntryRenderingTests: XCTestCase {
    func testTheTextLineShowsWhatARiderAndAnOperatorNeed() throws {
        let key = try XCTUnwrap(CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001))
        var e = JournalEntry(
            sequence: 7, wallMillis: 1_700_000_000_123, reader: 1, key: key, kind: .decision, decision: .open(.ok),
            balanceFen: 1250, dataVersion: 42, timings: StageTimings())
        XCTAssertEqual(
            e.textLine,
            "7\t1700000000123\tr1\ttransit-card:1000751000000000001\topen\tok\t"
                + "\(Reason.ok.messageZH) / \(Reason.ok.messageEN)")
        e.shadowDecision = .deny(.healthRed)
        XCTAssertTrue(e.textLine.hasSuffix("\tshadow deny(health_red)"), e.textLine)
        e.key = CardKey(rawValue: 0)
        XCTAssertEqual(e.textLine.split(separator: "\t")[3], "-", "an unidentified medium")
    }

    func testCardTextReadsBack() throws {
        for key in [
            CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001),
            CardKey(medium: .municipalCard, identifier: 12), CardKey(medium: .rideCode, identifier: 5),
            CardKey(rawValue: 0xF000_0000_0000_0001),
        ] {
            let k = try XCTUnwrap(key)
            XCTAssertEqual(CardKey(text: k.text), k, k.text)
        }
        XCTAssertEqual(CardKey(rawValue: 0).text, "-")
        for bad in ["", "ride-code", "ride-code:", "bus:5", "ride-code:5:6", "ride-code:-5", "0xZZ"] {
            XCTAssertNil(CardKey(text: bad), bad)
        }
    }

    func testStatusFieldsAsAPersonReadsThem() {
        var s = GateStatusReport(gateID: "G")
        XCTAssertNil(s.text(.dataAgeSeconds), "no data age before a verified table")
        XCTAssertNil(s.text(.barrierMode), "no barrier, no barrier fields")
        s.barrier = .init(
            state: "idle", mode: .outOfService, directions: .entryOnly, enforcement: .enforced, passages: 3,
            activeAlarm: nil, alarms: [:])
        XCTAssertEqual(s.text(.barrierMode), "out-of-service")
        XCTAssertEqual(s.text(.alarms), "none")
        s.barrier?.alarms = [.tailgating: 2, .closeTailgating: 1]
        XCTAssertEqual(s.text(.alarms), "close_tailgating=1, tailgating=2")
    }
}
