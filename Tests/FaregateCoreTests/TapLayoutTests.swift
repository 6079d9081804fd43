import XCTest

@testable import FaregateCore

/// `Tap` stores its result flattened into one cache line; these check that the layout holds and
/// that every result survives the flattening exactly.
final class TapLayoutTests: XCTestCase {
    func testOneTapFillsOneCacheLine() {
        XCTAssertLessThanOrEqual(MemoryLayout<Tap>.size, 64)
        XCTAssertEqual(MemoryLayout<Tap>.stride, 64, "a tap is one cache line in the ring")
    }

    /// Every combination of application, card type, presence of each optional field and each
    /// flag, with values at the edges of their ranges, reads back as it was stored.
    func testEveryCardResultReadsBackExactly() {
        let dates: [CalendarDate?] = [
            nil, CalendarDate(year: 1, month: 1, day: 1), CalendarDate(year: 2024, month: 2, day: 29),
            CalendarDate(year: 9999, month: 12, day: 31),
        ]
        let balances: [Int32?] = [nil, 0, -1, Int32.min, Int32.max]
        let keys: [UInt64] = [0, 1, CardKey.maxTransitNumber, UInt64.max]
        var checked = 0
        for application in CardApplication.allCases {
            for cardType in CardType.allCases {
                for bits in 0..<8 {
                    for (i, balance) in balances.enumerated() {
                        let from = dates[(i + bits) % dates.count]
                        let until = dates[(i + bits + 1) % dates.count]
                        let read = CardRead(
                            key: CardKey(rawValue: keys[(i + bits) % keys.count]), application: application,
                            cardType: cardType, balanceFen: balance, validFrom: from, validUntil: until,
                            applicationBlocked: bits & 1 != 0, disabled: bits & 2 != 0, blacklistedOnCard: bits & 4 != 0
                        )
                        let tap = Tap(
                            reader: UInt16.max, result: .card(read), detectedAt: 1, selectedAt: 2, readAt: 3,
                            enqueuedAt: UInt64.max)
                        XCTAssertEqual(tap.result, .card(read))
                        XCTAssertEqual(tap.reader, UInt16.max)
                        XCTAssertEqual(
                            [tap.detectedAt, tap.selectedAt, tap.readAt, tap.enqueuedAt], [1, 2, 3, UInt64.max])
                        checked += 1
                    }
                }
            }
        }
        XCTAssertEqual(checked, CardApplication.allCases.count * CardType.allCases.count * 8 * balances.count)
    }

    func testEveryFailureReadsBackExactly() {
        for failure in ReadFailure.allCases {
            for key in [nil, CardKey(rawValue: 0), CardKey(rawValue: UInt64.max)] {
                let tap = Tap(reader: 3, result: .failed(failure, key), detectedAt: 10, readAt: 20)
                XCTAssertEqual(tap.result, .failed(failure, key))
                XCTAssertEqual(tap.selectedAt, 10, "no selection: selectedAt defaults to detectedAt")
            }
        }
    }

    /// Replacing a result clears what the old one stored: equal results give equal taps and equal
    /// hashes however they were reached (the synthesised `==` compares the flattened fields).
    func testReplacedResultLeavesNothingBehind() {
        let full = CardRead(
            key: CardKey(rawValue: 42), application: .beijingMunicipal, cardType: .student, balanceFen: 900,
            validFrom: CalendarDate(year: 2020, month: 1, day: 1),
            validUntil: CalendarDate(year: 2030, month: 1, day: 1),
            applicationBlocked: true, disabled: true, blacklistedOnCard: true)
        let bare = CardRead(key: CardKey(rawValue: 42), application: .beijingMunicipal, cardType: .student)
        var tap = Tap(reader: 0, result: .card(full), detectedAt: 0, readAt: 0)
        tap.result = .card(bare)
        let fresh = Tap(reader: 0, result: .card(bare), detectedAt: 0, readAt: 0)
        XCTAssertEqual(tap, fresh)
        XCTAssertEqual(tap.hashValue, fresh.hashValue)

        tap.result = .failed(.cardRemoved, CardKey(rawValue: 42))
        XCTAssertEqual(
            tap, Tap(reader: 0, result: .failed(.cardRemoved, CardKey(rawValue: 42)), detectedAt: 0, readAt: 0))
        XCTAssertNotEqual(tap, fresh)
        tap.result = .failed(.cardRemoved, nil)
        XCTAssertNotEqual(
            tap, Tap(reader: 0, result: .failed(.cardRemoved, CardKey(rawValue: 0)), detectedAt: 0, readAt: 0),
            "a failure without a key differs from one with key 0")
    }
}
