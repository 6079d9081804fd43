import FaregateBenchRings
import FaregateCore
import Foundation
import XCTest

final class SPSCRingTests: XCTestCase {
    /// Moves the ring's indices to `start` (wrapping them `start / capacity` times).
    private func ring(capacity: Int, start: Int) -> SPSCRing<Int> {
        let ring = SPSCRing<Int>(capacity: capacity)
        for i in 0..<start {
            XCTAssertTrue(ring.tryPush(-i))
            XCTAssertEqual(ring.tryPop(), -i)
        }
        XCTAssertTrue(ring.isEmpty)
        return ring
    }

    /// Pushes 0..<count, recording which pushes the ring accepted in an Array model.
    private func fill(_ ring: SPSCRing<Int>, count: Int, _ context: String) -> [Int] {
        var model: [Int] = []
        for v in 0..<count {
            let accepted = ring.tryPush(v)
            XCTAssertEqual(accepted, model.count < ring.capacity, "\(context) push \(v)")
            if accepted { model.append(v) }
        }
        XCTAssertEqual(ring.count, model.count, context)
        XCTAssertEqual(ring.isEmpty, model.isEmpty, context)
        return model
    }

    /// Every capacity × start offset × fill count: push `count` (the ones past capacity refused),
    /// pop one at a time, compare with the Array model.
    func testExhaustiveTryPopAgainstArrayModel() {
        for capacity in [2, 4, 8, 16] {
            for start in 0..<(2 * capacity + 1) {
                for count in 0...(capacity + 2) {
                    let context = "cap \(capacity) start \(start) count \(count)"
                    let ring = ring(capacity: capacity, start: start)
                    let model = fill(ring, count: count, context)
                    var popped: [Int] = []
                    while let v = ring.tryPop() { popped.append(v) }
                    XCTAssertEqual(popped, model, context)
                    XCTAssertTrue(ring.isEmpty, context)
                    XCTAssertNil(ring.tryPop(), context)
                    // The ring is usable at full capacity again after the wrap.
                    XCTAssertEqual(fill(ring, count: capacity, context).count, capacity, context)
                }
            }
        }
    }

    /// Every capacity × start offset × fill count × batch limit: drain in batches of `limit`.
    func testExhaustiveDrainAgainstArrayModel() {
        for capacity in [2, 4, 8, 16] {
            for start in 0..<(2 * capacity + 1) {
                for count in 0...(capacity + 2) {
                    for limit in 1...(capacity + 1) {
                        let context = "cap \(capacity) start \(start) count \(count) limit \(limit)"
                        let ring = ring(capacity: capacity, start: start)
                        var model = fill(ring, count: count, context)
                        while !model.isEmpty {
                            var batch: [Int] = []
                            let n = ring.drain(limit: limit) { batch.append($0) }
                            let expected = Array(model.prefix(limit))
                            model.removeFirst(expected.count)
                            XCTAssertEqual(n, expected.count, context)
                            XCTAssertEqual(batch, expected, context)
                            XCTAssertEqual(ring.count, model.count, context)
                        }
                        XCTAssertEqual(ring.drain(limit: limit) { _ in XCTFail("empty ring handed out") }, 0)
                        XCTAssertTrue(ring.isEmpty, context)
                    }
                }
            }
        }
    }

    /// Random interleavings of push, pop and drain against the model (many wrap-arounds).
    func testRandomInterleavingAgainstModel() {
        var rng = SystemRandomNumberGenerator()
        for capacity in [2, 8, 64] {
            let ring = SPSCRing<Int>(capacity: capacity)
            var model: [Int] = []
            var next = 0
            for _ in 0..<20_000 {
                switch Int.random(in: 0..<3, using: &rng) {
                case 0:
                    let ok = ring.tryPush(next)
                    XCTAssertEqual(ok, model.count < capacity)
                    if ok { model.append(next) }
                    next += 1
                case 1:
                    XCTAssertEqual(ring.tryPop(), model.isEmpty ? nil : model.removeFirst())
                default:
                    let limit = Int.random(in: 1...capacity, using: &rng)
                    var batch: [Int] = []
                    ring.drain(limit: limit) { batch.append($0) }
                    let expected = Array(model.prefix(limit))
                    model.removeFirst(expected.count)
                    XCTAssertEqual(batch, expected)
                }
                XCTAssertEqual(ring.isEmpty, model.isEmpty)
                XCTAssertEqual(ring.count, model.count)
            }
        }
    }

    /// A throwing `body` still consumes the element it was handed and the ones before it; the
    /// rest stay queued in order.
    func testDrainThatThrowsPublishesWhatItTook() {
        struct Stop: Error {}
        let ring = SPSCRing<Int>(capacity: 8)
        for v in 0..<6 { XCTAssertTrue(ring.tryPush(v)) }
        var seen: [Int] = []
        XCTAssertThrowsError(
            try ring.drain(limit: 8) { v in
                seen.append(v)
                if v == 2 { throw Stop() }
            })
        XCTAssertEqual(seen, [0, 1, 2])
        XCTAssertEqual(ring.count, 3)
        var rest: [Int] = []
        while let v = ring.tryPop() { rest.append(v) }
        XCTAssertEqual(rest, [3, 4, 5])
    }

