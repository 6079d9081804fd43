// faregate-bench: the issue-4 benchmark. Lock-free tap ring vs Mutex ring, compact status table
// vs Dictionary, snapshot load, delta apply, parked-consumer idle CPU and wake-up latency.
// Release build only (scripts/bench). Usage: faregate-bench [--quick] [--json] [--no-dict-30m] [--ring-only]
// [--table-only] [--sizes N,N,...]
import FaregateBenchRings
import FaregateCore
import FaregateRuntime
import Foundation
import Glibc
import Synchronization

let arguments = Set(CommandLine.arguments.dropFirst())
let quick = arguments.contains("--quick")
let json = arguments.contains("--json")

@inline(__always) func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func cpuNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func peakRSSBytes() -> Int {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return usage.ru_maxrss * 1024
}

struct Row {
    var name: String
    var value: Double
    var unit: String
    var baseline: Double?
    var note: String = ""
    /// value / baseline (lower is better for times and bytes; higher for throughput).
    var ratio: Double? { baseline.map { value / $0 } }
}
var rows: [Row] = []
@MainActor func record(_ row: Row) {
    rows.append(row)
    if !json {
        let ratio = row.ratio.map { String(format: "%.3f", $0) } ?? "-"
        let base = row.baseline.map { String(format: "%.1f", $0) } ?? "-"
        FileHandle.standardError.write(
            "  \(row.name): \(String(format: "%.1f", row.value)) \(row.unit) (baseline \(base), ratio \(ratio)) \(row.note)\n"
                .data(using: .utf8) ?? Data())
    }
}

func median(_ xs: [UInt64]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? 0 : Double(s[s.count / 2])
}
func percentile(_ xs: [UInt64], _ p: Double) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? 0 : Double(s[min(s.count - 1, Int(Double(s.count) * p))])
}

// MARK: Tables

func makePairs(_ n: Int, seed: UInt64) -> [(CardKey, CardStatus)] {
    var rng = SplitMixBench(seed)
    var out: [(CardKey, CardStatus)] = []
    out.reserveCapacity(n)
    // Card numbers are issued in runs: dense blocks per medium plus scattered ones; duplicates are
    // impossible because each index maps to a distinct key.
    for i in 0..<n {
        let key: CardKey
        switch i % 4 {
        case 0, 1: key = CardKey(rawValue: 3_100_000_000_000_000_000 &+ UInt64(i) &* 3)  // transit
        case 2: key = CardKey(rawValue: 0xE << 60 | UInt64(i) &* 7)  // municipal
        default: key = CardKey(rawValue: 0x9 << 60 | UInt64(i))  // ride code
        }
        out.append((key, CardStatus(rawValue: UInt8(truncatingIfNeeded: rng.next() & 0x3F))))
    }
    return out
}

struct SplitMixBench {
    var s: UInt64
    init(_ seed: UInt64) { s = seed }
    mutating func next() -> UInt64 {
        s &+= 0x9E37_79B9_7F4A_7C15
        return KeyMix.mix(s)
    }
}

/// ns per lookup: independent (probes known in advance) and dependent (next probe chosen by the
/// previous result, so lookups cannot overlap).
func lookupNanos(_ lookup: (CardKey) -> CardStatus?, probes: [CardKey]) -> (independent: Double, dependent: Double) {
    var sink = 0
    let t0 = now()
    for k in probes { sink &+= Int(lookup(k)?.rawValue ?? 0) }
    let t1 = now()
    var idx = 0
    let mask = probes.count - 1
    for _ in 0..<probes.count {
        let s = Int(lookup(probes[idx])?.rawValue ?? 0)
        sink &+= s
        // The next probe index is computed from this result (`s >> 7` is a data dependency the
        // CPU cannot predict; statuses here are below 0x40 so it is 0 and the walk visits every
        // probe once, in order). So lookups cannot overlap, while the probe array itself streams
        // from cache: a random probe index would add the harness's own DRAM miss to every step.
        idx = ((idx &+ 1) ^ (s >> 7)) & mask
    }
    let t2 = now()
    if sink == 42 { print("") }  // keeps the work observable
    return (Double(t1 - t0) / Double(probes.count), Double(t2 - t1) / Double(probes.count))
}

