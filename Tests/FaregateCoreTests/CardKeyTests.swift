import FaregateCore
import XCTest

final class CardKeyTests: XCTestCase {
    func testEveryMediumRoundTripsAtTheEdgesOfItsSpace() {
        for medium in Medium.allCases {
            let maxID = medium == .transitCard ? CardKey.maxTransitNumber : CardKey.blockIdentifierLimit - 1
            for id in [0, 1, 42, maxID / 2, maxID] as [UInt64] {
                guard let key = CardKey(medium: medium, identifier: id) else {
                    return XCTFail("\(medium) \(id) refused")
                }
                XCTAssertEqual(key.medium, medium, "\(medium) \(id)")
                XCTAssertEqual(key.identifier, id, "\(medium) \(id)")
            }
            let tooBig = medium == .transitCard ? CardKey.maxTransitNumber + 1 : CardKey.blockIdentifierLimit
            XCTAssertNil(
                CardKey(medium: medium, identifier: tooBig), "\(medium) accepts an identifier outside its space")
        }
    }

    func testKeySpacesCannotCollide() {
        // Ranges of the media are disjoint: compare each medium's [min, max] key interval.
        let ranges = Medium.allCases.map { m -> (Medium, UInt64, UInt64) in
            let maxID = m == .transitCard ? CardKey.maxTransitNumber : CardKey.blockIdentifierLimit - 1
            return (m, CardKey(medium: m, identifier: 0)!.rawValue, CardKey(medium: m, identifier: maxID)!.rawValue)
        }
        for (i, a) in ranges.enumerated() {
            for b in ranges[(i + 1)...] {
                XCTAssertTrue(a.2 < b.1 || b.2 < a.1, "\(a.0) and \(b.0) key ranges overlap")
            }
        }
        // The same number in different media gives different keys.
        let keys = Set(Medium.allCases.map { CardKey(medium: $0, identifier: 12345)! })
        XCTAssertEqual(keys.count, Medium.allCases.count)
    }

    func testNumbersParseAndPrintAsRidersSeeThem() {
        let key = CardKey(medium: .transitCard, number: "1000751000000000042")
        XCTAssertEqual(key?.number, "1000751000000000042")
        XCTAssertEqual(CardKey(medium: .transitCard, number: "0000000000000000007")?.number, "0000000000000000007")
        XCTAssertEqual(CardKey(medium: .municipalCard, number: "1000000000000123")?.number, "1000000000000123")
        XCTAssertEqual(CardKey(medium: .rideCode, number: "77")?.description, "ride-code:77")
        for bad in ["", "12a", "-1", "99999999999999999999", "１２３"] {
            XCTAssertNil(CardKey(medium: .transitCard, number: bad), bad)
        }
    }

    func testStatusPackingIsLosslessForEveryCombination() {
        for h in HealthStatus.allCases {
            for b in BindingState.allCases {
                for flags in 0..<8 {
                    let s = CardStatus(
                        health: h, binding: b, blacklisted: flags & 1 != 0, returned: flags & 2 != 0,
                        suspended: flags & 4 != 0)
                    XCTAssertEqual(s.health, h)
                    XCTAssertEqual(s.binding, b)
                    XCTAssertEqual(s.isBlacklisted, flags & 1 != 0)
                    XCTAssertEqual(s.isReturned, flags & 2 != 0)
                    XCTAssertEqual(s.isSuspended, flags & 4 != 0)
                    XCTAssertEqual(s.rawValue & 0b1100_0000, 0, "reserved bits must stay zero")
                }
            }
        }
    }

    func testCalendarDaysRoundTripAcrossCenturies() {
        for days in stride(from: -719_162, through: 2_932_896, by: 997) {  // 0001-01-01 ... 9999-12-31
            let d = CalendarDate(daysSinceEpoch: days)
            XCTAssertEqual(d.daysSinceEpoch, days)
        }
        XCTAssertEqual(CalendarDate(daysSinceEpoch: 0).description, "1970-01-01")
        XCTAssertEqual(CalendarDate("20240229")?.description, "2024-02-29")
        XCTAssertNil(CalendarDate("20230229"))
        XCTAssertNil(CalendarDate("2023-13-01"))
        // 2022-05-31 16:30 UTC is already 2022-06-01 in Beijing.
        XCTAssertEqual(CalendarDate(wallMillis: 1_654_014_600_000).description, "2022-06-01")
        XCTAssertEqual(CalendarDate(wallMillis: 1_654_014_600_000, utcOffsetSeconds: 0).description, "2022-05-31")
    }

    func testEveryReasonHasACodeAndBothMessages() {
        var codes = Set<String>()
        for r in Reason.allCases {
            XCTAssertTrue(codes.insert(r.code).inserted, "duplicate code \(r.code)")
            XCTAssertEqual(Reason(code: r.code), r)
            XCTAssertFalse(r.messageZH.isEmpty)
            XCTAssertFalse(r.messageEN.isEmpty)
        }
        XCTAssertEqual(Reason.unboundCard.messageZH, "未发现健康码信息，请尽快授权升级")
        XCTAssertEqual(Reason.healthRed.messageZH, "健康码异常")
    }
}
