import FaregateCore
import XCTest

final class PassageLedgerTests: XCTestCase {
    static func key(_ n: UInt64) -> CardKey {
        CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_000 + n)!
    }
    let t0: Int64 = 1_654_041_600_000

    func testAntiPassbackWindow() {
        var l = PassageLedger(rules: AccessRules(antiPassbackSeconds: 600), capacity: 64)
        let k = Self.key(1)
        XCTAssertNil(l.check(k, .entry, nowMillis: t0))
        l.record(k, .entry, nowMillis: t0)
        XCTAssertEqual(l.check(k, .entry, nowMillis: t0 + 1000), .deny(.passback))
        XCTAssertEqual(l.check(k, .entry, nowMillis: t0 + 599_999), .deny(.passback))
        XCTAssertNil(l.check(k, .entry, nowMillis: t0 + 600_000))
        XCTAssertNil(l.check(Self.key(2), .entry, nowMillis: t0 + 1000))
    }

    func testExitWithoutEntryGoesToStaffAndExitClearsTheRecord() {
        var l = PassageLedger(rules: AccessRules(), capacity: 64)
        let k = Self.key(7)
        XCTAssertEqual(l.check(k, .exit, nowMillis: t0), .staff(.noEntryRecord))
        l.record(k, .entry, nowMillis: t0)
        XCTAssertNil(l.check(k, .exit, nowMillis: t0 + 1_800_000))
        l.record(k, .exit, nowMillis: t0 + 1_800_000)
        XCTAssertEqual(l.check(k, .exit, nowMillis: t0 + 1_800_001), .staff(.noEntryRecord))
        XCTAssertNil(l.check(k, .entry, nowMillis: t0 + 1_800_001), "after exit the card may enter again")
        XCTAssertEqual(l.count, 0)
    }

    func testEntryRecordsExpire() {
        var l = PassageLedger(rules: AccessRules(entryLifetimeSeconds: 3600), capacity: 64)
        let k = Self.key(3)
        l.record(k, .entry, nowMillis: t0)
        XCTAssertNil(l.check(k, .exit, nowMillis: t0 + 3_600_000))
        XCTAssertEqual(l.check(k, .exit, nowMillis: t0 + 3_600_001), .staff(.noEntryRecord))
    }

    func testRulesAreData() {
        let l = PassageLedger(rules: .permissive, capacity: 16)
        XCTAssertNil(l.check(Self.key(1), .exit, nowMillis: t0))
        var r = PassageLedger(rules: AccessRules(passback: .staff, exitWithoutEntry: .deny), capacity: 16)
        r.record(Self.key(1), .entry, nowMillis: t0)
        XCTAssertEqual(r.check(Self.key(1), .entry, nowMillis: t0 + 1), .staff(.passback))
        XCTAssertEqual(r.check(Self.key(2), .exit, nowMillis: t0), .deny(.noEntryRecord))
    }

    func testApplyKeepsRefusalsAndOverridesOpen() {
        var l = PassageLedger(rules: AccessRules(), capacity: 16)
        l.record(Self.key(1), .entry, nowMillis: t0)
        XCTAssertEqual(l.apply(.open(.ok), key: Self.key(1), .entry, nowMillis: t0 + 5), .deny(.passback))
        XCTAssertEqual(l.apply(.deny(.expired), key: Self.key(1), .entry, nowMillis: t0 + 5), .deny(.expired))
        XCTAssertEqual(l.apply(.open(.ok), key: Self.key(2), .entry, nowMillis: t0 + 5), .open(.ok))
    }

    /// Against a Dictionary model: with enough capacity nothing is evicted and both agree.
    func testAgreesWithDictionaryModel() {
        var l = PassageLedger(rules: AccessRules(antiPassbackSeconds: 100, entryLifetimeSeconds: 1000), capacity: 4096)
        var model: [CardKey: Int64] = [:]
        var x: UInt64 = 12345
        var now = t0
        for _ in 0..<20_000 {
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let k = Self.key((x >> 33) % 500)
            let dir: PassageDirection = (x >> 20) & 1 == 0 ? .entry : .exit
            now += Int64((x >> 40) % 5000)
            let alive = model[k].map { now - $0 <= 1_000_000 } ?? false
            let expected: Decision?
            switch dir {
            case .entry: expected = alive && now - model[k]! < 100_000 ? .deny(.passback) : nil
            case .exit: expected = alive ? nil : .staff(.noEntryRecord)
            }
            XCTAssertEqual(l.check(k, dir, nowMillis: now), expected)
            if expected == nil {
                l.record(k, dir, nowMillis: now)
                if dir == .entry { model[k] = now } else { model[k] = nil }
            }
        }
        XCTAssertEqual(l.evictions, 0)
    }

    func testBoundedMemoryEvictsOldest() {
        var l = PassageLedger(rules: AccessRules(), capacity: 16, window: 16)
        for i in 0..<40 { l.record(Self.key(UInt64(i)), .entry, nowMillis: t0 + Int64(i)) }
        XCTAssertEqual(l.count, 16)
        XCTAssertEqual(l.evictions, 24)
        XCTAssertNotNil(l.entryTime(of: Self.key(39), nowMillis: t0 + 40))
        XCTAssertNil(l.entryTime(of: Self.key(0), nowMillis: t0 + 40))
    }
}