/// ns per load of a dependent chain through a random cyclic permutation of the 64-byte lines of
/// `bytes` of fresh anonymous memory, advised for or against transparent huge pages; and how
/// much of the region the kernel backed with huge pages (from /proc/self/smaps).
func pointerChaseNanos(bytes: Int, hugePages: Bool, steps: Int) -> (nanos: Double, hugeKiB: Int) {
    let huge = 2 << 20
    guard let raw = mmap(nil, bytes + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
        raw != MAP_FAILED
    else { return (0, 0) }
    defer { munmap(raw, bytes + huge) }
    let aligned = (UInt(bitPattern: raw) + UInt(huge - 1)) & ~UInt(huge - 1)
    let base = UnsafeMutableRawPointer(bitPattern: aligned).unsafelyUnwrapped
    _ = madvise(base, bytes, Int32(hugePages ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
    let lines = bytes / 64
    // Sattolo's shuffle: one cycle through every line.
    var order = Array(0..<lines)
    var rng = SplitMixBench(99)
    for i in stride(from: lines - 1, to: 0, by: -1) {
        order.swapAt(i, Int(rng.next() % UInt64(i)))
    }
    for i in 0..<lines {
        (base + order[i] * 64).storeBytes(of: order[(i + 1) % lines] * 64, as: Int.self)
    }
    var offset = order[0] * 64
    let t0 = now()
    for _ in 0..<steps { offset = (base + offset).load(as: Int.self) }
    let t1 = now()
    if offset == -1 { print("") }
    return (Double(t1 - t0) / Double(steps), hugePagesKiB(in: base, bytes: bytes))
}

/// ns per load of independent random loads (one per 64-byte line, line indices drawn in advance,
/// so loads may overlap as far as the core allows) over `bytes` of fresh anonymous memory: the
/// floor for independent lookups that each need one random line.
func independentLoadNanos(bytes: Int, hugePages: Bool, loads: Int) -> Double {
    let huge = 2 << 20
    guard let raw = mmap(nil, bytes + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
        raw != MAP_FAILED
    else { return 0 }
    defer { munmap(raw, bytes + huge) }
    let aligned = (UInt(bitPattern: raw) + UInt(huge - 1)) & ~UInt(huge - 1)
    let base = UnsafeMutableRawPointer(bitPattern: aligned).unsafelyUnwrapped
    _ = madvise(base, bytes, Int32(hugePages ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
    let lines = bytes / 64
    for i in 0..<lines { (base + i * 64).storeBytes(of: i, as: Int.self) }
    var rng = SplitMixBench(5)
    let offsets = (0..<loads).map { _ in Int(rng.next() % UInt64(lines)) * 64 }
    var sink = 0
    let t0 = now()
    for o in offsets { sink &+= (base + o).load(as: Int.self) }
    let t1 = now()
    if sink == -1 { print("") }
    return Double(t1 - t0) / Double(loads)
}

/// KiB of AnonHugePages in the mappings of /proc/self/smaps that overlap [base, base + bytes).
func hugePagesKiB(in base: UnsafeRawPointer, bytes: Int) -> Int {
    // (/proc files report size 0, so read until end of file rather than trusting stat.)
    guard let handle = FileHandle(forReadingAtPath: "/proc/self/smaps"),
        let data = try? handle.readToEnd(), let text = String(data: data, encoding: .utf8)
    else { return 0 }
    let lo = UInt(bitPattern: base), hi = lo + UInt(bytes)
    var inside = false
    var total = 0
    for line in text.split(separator: "\n") {
        if let dash = line.firstIndex(of: "-"), let space = line.firstIndex(of: " "), dash < space,
            let start = UInt(line[..<dash], radix: 16),
            let end = UInt(line[line.index(after: dash)..<space], radix: 16)
        {
            inside = start < hi && end > lo
        } else if inside, line.hasPrefix("AnonHugePages:") {
            total += Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        }
    }
    return total
}

func dictionaryBytes(_ d: [CardKey: CardStatus]) -> Double {
    // Native dictionary storage: keys (8 B) and values (1 B) per bucket, one bit of occupancy
    // per bucket, ~100 B object header; capacity is the allocated bucket count × 3/4.
    let buckets = Double(d.capacity) * 4 / 3
    return buckets * 9 + buckets / 8 + 100
}

let ringOnly = arguments.contains("--ring-only")
let tableOnly = arguments.contains("--table-only")
let sizes: [Int] = {
    if ringOnly { return [] }
    // --sizes 10000000,30000000 overrides the table sizes.
    if let i = CommandLine.arguments.firstIndex(of: "--sizes"), i + 1 < CommandLine.arguments.count {
        return CommandLine.arguments[i + 1].split(separator: ",").compactMap { Int($0) }
    }
    return quick ? [100_000, 1_000_000] : [1_000_000, 10_000_000, 30_000_000]
}()
let dictionaryLimit = arguments.contains("--no-dict-30m") ? 10_000_000 : Int.max
let probeCount = quick ? 1 << 18 : 1 << 21
let workDirectory = FileManager.default.currentDirectoryPath + "/.build/bench"
try? FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)

if !json { print("faregate-bench\(quick ? " --quick" : ""): \(ProcessInfo.processInfo.activeProcessorCount) cores") }

// Ring (RingBench.swift); --table-only skips it.
if !tableOnly { runRingBenchmarks() }

// Tables
for n in sizes {
    let label = n >= 1_000_000 ? "\(n / 1_000_000)M" : "\(n / 1000)k"
    var pairs = makePairs(n, seed: UInt64(n))
    let b0 = now()
    var compact: CompactStatusTable? = CompactStatusTable(dataVersion: 1, pairs: pairs)
    let buildNanos = now() - b0
    guard let table = compact else { break }
    var rng = SplitMixBench(7)
    let probes = (0..<probeCount).map { _ in pairs[Int(rng.next() % UInt64(n))].0 }
    let c = lookupNanos({ table.status(of: $0) }, probes: probes)
    // The loop itself (probe array access, result mixing) with a lookup that touches nothing.
    let empty = lookupNanos({ $0.rawValue == 1 ? CardStatus(rawValue: 1) : nil }, probes: probes)
    record(
        Row(
            name: "lookup loop overhead \(label)", value: empty.independent, unit: "ns", baseline: nil,
            note: "dependent: \(String(format: "%.1f", empty.dependent)) ns; included in both columns"))
    let compactBytes = Double(table.memoryBytes)
    var dict: [CardKey: CardStatus]? = nil
    var dictBuild: UInt64 = 0
    if n <= dictionaryLimit {
        let d0 = now()
        var d = [CardKey: CardStatus](minimumCapacity: n)
        for (k, s) in pairs { d[k] = s }
        dictBuild = now() - d0
        dict = d
    }
    let dl = dict.map { d in lookupNanos({ d[$0] }, probes: probes) }
    let dBytes = dict.map { dictionaryBytes($0) }
    let skipped = dict == nil ? "Dictionary skipped (--no-dict-30m)" : ""
    record(
        Row(
            name: "lookup independent \(label)", value: c.independent, unit: "ns", baseline: dl?.independent,
            note: skipped))
    record(Row(name: "lookup dependent \(label)", value: c.dependent, unit: "ns", baseline: dl?.dependent))
    record(
        Row(
            name: "bytes per card \(label)", value: compactBytes / Double(n), unit: "B",
            baseline: dBytes.map { $0 / Double(n) }))
    record(
        Row(
            name: "build \(label)", value: Double(buildNanos) / 1e6, unit: "ms",
            baseline: dict == nil ? nil : Double(dictBuild) / 1e6))
    dict = nil

    if n == sizes.last {
        // Snapshot: write, then load (mmap + checksum + index check); page cache warm.
        let path = workDirectory + "/status-\(label).snap"
        let w0 = now()
        do { try SnapshotFile.write(table, to: path) } catch { print("snapshot write failed: \(error)") }
        let w1 = now()
        record(Row(name: "snapshot write \(label) (fsync)", value: Double(w1 - w0) / 1e6, unit: "ms", baseline: nil))
        // Both placements: served from the file mapping (4 KiB page-cache pages), or read into
        // huge-page table memory (what faregated does). Load time, then lookups on the result.
        for (placement, name) in [(SnapshotFile.Placement.mapped, "mapped"), (.hugePageCopy, "huge-page copy")] {
            var loadSamples: [UInt64] = []
            var loaded: CompactStatusTable? = nil
            for _ in 0..<3 {
                loaded = nil
                let l0 = now()
                do {
                    loaded = try SnapshotFile.load(path, placement: placement)
                } catch { print("snapshot load failed: \(error)") }
                loadSamples.append(now() - l0)
            }
            record(
                Row(
                    name: "snapshot load \(label), \(name)", value: median(loadSamples) / 1e6, unit: "ms",
                    baseline: nil, note: "page cache warm; target ≤ 1000"))
            if let loaded {
                precondition(loaded.count == table.count)
                let l = lookupNanos({ loaded.status(of: $0) }, probes: probes)
                record(
                    Row(
                        name: "lookup dependent \(label), loaded \(name)", value: l.dependent, unit: "ns",
                        baseline: c.dependent,
                        note:
                            "baseline: the table built in memory; independent \(String(format: "%.0f", l.independent)) ns"
                    ))
            }
        }
        unlink(path)

        // Delta: 100k changes (1/3 removals, 1/3 updates, 1/3 inserts) while a thread looks up.
        let changeCount = quick ? 10_000 : 100_000
        var changes: [StatusChange] = []
        for i in 0..<changeCount {
            let existing = pairs[Int(rng.next() % UInt64(n))].0
            switch i % 3 {
            case 0: changes.append(StatusChange(key: existing, status: nil))
            case 1: changes.append(StatusChange(key: existing, status: CardStatus(rawValue: 5)))
            default:
                changes.append(
                    StatusChange(key: CardKey(rawValue: 0xB << 60 | UInt64(i)), status: CardStatus(rawValue: 1)))
            }
        }
        let holder = StatusTableHolder(table)
        let stop = Atomic<Bool>(false)
        let lookups = Atomic<Int>(0)
        let readerDone = DispatchSemaphore(value: 0)
        let probeKeys = Array(probes.prefix(1 << 16))
        Thread.detachNewThread {
            var i = 0
            while !stop.load(ordering: .relaxed) {
                _ = holder.status(of: probeKeys[i & (probeKeys.count - 1)])
                i += 1
            }
            lookups.store(i, ordering: .relaxed)
            readerDone.signal()
        }
        // Apply + publish through the holder, as the sync thread does. The first applies write
        // into fresh memory (page faults); from the third on, the holder reuses the memory of the
        // version retired by the previous apply (the steady state of a sync thread).
        var deltaSamples: [UInt64] = []
        for v in 0..<6 {
            let a0 = now()
            holder.apply(changes, dataVersion: UInt64(2 + v))
            deltaSamples.append(now() - a0)
        }
        stop.store(true, ordering: .relaxed)
        readerDone.wait()
        let k = changeCount / 1000
        record(
            Row(
                name: "delta apply+publish \(k)k on \(label), fresh memory", value: Double(deltaSamples[0]) / 1e6,
                unit: "ms", baseline: nil, note: "first apply: page faults"))
        record(
            Row(
                name: "delta apply+publish \(k)k on \(label), steady", value: median(Array(deltaSamples[2...])) / 1e6,
                unit: "ms", baseline: nil,
                note: "memory reused; target ≤ 100; \(lookups.load(ordering: .relaxed)) lookups meanwhile"))
    }
    compact = nil
    pairs = []
}
// The memory system's own floor: a chain of dependent random loads over 256 MiB (one per 64-byte
// line, a random cyclic permutation), on 2 MiB (transparent huge) pages and on 4 KiB pages. A
// dependent lookup cannot beat one such load; `Dictionary`'s storage lives on 4 KiB pages.
for huge in [true, false] where !ringOnly {
    let floor = pointerChaseNanos(
        bytes: quick ? 64 << 20 : 256 << 20, hugePages: huge, steps: quick ? 500_000 : 2_000_000)
    record(
        Row(
            name: "random DRAM load, \(huge ? "2 MiB" : "4 KiB") pages", value: floor.nanos, unit: "ns", baseline: nil,
            note: "dependent chain, \(quick ? 64 : 256) MiB; huge pages in use: \(floor.hugeKiB / 1024) MiB"))
    let independent = independentLoadNanos(
        bytes: quick ? 64 << 20 : 256 << 20, hugePages: huge, loads: quick ? 500_000 : 2_000_000)
    record(
        Row(
            name: "random DRAM load, independent, \(huge ? "2 MiB" : "4 KiB") pages", value: independent, unit: "ns",
            baseline: nil, note: "line indices known in advance: loads overlap (the floor for independent lookups)"))
}
record(Row(name: "peak RSS", value: Double(peakRSSBytes()) / 1_048_576, unit: "MiB", baseline: nil))

// Output
func fmt(_ x: Double?) -> String {
    guard let x else { return "-" }
    if x >= 1e6 { return String(format: "%.3g", x) }
    return String(format: x >= 100 ? "%.0f" : "%.2f", x)
}
if json {
    var items: [String] = []
    for r in rows {
        func num(_ x: Double?) -> String { x.map { $0.isFinite ? String(format: "%.6g", $0) : "null" } ?? "null" }
        let esc = { (s: String) in
            s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        }
        items.append(
            "{\"name\":\"\(esc(r.name))\",\"value\":\(num(r.value)),\"unit\":\"\(esc(r.unit))\",\"baseline\":\(num(r.baseline)),\"ratio\":\(num(r.ratio)),\"note\":\"\(esc(r.note))\"}"
        )
    }
    print("[\n  " + items.joined(separator: ",\n  ") + "\n]")
} else {
    let header = ["metric", "faregate", "unit", "baseline", "ratio", "note"]
    var table = [header]
    for r in rows {
        table.append([
            r.name, fmt(r.value), r.unit, fmt(r.baseline), r.ratio.map { String(format: "%.3f", $0) } ?? "-", r.note,
        ])
    }
    let widths = (0..<header.count).map { c in table.map { $0[c].count }.max() ?? 0 }
    for (i, line) in table.enumerated() {
        print(
            "| "
                + line.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(
                    separator: " | ") + " |")
        if i == 0 { print("|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|") }
    }
}
