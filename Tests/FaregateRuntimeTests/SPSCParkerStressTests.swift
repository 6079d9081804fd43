import FaregateCore
import FaregateRuntime
import Foundation
import Synchronization
import XCTest

/// The gate's shape: one SPSC ring per reader thread, one decision thread draining them all and
/// parking when all are empty. Producers push with a releasing store and call `wake()` (full fence,
/// then the parked check); the consumer announces parked, then checks every ring. A lost wake-up
/// hangs this test; order and sum catch lost or duplicated taps. Runs under ThreadSanitizer.
final class SPSCParkerStressTests: XCTestCase {
    func testNoLostWakeUpAcrossSeveralRings() {
        let producers = 3
        let perProducer = 5_000
        let rings = (0..<producers).map { _ in SPSCTapRing(capacity: 8) }
        let parker = TapParker(spinIterations: 8)  // park often
        let done = DispatchSemaphore(value: 0)
        for p in 0..<producers {
            let ring = rings[p]
            Thread.detachNewThread {
                for i in 0..<perProducer {
                    let tap = Tap(reader: UInt16(p), result: .failed(.timeout, nil), detectedAt: UInt64(i), readAt: 0)
                    while !ring.tryPush(tap) { sched_yield() }
                    parker.wake()
                }
                done.signal()
            }
        }
        var last = [Int](repeating: -1, count: producers)
        var sum: UInt64 = 0
        var received = 0
        while received < producers * perProducer {
            var took = 0
            for ring in rings {
                took += ring.drain(limit: 4) { tap in
                    XCTAssertEqual(Int(tap.detectedAt), last[Int(tap.reader)] + 1)
                    last[Int(tap.reader)] = Int(tap.detectedAt)
                    sum &+= tap.detectedAt
                }
            }
            received += took
            if took == 0 { parker.park(until: { rings.contains { !$0.isEmpty } }) }
        }
        for _ in 0..<producers { done.wait() }
        XCTAssertEqual(received, producers * perProducer)
        XCTAssertEqual(sum, UInt64(producers) * UInt64(perProducer * (perProducer - 1) / 2))
        XCTAssertTrue(rings.allSatisfy(\.isEmpty))
    }
}
