import FaregateCore
import FaregateRuntime
import Foundation
import Synchronization
import XCTest

/// The gate's shape: one SPSC ring per reader thread, one decision thread draining them all and
/// parking when all are empty. Producers push with a releasing store and call `wakeAfterPush()`
/// (a full fence, or only a compiler barrier when the parked consumer uses membarrier); the
/// consumer announces parked, then checks every ring. A lost wake-up hangs this test; order and
/// sum catch lost or duplicated taps. Runs under ThreadSanitizer.
final class SPSCParkerStressTests: XCTestCase {
    func testNoLostWakeUpAcrossSeveralRingsWithTheAsymmetricFence() {
        if !TapParker.asymmetricFenceAvailable { print("membarrier unavailable: this run fences every push") }
        run(asymmetricFence: true)
    }

    func testNoLostWakeUpAcrossSeveralRingsWithAFullFencePerPush() {
        run(asymmetricFence: false)
    }

    private func run(asymmetricFence: Bool) {
        let producers = 3
        let perProducer = 5_000
        let rings = (0..<producers).map { _ in SPSCTapRing(capacity: 8) }
        let parker = TapParker(spinIterations: 8, asymmetricFence: asymmetricFence)  // park often
        XCTAssertEqual(parker.usesAsymmetricFence, asymmetricFence && TapParker.asymmetricFenceAvailable)
        let done = DispatchSemaphore(value: 0)
        for p in 0..<producers {
            let ring = rings[p]
            Thread.detachNewThread {
                for i in 0..<perProducer {
                    let tap = Tap(reader: UInt16(p), result: .failed(.timeout, nil), detectedAt: UInt64(i), readAt: 0)
                    while !ring.tryPush(tap) { sched_yield() }
                    parker.wakeAfterPush()
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

final class TapParkerWakeAfterPushTests: XCTestCase {
    /// A consumer that announced itself parked (it is inside the final check) is released by a
    /// push + `wakeAfterPush()`, in both fence modes. No sleeping: the test waits on semaphores
    /// the two threads signal.
    func testWakeAfterPushReleasesAParkedConsumer() {
        for asymmetric in [true, false] {
            let ring = SPSCTapRing(capacity: 4)
            let parker = TapParker(spinIterations: 1, asymmetricFence: asymmetric)
            let checking = DispatchSemaphore(value: 0)
            let finished = DispatchSemaphore(value: 0)
            let got = Mutex<Tap?>(nil)
            Thread.detachNewThread {
                var first = true
                while true {
                    if let tap = ring.tryPop() {
                        got.withLock { $0 = tap }
                        break
                    }
                    parker.park(until: {
                        if first {
                            first = false
                            checking.signal()
                        }
                        return !ring.isEmpty
                    })
                }
                finished.signal()
            }
            checking.wait()
            let tap = Tap(reader: 1, result: .failed(.timeout, nil), detectedAt: 42, readAt: 0)
            XCTAssertTrue(ring.tryPush(tap))
            parker.wakeAfterPush()
            finished.wait()
            XCTAssertEqual(got.withLock { $0 }, tap, "asymmetric: \(asymmetric)")
        }
    }
}
