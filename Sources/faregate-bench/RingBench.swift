// The ring part of faregate-bench: per-reader SPSC rings (what `GateRuntime` runs) against the
// Mutex-guarded ring, through one generic harness, with the single-item API and with the batched
// API on both sides; the multi-producer `BoundedRing` for reference; handoff latency; idle CPU
// and wake-up latency of a parked decision loop.
import FaregateBenchRings
import FaregateCore
import FaregateRuntime
import Foundation
import Glibc
import Synchronization

/// What the harness needs from a ring. The same generic code runs every ring (specialised per
/// type in the release build, so no side pays for an existential call the other does not).
protocol BenchRing: AnyObject, Sendable {
    func tryPush(_ tap: Tap) -> Bool
    func tryPop() -> Tap?
    /// Takes up to `limit` taps in one go (one lock acquisition / one index publication).
    @discardableResult func take(limit: Int, _ body: (Tap) -> Void) -> Int
    /// Consumer's emptiness check for the park condition (a sequentially consistent read).
    var isEmpty: Bool { get }
    /// True when a push is itself a full fence (a lock, a sequentially consistent CAS), so a
    /// producer needs only `TapParker.unpark()`; otherwise it calls `wakeAfterPush()`.
    static var pushIsFullFence: Bool { get }
}

extension SPSCRing: BenchRing where Element == Tap {
    static var pushIsFullFence: Bool { false }
    @inline(__always) func take(limit: Int, _ body: (Tap) -> Void) -> Int { drain(limit: limit, body) }
}
extension MutexTapRing: BenchRing {
    static var pushIsFullFence: Bool { true }
    @inline(__always) func take(limit: Int, _ body: (Tap) -> Void) -> Int { drain(limit: limit, body) }
}
extension BoundedRing: BenchRing where Element == Tap {
    static var pushIsFullFence: Bool { true }
    /// BoundedRing has no batched pop: one `tryPop` per element.
    func take(limit: Int, _ body: (Tap) -> Void) -> Int {
        var n = 0
        while n < limit, let tap = tryPop() {
            body(tap)
            n += 1
        }
        return n
    }
}

func tap(_ producer: Int, _ i: Int, stamp: UInt64 = 0) -> Tap {
    Tap(reader: UInt16(producer), result: .failed(.timeout, nil), detectedAt: UInt64(i), readAt: 0, enqueuedAt: stamp)
}

// MARK: Throughput

/// How often the consumer blocked in the last `ringThroughput` run (shown in the row's note).
let lastParkCount = Atomic<Int>(0)

/// Items per second from `producers` threads into `rings` (producer p pushes into
/// `rings[p % rings.count]`: one ring each, or all into one shared ring) and one consumer that
/// goes round the rings in the decision loop's shape: take (one tap, or up to `batch`), and when
/// every ring was empty, spin then park on `TapParker` until one is not.
///
/// `asymmetricFence: false` makes an SPSC producer pay a full fence per push (`TapParker.wake()`)
/// instead of relying on the parked consumer's membarrier.
func ringThroughput<R: BenchRing>(
    _ rings: [R], producers: Int, items: Int, batch: Int?, asymmetricFence: Bool = true
) -> Double {
    let per = items / producers
    let parker = TapParker(asymmetricFence: asymmetricFence)
    let start = DispatchSemaphore(value: 0)
    let done = DispatchSemaphore(value: 0)
    let needsFence = !R.pushIsFullFence
    for p in 0..<producers {
        let ring = rings[p % rings.count]
        Thread.detachNewThread {
            start.wait()
            for i in 0..<per {
                // Full ring: spin briefly, then yield the core (2 cores, up to 3 threads: a spinning
                // producer would otherwise keep the consumer from running).
                var spins = 0
                while !ring.tryPush(tap(p, i)) {
                    spins += 1
                    if spins > 64 { sched_yield() }
                }
                if needsFence { parker.wakeAfterPush() } else { parker.unpark() }
            }
            done.signal()
        }
    }
    precondition((1...2).contains(rings.count), "the harness visits one or two rings")
    let t0 = now()
    for _ in 0..<producers { start.signal() }
    let total = per * producers
    let check = consume(rings[0], rings.count > 1 ? rings[1] : nil, total: total, batch: batch, parker: parker)
    let elapsed = now() - t0
    for _ in 0..<producers { done.wait() }
    lastParkCount.store(parker.parkCount, ordering: .relaxed)
    precondition(check == UInt64(producers) * UInt64(per * (per - 1) / 2), "ring lost items")
    return Double(total) / (Double(elapsed) / 1e9)
}

