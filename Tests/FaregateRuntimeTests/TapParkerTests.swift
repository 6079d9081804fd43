import FaregateBenchRings
import FaregateCore
import FaregateRuntime
import Foundation
import Synchronization
import XCTest

final class TapParkerTests: XCTestCase {
    func testParkReturnsAtOnceWhenReady() {
        let parker = TapParker(spinIterations: 4)
        parker.park(until: { true })
        XCTAssertEqual(parker.parkCount, 0)
    }

    /// The consumer blocks; `wake()` after a flag change releases it (no sleeping: the test waits
    /// on a semaphore the consumer signals).
    func testWakeReleasesAParkedConsumer() {
        let parker = TapParker(spinIterations: 4)
        let stopping = Atomic<Bool>(false)
        let finished = DispatchSemaphore(value: 0)
        let blocked = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            var announced = false
            while !stopping.load(ordering: .sequentiallyConsistent) {
                parker.park(until: {
                    if !announced {
                        announced = true
                        blocked.signal()
                    }
                    return stopping.load(ordering: .sequentiallyConsistent)
                })
            }
            finished.signal()
        }
        blocked.wait()
        stopping.store(true, ordering: .releasing)
        parker.wake()
        finished.wait()
        XCTAssertTrue(stopping.load(ordering: .relaxed))
    }

    func testUnparkWithoutParkedConsumerIsHarmless() {
        let parker = TapParker(spinIterations: 1)
        for _ in 0..<10 { parker.unpark() }
        // A later park with a true condition returns without consuming anything.
        parker.park(until: { true })
        XCTAssertEqual(parker.parkCount, 0)
    }
}

/// Producers push and unpark; the consumer pops and parks exactly as the decision loop does. A
/// lost wake-up would hang this test. Runs under TSan.
final class TapParkerStressTests: XCTestCase {
    func testNoLostWakeUpsUnderTheDecisionLoopPattern() {
        let producers = 3
        let perProducer = 5_000
        let ring = LockFreeTapRing(capacity: 16)
        let parker = TapParker(spinIterations: 8)  // park often
        let done = DispatchSemaphore(value: 0)
        for p in 0..<producers {
            Thread.detachNewThread {
                for i in 0..<perProducer {
                    let tap = Tap(reader: UInt16(p), result: .failed(.timeout, nil), detectedAt: UInt64(i), readAt: 0)
                    while !ring.tryPush(tap) {}
                    parker.unpark()
                }
                done.signal()
            }
        }
        var last = [Int](repeating: -1, count: producers)
        var received = 0
        while received < producers * perProducer {
            if let tap = ring.tryPop() {
                XCTAssertEqual(Int(tap.detectedAt), last[Int(tap.reader)] + 1)
                last[Int(tap.reader)] = Int(tap.detectedAt)
                received += 1
            } else {
                parker.park(until: { !ring.isEmpty })
            }
        }
        for _ in 0..<producers { done.wait() }
        XCTAssertEqual(received, producers * perProducer)
        XCTAssertTrue(ring.isEmpty)
    }
}