    /// Elements with references are retained while queued and released on pop, drain or deinit.
    func testNonTrivialElementsAreDeinitialized() {
        final class Token {}
        weak var popped: Token?
        weak var drained: Token?
        weak var leftInRing: Token?
        do {
            let ring = SPSCRing<Token>(capacity: 4)
            let a = Token(), b = Token(), c = Token()
            popped = a
            drained = b
            leftInRing = c
            XCTAssertTrue(ring.tryPush(a))
            XCTAssertTrue(ring.tryPush(b))
            XCTAssertTrue(ring.tryPush(c))
            XCTAssertTrue(ring.tryPop() === a)
            XCTAssertEqual(ring.drain(limit: 1) { XCTAssertTrue($0 === b) }, 1)
        }
        XCTAssertNil(popped)
        XCTAssertNil(drained)
        XCTAssertNil(leftInRing)
    }

    func testTapRingConformanceAndFullRingRefuses() {
        assertTwoSlotTapRingRefusesWhenFull(SPSCTapRing(capacity: 2))
    }

    /// The Mutex baseline's batched API behaves like the SPSC ring's (same model).
    func testMutexRingDrainMatchesModel() {
        for start in 0..<9 {
            let ring = MutexTapRing(capacity: 4)
            for i in 0..<start {
                XCTAssertTrue(ring.tryPush(tap(i)))
                XCTAssertEqual(ring.tryPop()?.detectedAt, UInt64(i))
            }
            for i in 0..<4 { XCTAssertTrue(ring.tryPush(tap(100 + i))) }
            XCTAssertFalse(ring.tryPush(tap(999)))
            var seen: [UInt64] = []
            XCTAssertEqual(ring.drain(limit: 3) { seen.append($0.detectedAt) }, 3)
            XCTAssertEqual(ring.drain(limit: 3) { seen.append($0.detectedAt) }, 1)
            XCTAssertEqual(ring.drain(limit: 3) { seen.append($0.detectedAt) }, 0)
            XCTAssertEqual(seen, [100, 101, 102, 103], "start \(start)")
            XCTAssertTrue(ring.isEmpty)
        }
    }

    private func tap(_ i: Int) -> Tap {
        Tap(reader: 0, result: .failed(.timeout, nil), detectedAt: UInt64(i), readAt: 0)
    }

    /// Every ring keeps its fields 128 bytes into the object, off the header's cache-line pair
    /// (`LinePairPadding`): `capacity`, the first field after the padding, is read back at offset
    /// 128, and `mask` (the producer's hot field in the lock-free rings) right after it. Swift does
    /// not promise class field order; this checks what the compiler does. (Were the layout
    /// different, the loads would still stay inside these objects, which are larger than 144 B.)
    func testRingFieldsStartOffTheObjectHeaderLines() {
        func word(_ ring: AnyObject, at offset: Int) -> Int {
            withExtendedLifetime(ring) {
                Unmanaged.passUnretained(ring).toOpaque().load(fromByteOffset: offset, as: Int.self)
            }
        }
        let spsc = SPSCTapRing(capacity: 2048)
        XCTAssertEqual([word(spsc, at: 128), word(spsc, at: 136)], [2048, 2047])
        let mpsc = LockFreeTapRing(capacity: 4096)
        XCTAssertEqual([word(mpsc, at: 128), word(mpsc, at: 136)], [4096, 4095])
        XCTAssertEqual(word(MutexTapRing(capacity: 1024), at: 128), 1024)
    }
}

/// One producer thread per ring, one consumer draining all rings round-robin: per-producer order,
/// no torn element, and a checksum. Small rings so both "full" and "empty" paths run constantly.
/// Runs under ThreadSanitizer (scripts/tsan-suites.txt).
final class SPSCRingStressTests: XCTestCase {
    func testOneProducerPerRingKeepsOrderAndSum() {
        for (producers, capacity, useDrain) in [(1, 2, false), (1, 8, true), (3, 4, true), (3, 16, false)] {
            run(producers: producers, capacity: capacity, perProducer: 20_000, useDrain: useDrain)
        }
    }

    private func run(producers: Int, capacity: Int, perProducer: Int, useDrain: Bool) {
        let rings = (0..<producers).map { _ in SPSCTapRing(capacity: capacity) }
        let done = DispatchSemaphore(value: 0)
        let refused = ManagedCounter()
        for p in 0..<producers {
            let ring = rings[p]
            Thread.detachNewThread {
                for i in 0..<perProducer {
                    let tap = Tap(
                        reader: UInt16(p), result: .failed(.timeout, CardKey(rawValue: UInt64(i) &* 7)),
                        detectedAt: UInt64(i), readAt: UInt64(i) &* 31)
                    while !ring.tryPush(tap) { refused.increment() }
                }
                done.signal()
            }
        }
        var last = [Int](repeating: -1, count: producers)
        var sum: UInt64 = 0
        var received = 0
        func take(_ tap: Tap) {
            let p = Int(tap.reader)
            XCTAssertEqual(Int(tap.detectedAt), last[p] + 1, "producer \(p) out of order")
            XCTAssertEqual(tap.readAt, tap.detectedAt &* 31, "element torn")
            XCTAssertEqual(tap.result, .failed(.timeout, CardKey(rawValue: tap.detectedAt &* 7)), "element torn")
            last[p] = Int(tap.detectedAt)
            sum &+= tap.detectedAt
            received += 1
        }
        while received < producers * perProducer {
            for ring in rings {
                if useDrain {
                    ring.drain(limit: 5) { take($0) }
                } else if let tap = ring.tryPop() {
                    take(tap)
                }
            }
        }
        for _ in 0..<producers { done.wait() }
        for ring in rings { XCTAssertNil(ring.tryPop()) }
        XCTAssertEqual(last, [Int](repeating: perProducer - 1, count: producers))
        XCTAssertEqual(sum, UInt64(producers) * UInt64(perProducer * (perProducer - 1) / 2))
    }

}
