// The ring bench's element-size rows: how the SPSC ring's throughput depends on the size of what
// it carries (8 to 72 bytes), which bounds what a tap of a given layout can reach.
import FaregateBenchRings
import FaregateCore
import FaregateRuntime
import Foundation
import Glibc
import Synchronization

// MARK: Element size

/// An element for `elementThroughput`: built from a key by the producer, read back by the consumer.
/// The producer calls `init(key:)` directly (not through a closure) so the element is stored
/// straight into its slot, as `tap(_:_:)` is in the Tap rows.
///
/// Why not a `(UInt64) -> E` closure: a closure of generic result type returns its struct through
/// memory, the caller then reloads it with wider loads than the closure's 8-byte stores, and such a
/// load cannot be forwarded from the store buffer: it waits until the buffer has drained up to
/// those stores — including the previous push's `tail` store, which waits for the line the
/// consumer just read. Every push then stalls for a cross-core transfer, and all struct sizes run
/// at the same ~30–40M/s while `UInt64` (one 8-byte store, forwarded) does not.
protocol SizedElement: Sendable {
    init(key: UInt64)
    var key: UInt64 { get }
}
extension UInt64: SizedElement {
    init(key: UInt64) { self = key }
    var key: UInt64 { self }
}
struct Element16: SizedElement {
    var key: UInt64
    var pad: UInt64 = 0
    init(key: UInt64) { self.key = key }
}
struct Element32: SizedElement {
    var key: UInt64
    var pad: (UInt64, UInt64, UInt64) = (0, 0, 0)
    init(key: UInt64) { self.key = key }
}
/// `Tap`'s stride (64 bytes), without its enum.
struct Element64: SizedElement {
    var key: UInt64
    var pad: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0)
    init(key: UInt64) { self.key = key }
}
struct Element48: SizedElement {
    var key: UInt64
    var pad: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)
    init(key: UInt64) { self.key = key }
}
/// The size and stride `Tap` had before its result was stored flattened (72 bytes).
struct Element72: SizedElement {
    var key: UInt64
    var pad: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    init(key: UInt64) { self.key = key }
}

/// Items per second through one `SPSCRing<E>` with the Tap rows' loop (one producer, batched
/// drain, `TapParker`): how much of the ring's cost is moving the elements' cache lines from the
/// producer's core to the consumer's. `readElements: false` drains without reading a slot, so only
/// the index lines travel.
func elementThroughput<E: SizedElement>(_: E.Type, items: Int, batch: Int, readElements: Bool = true) -> Double {
    let ring = SPSCRing<E>(capacity: 1024)
    let parker = TapParker()
    let start = DispatchSemaphore(value: 0)
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
        start.wait()
        for i in 0..<items {
            var spins = 0
            while !ring.tryPush(E(key: UInt64(i))) {
                spins += 1
                if spins > 64 { sched_yield() }
            }
            parker.wakeAfterPush()
        }
        done.signal()
    }
    let t0 = now()
    start.signal()
    var received = 0
    var check: UInt64 = 0
    while received < items {
        let took = readElements ? ring.drain(limit: batch) { check &+= $0.key } : ring.drain(limit: batch) { _ in }
        received += took
        if took == 0 { parker.park(until: { !ring.isEmpty }) }
    }
    let elapsed = now() - t0
    done.wait()
    // The checksum keeps the consumer's reads of the slots from being optimised away.
    precondition(!readElements || check == UInt64(items) * UInt64(items - 1) / 2, "ring lost items")
    return Double(received) / (Double(elapsed) / 1e9)
}

/// Records one row per element size, each the median of `reps` runs taken round-robin (the sizes
/// alternate, so a noisy stretch on the shared machine hits them alike).
@MainActor func recordElementSizes(items: Int, batch: Int, reps: Int) {
    let cases: [(name: String, note: String, run: () -> Double)] = [
        (
            "SPSC ring throughput, 8-byte elements, batched", "UInt64 elements (8 per cache line)",
            { elementThroughput(UInt64.self, items: items, batch: batch) }
        ),
        (
            "SPSC ring throughput, 16-byte elements, batched", "4 per cache line",
            { elementThroughput(Element16.self, items: items, batch: batch) }
        ),
        (
            "SPSC ring throughput, 32-byte elements, batched", "2 per cache line",
            { elementThroughput(Element32.self, items: items, batch: batch) }
        ),
        (
            "SPSC ring throughput, 48-byte elements, batched", "1.33 per cache line",
            { elementThroughput(Element48.self, items: items, batch: batch) }
        ),
        (
            "SPSC ring throughput, 64-byte elements, batched", "Tap's stride: one cache line each",
            { elementThroughput(Element64.self, items: items, batch: batch) }
        ),
        (
            "SPSC ring throughput, 72-byte elements, batched", "the old Tap's stride, 1.125 cache lines each",
            { elementThroughput(Element72.self, items: items, batch: batch) }
        ),
        (
            "SPSC ring throughput, 72-byte elements, slots not read", "consumer drains without reading a slot",
            { elementThroughput(Element72.self, items: items, batch: batch, readElements: false) }
        ),
    ]
    var rates = Array(repeating: [Double](), count: cases.count)
    for _ in 0..<reps {
        for (i, c) in cases.enumerated() { rates[i].append(c.run()) }
    }
    for (i, c) in cases.enumerated() {
        let sorted = rates[i].sorted()
        record(
            Row(
                name: c.name, value: sorted[sorted.count / 2], unit: "items/s", baseline: nil,
                note: "same ring and batched loop as the Tap rows, element built in place; \(c.note)"))
    }
}

/// Runs both sides `reps` times, alternating in A-B-B-A order (so load on the shared machine, and
/// drift in where the host runs the two vCPUs, hits both alike), and records the median of each
/// side. The note adds the median and range of the per-pair ratios.
@MainActor func compareThroughput(
    _ name: String, reps: Int, note: String, lockFree: () -> Double, mutex: () -> Double
) {
    var lf: [Double] = []
    var mx: [Double] = []
    var parks = (0, 0)
    for rep in 0..<reps {
        func runLockFree() {
            lf.append(lockFree())
            parks.0 += lastParkCount.load(ordering: .relaxed)
        }
        func runMutex() {
            mx.append(mutex())
            parks.1 += lastParkCount.load(ordering: .relaxed)
        }
        if rep % 2 == 0 {
            runLockFree()
            runMutex()
        } else {
            runMutex()
            runLockFree()
        }
    }
    let pairRatios = zip(lf, mx).map { $0 / $1 }.sorted()
    lf.sort()
    mx.sort()
    let spread = String(
        format: "per-pair ratio median %.1f (%.1f–%.1f)", pairRatios[pairRatios.count / 2], pairRatios[0],
        pairRatios[pairRatios.count - 1])
    record(
        Row(
            name: name, value: lf[lf.count / 2], unit: "items/s", baseline: mx[mx.count / 2],
            note: note + "; \(spread); consumer parked \(parks.0) / \(parks.1) times in \(reps) run(s)"))
}
