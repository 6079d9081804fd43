import Dispatch
import FaregateCore
import FaregatePCSC
import FaregateRuntime
import FaregateSimulation
import FaregateVirtualCard
import Foundation
import Synchronization

// Card present → read done → decided through the real pcscd + vpcd, per tap, on both vpcd slots
// in parallel. Prints p50/p90/p99/max of: pcscd's detection delay (virtual card connected →
// PC/SC reports it present), present → application selected, present → read done, and present →
// decided (table lookup among a million cards + the decision, as the gate's GateCore does it).
// Usage: faregate-pcsc-bench [TAPS] [PROFILE.json]   (needs scripts/services/pcscd start)

final class Slot: @unchecked Sendable {
    // @unchecked Sendable: `taps` is a Mutex, `seen` an Atomic; the rest is immutable.
    let index: Int
    let reader: PCSCCardReader
    let taps = Mutex<[Tap]>([])
    let seen = Atomic<Int>(0)
    init(index: Int) {
        self.index = index
        reader = PCSCCardReader(
            configuration: .init(readerName: "Virtual PCD 00 0\(index)", index: UInt16(index)), clock: SystemClock())
    }
}

let args = CommandLine.arguments
let total = args.count > 1 ? Int(args[1]) ?? 1000 : 1000
let profilePath = args.count > 2 ? args[2] : "seeds/cards/tunion-normal.json"
let basePort = ProcessInfo.processInfo.environment["FAREGATE_VPCD_PORT"].flatMap(UInt16.init) ?? 35963
let compiled: CompiledCard
do {
    compiled = try CardProfile.load(path: profilePath).1
} catch {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    exit(2)
}

// The table the decision looks cards up in: a million demo cards plus the profile's card.
var pairs = DemoPopulation.centralRecords(0..<1_000_000, seed: 1).map { r in
    (r.key, CardStatus(health: r.health, binding: r.identityHash == nil ? .unbound : .bound))
}
if let number = (try? CardProfile.load(path: profilePath).0)?.number,
    let key = CardKey(medium: .transitCard, number: number)
{
    pairs.append((key, CardStatus(health: .green, binding: .bound)))
}
let table = CompactStatusTable(dataVersion: 1, pairs: pairs)
pairs = []
let decided = Mutex<[UInt64]>([])

let slots = [Slot(index: 0), Slot(index: 1)]
let perSlot = (total + 1) / 2
let detection = Mutex<[UInt64]>([])
let failures = Atomic<Int>(0)
let group = DispatchGroup()

for slot in slots {
    Thread {
        var core = GateCore(nextSequence: 1, policy: .healthCheckEra)
        let clock = SystemClock()
        while true {
            let e = slot.reader.nextEvent()
            if e == .cancelled { break }
            if case .tap(let t) = e {
                let out = core.handle(
                    t, dequeuedAt: clock.monotonicNanos(), table: table, dataAgeSeconds: 1, clock: clock)
                decided.withLock { $0.append(out.decidedAt &- t.detectedAt) }
                slot.taps.withLock { $0.append(t) }
                slot.seen.add(1, ordering: .releasing)
            }
        }
    }.start()
    group.enter()
    Thread {
        let emulator = VirtualCardEmulator(port: basePort + UInt16(slot.index))
        var card = SimulatedSmartCard(card: compiled)
        for n in 0..<perSlot {
            do throws(VPCDError) {
                let r = try emulator.tap(&card, holdMillis: 5000) { slot.seen.load(ordering: .acquiring) > n }
                if let t = slot.taps.withLock({ $0.count > n ? $0[n] : nil }) {
                    detection.withLock { $0.append(t.detectedAt &- r.connectedAt) }
                }
            } catch {
                failures.add(1, ordering: .relaxed)
            }
            if n % 50 == 49 { FileHandle.standardError.write(Data("slot \(slot.index): \(n + 1) taps\n".utf8)) }
            usleep(420_000)  // let pcscd's 400 ms presence poll see the card leave
        }
        group.leave()
    }.start()
}
group.wait()
for s in slots { s.reader.cancel() }

let taps = slots.flatMap { s in s.taps.withLock { $0 } }
let ok = taps.filter { if case .card = $0.result { true } else { false } }
func pct(_ v: [UInt64], _ p: Double) -> Double {
    guard !v.isEmpty else { return .nan }
    let s = v.sorted()
    return Double(s[min(s.count - 1, Int(Double(s.count) * p))]) / 1e6
}
func line(_ name: String, _ v: [UInt64]) -> String {
    String(
        format: "%-34@ n=%5d  p50 %8.3f ms  p90 %8.3f ms  p99 %8.3f ms  max %8.3f ms", name as NSString, v.count,
        pct(v, 0.5), pct(v, 0.9), pct(v, 0.99), pct(v, 1.0))
}
print("taps: \(taps.count) (\(ok.count) read ok), emulator errors: \(failures.load(ordering: .relaxed))")
print(line("pcscd detection (connect→present)", detection.withLock { $0 }))
print(line("present → selected", taps.map { $0.selectedAt &- $0.detectedAt }))
print(line("present → read done", taps.map { $0.readAt &- $0.detectedAt }))
print(line("present → decided", decided.withLock { $0 }))