/// The consumer of `ringThroughput`, in the decision loop's shape; returns the checksum of the
/// taps' `detectedAt`.
///
/// The rings come in as parameters rather than being visited through an array (a
/// `for ring in rings` loop retains and releases each ring it visits), and single-item pops go
/// through `popOne`, not inlined: inlined into this loop, the optimiser kept a retain and release
/// of the ring around every `tryPop` — two atomic read-modify-writes per tap, a cost of the
/// harness that is not the rings'. A call with a borrowed parameter has none (checked in the
/// disassembly); both sides pay the same call.
@inline(never)
func consume<R: BenchRing>(_ first: R, _ second: R?, total: Int, batch: Int?, parker: TapParker) -> UInt64 {
    var received = 0
    var check: UInt64 = 0
    while received < total {
        var took = 0
        if let batch {
            took += first.take(limit: batch) { check &+= $0.detectedAt }
            if let second { took += second.take(limit: batch) { check &+= $0.detectedAt } }
        } else {
            took += popOne(first, &check)
            if let second { took += popOne(second, &check) }
        }
        received += took
        if took == 0 { parker.park(until: { !first.isEmpty || !(second?.isEmpty ?? true) }) }
    }
    return check
}

/// One `tryPop`, out of line (see `consume`).
@inline(never)
func popOne<R: BenchRing>(_ ring: R, _ check: inout UInt64) -> Int {
    guard let t = ring.tryPop() else { return 0 }
    check &+= t.detectedAt
    return 1
}

// MARK: Latency

/// One item in flight at a time: producer stamps, consumer (busy) measures; returns ns samples.
func handoffLatency<R: BenchRing>(_ ring: R, rounds: Int) -> [UInt64] {
    let acked = Atomic<Int>(0)
    var samples: [UInt64] = []
    samples.reserveCapacity(rounds)
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
        for i in 0..<rounds {
            while acked.load(ordering: .acquiring) < i {}
            while !ring.tryPush(tap(0, i, stamp: now())) {}
        }
        done.signal()
    }
    for i in 0..<rounds {
        var t: Tap?
        while t == nil { t = ring.tryPop() }
        samples.append(now() - (t?.enqueuedAt ?? 0))
        acked.store(i + 1, ordering: .releasing)
    }
    done.wait()
    return samples
}

/// Uncontended cost of one push + pop on one thread (no handoff): the ring's own overhead.
func pushPopNanos<R: BenchRing>(_ ring: R, _ n: Int) -> Double {
    let t0 = now()
    var check: UInt64 = 0
    for i in 0..<n {
        _ = ring.tryPush(tap(0, i))
        check &+= ring.tryPop()?.detectedAt ?? 0
    }
    precondition(check == UInt64(n * (n - 1) / 2))
    return Double(now() - t0) / Double(n)
}

// MARK: Parked consumer: idle CPU and wake-up latency

/// The decision loop's parking on two per-reader SPSC rings: idle CPU while parked, and push +
/// `wake()` → consumer has the tap, for a consumer that has been parked for 2 ms.
func parkedConsumer() -> (idleCPUPercent: Double, wakeSamples: [UInt64]) {
    let rings = [SPSCTapRing(capacity: 1024), SPSCTapRing(capacity: 1024)]
    let parker = TapParker()
    let stopping = Atomic<Bool>(false)
    let lastLatency = Atomic<UInt64>(0)
    let received = Atomic<Int>(0)
    let finished = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
        while !stopping.load(ordering: .sequentiallyConsistent) {
            var took = 0
            for ring in rings {
                took += ring.drain(limit: 64) { t in
                    lastLatency.store(now() - t.enqueuedAt, ordering: .relaxed)
                    received.wrappingAdd(1, ordering: .releasing)
                }
            }
            if took == 0 {
                parker.park(until: {
                    rings.contains { !$0.isEmpty } || stopping.load(ordering: .sequentiallyConsistent)
                })
            }
        }
        finished.signal()
    }
    // Idle: let it park, then measure process CPU over a window while this thread sleeps.
    usleep(50_000)
    let window: UInt64 = quick ? 500_000_000 : 2_000_000_000
    let c0 = cpuNanos(), w0 = now()
    usleep(UInt32(window / 1000))
    let idle = Double(cpuNanos() - c0) / Double(now() - w0) * 100
    // Wake-ups: each push finds the consumer parked (it has been idle for 2 ms); alternate rings.
    var samples: [UInt64] = []
    let rounds = quick ? 100 : 300
    for i in 0..<rounds {
        usleep(2000)
        let parksBefore = parker.parkCount
        _ = rings[i & 1].tryPush(tap(i & 1, i, stamp: now()))
        parker.wakeAfterPush()
        while received.load(ordering: .acquiring) <= i {}
        if parksBefore > 0 { samples.append(lastLatency.load(ordering: .relaxed)) }
    }
    stopping.store(true, ordering: .releasing)
    parker.wake()
    finished.wait()
    return (idle, samples)
}

