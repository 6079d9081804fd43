import FaregateCore
import XCTest

/// Check 8's memory: against a dictionary model, under eviction, and across a restart.
final class RideCodeReplayCacheTests: XCTestCase {
    let freshness = RideCodeFreshness()  // window 90 s

    func evidence(account: UInt64, counter: UInt32, made: Int64, issuer: UInt8 = 2) -> RideCodeEvidence {
        RideCodeEvidence(
            issuerNumber: issuer, issuerKeyID: 1, account: account, certificateHash: [], generatedAt: UInt32(made),
            counter: counter, flags: 0, userSignature: [])
    }

    func testMemoryBound() {
        XCTAssertEqual(MemoryLayout<RideCodeReplayCache.Entry>.stride, 24)
        XCTAssertEqual(RideCodeReplayCache().capacity, 4096)
        XCTAssertEqual(RideCodeReplayCache(capacity: 100).capacity, 128)
        XCTAssertEqual(RideCodeReplayCache(capacity: 0).capacity, RideCodeReplayCache.ways)
    }

    /// Random accepts and checks over few accounts, compared with a dictionary of the highest
    /// counter and its time; the cache is large enough that nothing is evicted.
    func testMatchesDictionaryModel() {
        var g = SplitMix64(seed: 8)
        var cache = RideCodeReplayCache(capacity: 1024)
        var model: [UInt64: (counter: UInt32, at: Int64)] = [:]
        var now: Int64 = 1_767_300_000
        for _ in 0..<20_000 {
            now += Int64(g.next() % 7)
            let account = g.next() % 40
            let counter = UInt32(g.next() % 30)
            let e = evidence(account: account, counter: counter, made: now)
            let expectReused = model[account].map { now - $0.at <= 90 && counter <= $0.counter } ?? false
            XCTAssertEqual(cache.check(e, now: now, freshness: freshness) != nil, expectReused)
            if !expectReused && g.next() % 2 == 0 {
                cache.record(e, now: now, freshness: freshness)
                if let m = model[account], now - m.at <= 90, m.counter >= counter {
                } else {
                    model[account] = (counter, now)
                }
            }
        }
        XCTAssertEqual(cache.evictions, 0)
        XCTAssertNil(cache.floor)
    }

    func testWindowBoundary() {
        var cache = RideCodeReplayCache(capacity: 8)
        let t: Int64 = 1_000_000
        let e = evidence(account: 1, counter: 5, made: t)
        cache.record(e, now: t, freshness: freshness)
        XCTAssertEqual(cache.check(e, now: t + 90, freshness: freshness)?.reason, .rideCodeReused)
        XCTAssertNil(cache.check(e, now: t + 91, freshness: freshness))
        XCTAssertEqual(
            cache.check(evidence(account: 1, counter: 4, made: t), now: t + 1, freshness: freshness)?.reason,
            .rideCodeReused)
        XCTAssertNil(cache.check(evidence(account: 1, counter: 6, made: t), now: t + 1, freshness: freshness))
        // Same account number at another issuer is another key.
        XCTAssertNil(cache.check(evidence(account: 1, counter: 5, made: t, issuer: 3), now: t, freshness: freshness))
        // A lower counter recorded later does not lower the remembered one.
        cache.record(evidence(account: 1, counter: 2, made: t + 2), now: t + 2, freshness: freshness)
        XCTAssertEqual(cache.check(e, now: t + 3, freshness: freshness)?.reason, .rideCodeReused)
    }

    /// One set of 8 ways and 9 live accounts: the oldest is evicted and the floor refuses every
    /// code made no later than it until the window has passed; nothing evicted is re-admitted.
    func testEvictionFailsClosed() {
        var cache = RideCodeReplayCache(capacity: 8)
        let t: Int64 = 2_000_000
        for a in 0..<8 as Range<UInt64> {
            cache.record(evidence(account: a, counter: 1, made: t + Int64(a)), now: t + Int64(a), freshness: freshness)
        }
        XCTAssertNil(cache.floor)
        cache.record(evidence(account: 100, counter: 1, made: t + 10), now: t + 10, freshness: freshness)
        XCTAssertEqual(cache.evictions, 1)
        XCTAssertEqual(cache.floor, .init(generatedAt: UInt32(t), acceptedAt: t))
        // The evicted account 0's code is still refused (by the floor), a newer one of it is not.
        XCTAssertEqual(
            cache.check(evidence(account: 0, counter: 1, made: t), now: t + 11, freshness: freshness)?.reason,
            .rideCodeReused)
        XCTAssertNil(cache.check(evidence(account: 0, counter: 2, made: t + 11), now: t + 11, freshness: freshness))
        // After the window the floor no longer applies (check 7 refuses such codes by then).
        XCTAssertNil(cache.check(evidence(account: 0, counter: 1, made: t), now: t + 91, freshness: freshness))
        // Expired entries are reused before any live one is evicted.
        var c2 = RideCodeReplayCache(capacity: 8)
        for a in 0..<8 as Range<UInt64> {
            c2.record(evidence(account: a, counter: 1, made: t), now: t, freshness: freshness)
        }
        c2.record(evidence(account: 50, counter: 1, made: t + 100), now: t + 100, freshness: freshness)
        XCTAssertEqual(c2.evictions, 0)
        XCTAssertNil(c2.floor)
    }

