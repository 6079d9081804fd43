import FaregateBenchRings
import FaregateCore
import XCTest

final class DataStructureTests: XCTestCase {
    func tap(_ i: Int) -> Tap {
        Tap(reader: UInt16(i % 7), result: .failed(.timeout, nil), detectedAt: UInt64(i), readAt: UInt64(i))
    }

    /// Every capacity × start offset × fill count against an Array model.
    func testMutexRingAgainstArrayModel() {
        for capacity in [1, 2, 4, 8, 16] {
            for offset in 0..<(2 * capacity) {
                for count in 0...(capacity + 1) {
                    let ring = MutexTapRing(capacity: capacity)
                    var model: [Tap] = []
                    var n = 0
                    for _ in 0..<offset {  // move head and tail to `offset`
                        XCTAssertTrue(ring.tryPush(tap(n)))
                        XCTAssertEqual(ring.tryPop(), tap(n))
                        n += 1
                    }
                    for _ in 0..<count {
                        let pushed = ring.tryPush(tap(n))
                        XCTAssertEqual(pushed, model.count < capacity)
                        if pushed { model.append(tap(n)) }
                        n += 1
                    }
                    while let t = ring.tryPop() { XCTAssertEqual(t, model.removeFirst()) }
                    XCTAssertTrue(model.isEmpty, "cap \(capacity) offset \(offset) count \(count)")
                }
            }
        }
    }

    func testHistogramQuantilesWithinThreePercent() {
        var h = LatencyHistogram()
        var values: [UInt64] = []
        var x: UInt64 = 12345
        for _ in 0..<20_000 {
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let v = (x >> 33) % 5_000_000
            values.append(v)
            h.record(v)
        }
        values.sort()
        for q in [0.5, 0.9, 0.99, 0.999] {
            let exact = Double(values[Int((q * Double(values.count)).rounded(.up)) - 1])
            let got = Double(h.quantile(q))
            XCTAssertGreaterThanOrEqual(got, exact, "q\(q)")
            XCTAssertLessThanOrEqual(got, exact * 1.035 + 1, "q\(q)")
        }
        XCTAssertEqual(h.max, values.last)
        XCTAssertEqual(h.quantile(1), values.last)
        XCTAssertEqual(LatencyHistogram().quantile(0.5), 0)
    }
}
