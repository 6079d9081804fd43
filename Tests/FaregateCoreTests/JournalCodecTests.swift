import FaregateCore
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

    func testCRC32MatchesTheStandardCheckValue() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
    }
}