    func testSerialisedFormSurvivesARestart() throws {
        var cache = RideCodeReplayCache(capacity: 8)
        let t: Int64 = 3_000_000
        for a in 0..<9 as Range<UInt64> {
            cache.record(evidence(account: a, counter: UInt32(a + 1), made: t), now: t + Int64(a), freshness: freshness)
        }
        let bytes = cache.serialized()
        let back = try RideCodeReplayCache(serialized: bytes, capacity: 8)
        XCTAssertEqual(back, cache)
        XCTAssertEqual(back.serialized(), bytes)
        // Into a larger cache: every entry kept, the floor kept.
        let larger = try RideCodeReplayCache(serialized: bytes, capacity: 1024)
        XCTAssertEqual(Set(larger.entries), Set(cache.entries))
        XCTAssertEqual(larger.floor, cache.floor)
        for e in cache.entries {
            let code = evidence(account: CardKey(rawValue: e.key).rideCodeAccount, counter: e.counter, made: t)
            XCTAssertEqual(larger.check(code, now: t + 10, freshness: freshness)?.reason, .rideCodeReused)
        }
        // Every damaged byte and every truncation is refused, never trapping.
        for i in 0..<bytes.count {
            var d = bytes
            d[i] ^= 0x20
            XCTAssertThrowsError(try RideCodeReplayCache(serialized: d), "byte \(i)")
        }
        for n in 0..<bytes.count { XCTAssertThrowsError(try RideCodeReplayCache(serialized: Array(bytes.prefix(n)))) }
        XCTAssertThrowsError(try RideCodeReplayCache(serialized: bytes + [0]))
        XCTAssertEqual(try RideCodeReplayCache(serialized: RideCodeReplayCache().serialized()), RideCodeReplayCache())
    }

    /// A saved cache is outside input (a file the gate reads back): times at the ends of Int64 in
    /// its entries and floor are ages no subtraction may trap on (`now - acceptedAt` overflowed:
    /// found reading the code while writing the replay-cache fuzz target, which did not reach it
    /// behind the CRC in 20 s and now seals the CRC itself; the input is in Tests/Fuzz/crashes). An entry accepted at the
    /// dawn of time has expired; one accepted in the far future still refuses (fail closed).
    func testSavedTimesAtTheEndsOfInt64DoNotTrap() throws {
        func saved(floorAcceptedAt: Int64, entries: [(account: UInt64, acceptedAt: Int64)]) -> [UInt8] {
            var b = Array("RCRP".utf8) + [1]
            func put<T: FixedWidthInteger>(_ v: T) { b += withUnsafeBytes(of: v.bigEndian, Array.init) }
            put(UInt32(64))
            b.append(1)
            put(UInt32(5))
            put(floorAcceptedAt)
            put(UInt64(0))
            put(UInt32(entries.count))
            for e in entries {
                put(evidence(account: e.account, counter: 3, made: 0).cardKey.rawValue)
                put(e.acceptedAt)
                put(UInt32(3))
                put(UInt32(0))
            }
            put(CRC32.checksum(b))
            return b
        }
        let now: Int64 = 1_767_300_000
        for (floorAt, entryAt) in [(Int64.min, Int64.min), (.max, .max), (.min, .max), (.max, .min)] {
            var cache = try RideCodeReplayCache(
                serialized: saved(floorAcceptedAt: floorAt, entries: [(1, entryAt), (2, entryAt)]), capacity: 64)
            for t in [now, -now, .min, .max] {
                let code = evidence(account: 1, counter: 3, made: 10)
                let refusal = cache.check(code, now: t, freshness: freshness)
                if t == now {
                    XCTAssertEqual(refusal != nil, entryAt == .max, "\(floorAt) \(entryAt)")
                }
                cache.record(evidence(account: 3, counter: 1, made: 10), now: t, freshness: freshness)
            }
            XCTAssertNoThrow(try RideCodeReplayCache(serialized: cache.serialized(), capacity: 64))
        }
    }

    /// Into a smaller cache: entries that do not fit raise the floor instead of vanishing.
    func testSmallerCacheAfterRestartFailsClosed() throws {
        var cache = RideCodeReplayCache(capacity: 1024)
        let t: Int64 = 4_000_000
        for a in 0..<100 as Range<UInt64> {
            cache.record(evidence(account: a, counter: 1, made: t + Int64(a)), now: t + Int64(a), freshness: freshness)
        }
        let small = try RideCodeReplayCache(serialized: cache.serialized(), capacity: 8)
        XCTAssertEqual(small.entries.count, 8)
        for a in 0..<100 as Range<UInt64> {
            let code = evidence(account: a, counter: 1, made: t + Int64(a))
            XCTAssertEqual(
                small.check(code, now: t + 100, freshness: freshness)?.reason, .rideCodeReused, "account \(a)")
        }
    }
}
