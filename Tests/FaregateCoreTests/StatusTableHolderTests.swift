import FaregateCore
import Foundation
import XCTest

final class StatusTableHolderTests: XCTestCase {
    func testPublishAndApply() {
        let holder = StatusTableHolder()
        XCTAssertEqual(holder.count, 0)
        XCTAssertEqual(holder.dataVersion, 0)
        let k = CardKey(rawValue: 123)
        holder.publish(CompactStatusTable(dataVersion: 5, entries: [k: CardStatus(rawValue: 7)]))
        XCTAssertEqual(holder.status(of: k), CardStatus(rawValue: 7))
        XCTAssertEqual(holder.dataVersion, 5)
        let kept = holder.currentTable()
        holder.apply(
            [
                StatusChange(key: k, status: nil),
                StatusChange(key: CardKey(rawValue: 9), status: CardStatus(rawValue: 1)),
            ], dataVersion: 6)
        XCTAssertNil(holder.status(of: k))
        XCTAssertEqual(holder.count, 1)
        XCTAssertEqual(kept.status(of: k), CardStatus(rawValue: 7), "a retained old version stays valid")
    }
}

/// Readers look up continuously while a writer publishes new versions: every lookup sees one
/// consistent version, and retired versions are freed under readers' feet only when unused.
/// Runs under TSan.
final class StatusTableHolderStressTests: XCTestCase {
    static let probes = (0..<64).map { CardKey(rawValue: UInt64($0) * 1_000_003) }

    /// Version v maps every probe to status v % 64.
    static func table(version: UInt64) -> CompactStatusTable {
        var entries: [CardKey: CardStatus] = [:]
        for p in probes { entries[p] = CardStatus(rawValue: UInt8(version % 64)) }
        for i in 0..<200 { entries[CardKey(rawValue: 5_000_000_000 + UInt64(i))] = CardStatus(rawValue: 1) }
        return CompactStatusTable(dataVersion: version, entries: entries)
    }

    func testReadersSeeConsistentVersionsWhileWriterPublishes() {
        let holder = StatusTableHolder(Self.table(version: 0))
        let versions: UInt64 = 300
        let readers = 3
        let stop = ManagedFlag()
        let done = DispatchSemaphore(value: 0)
        let inconsistent = ManagedCounter()
        let lookups = ManagedCounter()
        for _ in 0..<readers {
            Thread.detachNewThread {
                var lastSeen: UInt64 = 0
                while !stop.isSet {
                    holder.withCurrent { t in
                        let v = t.dataVersion
                        if v < lastSeen { inconsistent.increment() }  // versions never go back
                        lastSeen = v
                        for p in Self.probes where t.status(of: p) != CardStatus(rawValue: UInt8(v % 64)) {
                            inconsistent.increment()
                        }
                    }
                    lookups.increment()
                }
                done.signal()
            }
        }
        for v in 1...versions {
            if v % 2 == 0 {
                holder.publish(Self.table(version: v))
            } else {
                holder.apply(
                    Self.probes.map { StatusChange(key: $0, status: CardStatus(rawValue: UInt8(v % 64))) },
                    dataVersion: v)
            }
        }
        stop.set()
        for _ in 0..<readers { done.wait() }
        XCTAssertEqual(inconsistent.current, 0)
        XCTAssertGreaterThan(lookups.current, 0)
        XCTAssertEqual(holder.dataVersion, versions)
    }
}

final class ManagedFlag: @unchecked Sendable {
    // @unchecked Sendable: `value` is only touched under `lock`.
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

final class StatusTableHolderReuseTests: XCTestCase {
    /// Successive applies reuse the memory of the version retired by the previous apply; the
    /// contents must still match the model every time, and a version someone still holds
    /// (`currentTable()`) is never overwritten.
    func testRepeatedAppliesMatchModelAndNeverOverwriteAHeldVersion() {
        var model = CompactStatusTableTests.model(count: 4000, seed: 31)
        let holder = StatusTableHolder(CompactStatusTable(dataVersion: 1, entries: model))
        var rng = TestRNG(seed: 32)
        var held: (CompactStatusTable, [CardKey: CardStatus])? = nil
        for round in 0..<8 {
            var changes: [StatusChange] = []
            for _ in 0..<300 {
                let key = CompactStatusTableTests.randomKey(&rng)
                let status: CardStatus? = Bool.random(using: &rng) ? CardStatus(rawValue: UInt8(round)) : nil
                changes.append(StatusChange(key: key, status: status))
            }
            for k in model.keys.prefix(50) { changes.append(StatusChange(key: k, status: nil)) }
            for c in changes { model[c.key] = c.status }
            holder.apply(changes, dataVersion: UInt64(round + 2))
            CompactStatusTableTests.assertMatches(holder.currentTable(), model, seed: UInt64(round))
            if round == 3 { held = (holder.currentTable(), model) }
        }
        if let (table, snapshot) = held {
            CompactStatusTableTests.assertMatches(table, snapshot, seed: 99)
            XCTAssertEqual(table.dataVersion, 5)
        } else {
            XCTFail("no held version")
        }
    }
}
