import FaregateBenchRings
import FaregateCore
import Foundation
import XCTest

final class BoundedRingTests: XCTestCase {
    /// Every capacity × start offset × fill count: push `count` (some refused when full), pop all,
    /// compared with an Array model.
    func testExhaustiveAgainstArrayModel() {
        for capacity in [2, 4, 8, 16] {
            for start in 0..<(2 * capacity + 1) {
                for count in 0...(capacity + 2) {
                    let ring = BoundedRing<Int>(capacity: capacity)
                    // Move the positions to `start` (wrapping the indices).
                    for i in 0..<start {
                        XCTAssertTrue(ring.tryPush(-i))
                        XCTAssertEqual(ring.tryPop(), -i)
                    }
                    XCTAssertTrue(ring.isEmpty)
                    var model: [Int] = []
                    for v in 0..<count {
                        let accepted = ring.tryPush(v)
                        XCTAssertEqual(accepted, model.count < capacity, "cap \(capacity) start \(start) push \(v)")
                        if accepted { model.append(v) }
                    }
                    XCTAssertEqual(ring.count, model.count)
                    XCTAssertEqual(ring.isEmpty, model.isEmpty)
                    var popped: [Int] = []
                    while let v = ring.tryPop() { popped.append(v) }
                    XCTAssertEqual(popped, model, "cap \(capacity) start \(start) count \(count)")
                    XCTAssertTrue(ring.isEmpty)
                    XCTAssertNil(ring.tryPop())
                }
            }
        }
    }

    /// Random interleavings of push and pop against the model (wrap-around many times).
    func testRandomInterleavingAgainstModel() {
        var rng = SystemRandomNumberGenerator()
        for capacity in [2, 8, 64] {
            let ring = BoundedRing<Int>(capacity: capacity)
            var model: [Int] = []
            var next = 0
            for _ in 0..<20_000 {
                if Bool.random(using: &rng) {
                    let ok = ring.tryPush(next)
                    XCTAssertEqual(ok, model.count < capacity)
                    if ok { model.append(next) }
                    next += 1
                } else {
                    XCTAssertEqual(ring.tryPop(), model.isEmpty ? nil : model.removeFirst())
                }
                XCTAssertEqual(ring.isEmpty, model.isEmpty)
            }
        }
    }

    /// Elements with references are retained while queued and released on pop or deinit.
    func testNonTrivialElementsAreDeinitialized() {
        final class Token {}
        weak var popped: Token?
        weak var leftInRing: Token?
        do {
            let ring = BoundedRing<Token>(capacity: 4)
            let a = Token(), b = Token()
            popped = a
            leftInRing = b
            XCTAssertTrue(ring.tryPush(a))
            XCTAssertTrue(ring.tryPush(b))
            XCTAssertTrue(ring.tryPop() === a)
        }
        XCTAssertNil(popped)
        XCTAssertNil(leftInRing)
    }

    func testTapRingConformance() {
        assertTwoSlotTapRingRefusesWhenFull(LockFreeTapRing(capacity: 2))
        let tap = Tap(reader: 3, result: .failed(.timeout, nil), detectedAt: 7, readAt: 9)
        let mutex = MutexTapRing(capacity: 2)
        XCTAssertTrue(mutex.isEmpty)
        XCTAssertTrue(mutex.tryPush(tap))
        XCTAssertFalse(mutex.isEmpty)
    }
}

/// Checks a 2-slot ring through the `TapRing` protocol: two pushes fit, the third is refused (the
/// caller counts it), and one pop frees exactly one slot.
func assertTwoSlotTapRingRefusesWhenFull(_ ring: any TapRing, file: StaticString = #filePath, line: UInt = #line) {
    let tap = Tap(reader: 3, result: .failed(.timeout, nil), detectedAt: 7, readAt: 9)
    XCTAssertEqual(ring.capacity, 2, file: file, line: line)
    XCTAssertTrue(ring.tryPush(tap), file: file, line: line)
    XCTAssertTrue(ring.tryPush(tap), file: file, line: line)
    XCTAssertFalse(ring.tryPush(tap), "a full ring refuses (the caller counts it)", file: file, line: line)
    XCTAssertEqual(ring.tryPop(), tap, file: file, line: line)
    XCTAssertTrue(ring.tryPush(tap), "one slot freed, one push accepted", file: file, line: line)
}

/// Several producers, one consumer: per-producer order and a checksum. Runs under TSan.
final class BoundedRingStressTests: XCTestCase {
    func testManyProducersOneConsumerKeepOrderAndSum() {
        let producers = 4
        let perProducer = 20_000
        let ring = LockFreeTapRing(capacity: 64)
        let done = DispatchSemaphore(value: 0)
        let refused = ManagedCounter()
        for p in 0..<producers {
            Thread.detachNewThread {
                for i in 0..<perProducer {
                    let tap = Tap(
                        reader: UInt16(p), result: .failed(.timeout, nil), detectedAt: UInt64(i),
                        readAt: UInt64(i) &* 31)
                    while !ring.tryPush(tap) { refused.increment() }
                }
                done.signal()
            }
        }
        var last = [Int](repeating: -1, count: producers)
        var sum: UInt64 = 0
        var received = 0
        while received < producers * perProducer {
            guard let tap = ring.tryPop() else { continue }
            let p = Int(tap.reader)
            XCTAssertEqual(Int(tap.detectedAt), last[p] + 1, "producer \(p) out of order")
            XCTAssertEqual(tap.readAt, tap.detectedAt &* 31, "element torn")
            last[p] = Int(tap.detectedAt)
            sum &+= tap.detectedAt
            received += 1
        }
        for _ in 0..<producers { done.wait() }
        XCTAssertNil(ring.tryPop())
        XCTAssertEqual(last, [Int](repeating: perProducer - 1, count: producers))
        XCTAssertEqual(sum, UInt64(producers) * UInt64(perProducer * (perProducer - 1) / 2))
    }
}

/// A thread-safe counter for tests.
final class ManagedCounter: @unchecked Sendable {
    // @unchecked Sendable: `value` is only touched under `lock`.
    private let lock = NSLock()
    private var value = 0
    func increment() { lock.withLock { value += 1 } }
    var current: Int { lock.withLock { value } }
}
