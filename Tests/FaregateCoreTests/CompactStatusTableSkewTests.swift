import XCTest

@testable import FaregateCore

/// Lookups where the interpolated start inside a bucket is far from the key's rank.
///
/// Real keys pass through `KeyMix`, so buckets fill evenly and the walk from the interpolated start
/// is a few entries long. These tests choose the *mixed* keys directly (`KeyMix.unmix` gives the
/// card key for each), so the walk has to cover long distances in both directions, and buckets are
/// empty, hold one entry, or hold thousands; probes include the first and last entries of the
/// table and absent keys below, between and above the entries of a bucket.
final class CompactStatusTableSkewTests: XCTestCase {
    /// Top 8 mixed-key bits: the bucket at 8 bucket bits, or the first of a run of buckets at more.
    static func mixed(bucket: UInt64, remainder: UInt64) -> UInt64 { bucket << 56 | remainder }

    static func skewedModel() -> [CardKey: CardStatus] {
        var mixedKeys: [UInt64] = []
        mixedKeys.append(0)  // the first entry of the table, alone in its bucket at 8 bits
        // bucket 1 stays empty
        mixedKeys.append(mixed(bucket: 2, remainder: 1 << 55))  // one entry in the middle
        for i: UInt64 in 0..<3000 { mixedKeys.append(mixed(bucket: 3, remainder: i * 5)) }  // packed low
        for i: UInt64 in 0..<3000 { mixedKeys.append(mixed(bucket: 4, remainder: (1 << 56) - 1 - i * 5)) }  // high
        for i: UInt64 in 0..<2000 { mixedKeys.append(mixed(bucket: 5, remainder: (1 << 55) + i * 3)) }  // middle
        // Half the bucket at the bottom, half at the top: interpolation lands in the gap.
        for i: UInt64 in 0..<1000 {
            mixedKeys.append(mixed(bucket: 6, remainder: i))
            mixedKeys.append(mixed(bucket: 6, remainder: (1 << 56) - 1 - i))
        }
        for i: UInt64 in 0..<500 { mixedKeys.append(mixed(bucket: 255, remainder: (1 << 56) - 1 - i)) }  // last entry
        var rng = TestRNG(seed: 77)
        for _ in 0..<3000 {  // ordinary, evenly mixed keys elsewhere
            mixedKeys.append(mixed(bucket: UInt64.random(in: 7...254, using: &rng), remainder: rng.next() >> 8))
        }
        var model: [CardKey: CardStatus] = [:]
        for m in mixedKeys {
            model[CardKey(rawValue: KeyMix.unmix(m))] = CardStatus(rawValue: UInt8(truncatingIfNeeded: m % 61))
        }
        return model
    }

    /// Mixed values around every present key and at every bucket edge (8-bit grid and the table's).
    static func probes(_ model: [CardKey: CardStatus], bucketBits: Int) -> [CardKey] {
        var mixed: [UInt64] = []
        for k in model.keys {
            let m = KeyMix.mix(k.rawValue)
            mixed += [m, m &+ 1, m &- 1, m &+ 2, m &- 2]
        }
        for bits in [8, bucketBits] {
            for b in 0..<(UInt64(1) << UInt64(bits)) {
                let start = b << UInt64(64 - bits)
                mixed += [start, start &- 1, start | 1, start | (1 << UInt64(63 - bits))]
            }
        }
        mixed += [0, 1, .max, .max - 1, 1 << 63]
        return mixed.map { CardKey(rawValue: KeyMix.unmix($0)) }
    }

    func assertLookups(
        _ table: CompactStatusTable, _ model: [CardKey: CardStatus], file: StaticString = #filePath,
        line: UInt = #line
    ) {
        XCTAssertEqual(table.count, model.count, file: file, line: line)
        var wrong = 0
        for p in Self.probes(model, bucketBits: table.bucketBits) where table.status(of: p) != model[p] {
            if wrong == 0 {
                XCTFail(
                    "mixed \(String(KeyMix.mix(p.rawValue), radix: 16)): \(String(describing: table.status(of: p))) ≠ "
                        + "\(String(describing: model[p]))", file: file, line: line)
            }
            wrong += 1
        }
        XCTAssertEqual(wrong, 0, "wrong lookups", file: file, line: line)
        table.checkInvariants()
    }

    func testSkewedBucketsMatchModel() {
        let model = Self.skewedModel()
        let table = CompactStatusTable(dataVersion: 1, entries: model)
        // The shape the test relies on: an empty bucket, a single-entry bucket and crowded ones.
        let shift = UInt64(64 - table.bucketBits)
        func size(ofBucketHolding m: UInt64) -> Int {
            let b = Int(m >> shift)
            return Int(table.offsets[b + 1]) - Int(table.offsets[b])
        }
        XCTAssertEqual(size(ofBucketHolding: Self.mixed(bucket: 1, remainder: 0)), 0)
        XCTAssertEqual(size(ofBucketHolding: 0), 1)
        XCTAssertGreaterThanOrEqual(size(ofBucketHolding: Self.mixed(bucket: 3, remainder: 0)), 3000)
        XCTAssertGreaterThanOrEqual(size(ofBucketHolding: Self.mixed(bucket: 4, remainder: (1 << 56) - 1)), 3000)
        XCTAssertEqual(table.mixedKey(0, bucket: 0), 0, "the table's first entry")
        XCTAssertEqual(table.mixedKey(table.count - 1, bucket: (1 << table.bucketBits) - 1), .max, "its last")
        assertLookups(table, model)
    }

    func testDeltaOnSkewedBucketsMatchesModel() {
        var model = Self.skewedModel()
        var table = CompactStatusTable(dataVersion: 1, entries: model)
        // Remove every other key of the crowded buckets, update some, and insert keys in the gaps
        // (between packed entries, below and above them, and into the empty bucket).
        var changes: [StatusChange] = []
        for (i, k) in model.keys.sorted().enumerated() where i % 2 == 0 {
            changes.append(StatusChange(key: k, status: i % 4 == 0 ? nil : CardStatus(rawValue: 9)))
        }
        for m in [
            Self.mixed(bucket: 1, remainder: 12345), Self.mixed(bucket: 3, remainder: 7),
            Self.mixed(bucket: 3, remainder: (1 << 56) - 1), Self.mixed(bucket: 4, remainder: 0),
            Self.mixed(bucket: 6, remainder: 1 << 55), 1,
        ] {
            changes.append(StatusChange(key: CardKey(rawValue: KeyMix.unmix(m)), status: CardStatus(rawValue: 33)))
        }
        for c in changes { model[c.key] = c.status }
        table = table.applying(changes, dataVersion: 2)
        assertLookups(table, model)
    }
}