// MARK: Driver

@MainActor func runRingBenchmarks() {
    // 10 pairs of 4M taps rather than 5 of 10M: on the 2-vCPU VM the throughput of both rings swings
    // up to 4x with where the host places the vCPUs, which changes within seconds; shorter, more
    // numerous, interleaved runs let both sides see the same conditions more often.
    let items = quick ? 1_000_000 : 4_000_000
    let reps = quick ? 4 : 10  // even: as many pairs start with each side (A-B-B-A)
    let capacity = 1024
    let batch = 64  // GateRuntime.Options.maxBatch
    if !TapParker.asymmetricFenceAvailable {
        FileHandle.standardError.write(Data("membarrier unavailable: producers fence on every push\n".utf8))
    }
    record(
        Row(
            name: "Tap size", value: Double(MemoryLayout<Tap>.size), unit: "B", baseline: nil,
            note:
                "stride \(MemoryLayout<Tap>.stride) B = \(String(format: "%.2f", Double(MemoryLayout<Tap>.stride) / 64)) cache lines per tap"
        ))
    for producers in [1, 2] {
        let per = producers == 1 ? "1 producer" : "\(producers) producers"
        let shape = producers == 1 ? "" : "; lock-free: one SPSC ring per producer, Mutex: one shared ring"
        // One SPSC ring per producer (as the gate runs them) against one shared Mutex ring.
        func spsc(batch: Int?, asymmetricFence: Bool = true) -> Double {
            ringThroughput(
                (0..<producers).map { _ in SPSCTapRing(capacity: capacity) }, producers: producers, items: items,
                batch: batch, asymmetricFence: asymmetricFence)
        }
        func mutex(batch: Int?) -> Double {
            ringThroughput([MutexTapRing(capacity: capacity)], producers: producers, items: items, batch: batch)
        }
        compareThroughput(
            "ring throughput, \(per), single-item API", reps: reps, note: "baseline: MutexTapRing tryPop\(shape)",
            lockFree: { spsc(batch: nil) }, mutex: { mutex(batch: nil) })
        compareThroughput(
            "ring throughput, \(per), batched API (≤ \(batch))", reps: reps,
            note: "baseline: MutexTapRing drain (one lock per batch)\(shape)",
            lockFree: { spsc(batch: batch) }, mutex: { mutex(batch: batch) })
        compareThroughput(
            "ring throughput, \(per), batched API, full fence per push", reps: reps,
            note: "portable wake-up (no membarrier); baseline: MutexTapRing drain\(shape)",
            lockFree: { spsc(batch: batch, asymmetricFence: false) }, mutex: { mutex(batch: batch) })
        compareThroughput(
            "MPSC BoundedRing throughput, \(per)", reps: reps,
            note: "reference: the multi-producer ring, one shared ring; baseline MutexTapRing tryPop",
            lockFree: {
                ringThroughput([LockFreeTapRing(capacity: capacity)], producers: producers, items: items, batch: nil)
            },
            mutex: { mutex(batch: nil) })
    }
    recordElementSizes(items: items, batch: batch, reps: reps)
    record(
        Row(
            name: "ring push+pop, one thread", value: pushPopNanos(SPSCTapRing(capacity: capacity), items), unit: "ns",
            baseline: pushPopNanos(MutexTapRing(capacity: capacity), items), note: "uncontended"))
    let rounds = quick ? 20_000 : 100_000
    let lfLat = handoffLatency(SPSCTapRing(capacity: capacity), rounds: rounds)
    let mxLat = handoffLatency(MutexTapRing(capacity: capacity), rounds: rounds)
    record(
        Row(
            name: "ring handoff latency p50", value: median(lfLat), unit: "ns", baseline: median(mxLat),
            note: "busy consumer"))
    record(
        Row(
            name: "ring handoff latency p99", value: percentile(lfLat, 0.99), unit: "ns",
            baseline: percentile(mxLat, 0.99)))

    let parked = parkedConsumer()
    record(
        Row(
            name: "idle CPU, parked consumer", value: parked.idleCPUPercent, unit: "% of a core", baseline: nil,
            note: "whole process"))
    record(Row(name: "wake-up latency p50 (parked)", value: median(parked.wakeSamples), unit: "ns", baseline: nil))
    record(
        Row(
            name: "wake-up latency p99 (parked)", value: percentile(parked.wakeSamples, 0.99), unit: "ns",
            baseline: nil))
}
