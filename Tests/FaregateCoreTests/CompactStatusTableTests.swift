import XCTest

@testable import FaregateCore

final class CompactStatusTableTests: XCTestCase {
    static func edgeKeys() -> [CardKey] {
        var keys: [CardKey] = [
            CardKey(rawValue: 0), CardKey(rawValue: 1), CardKey(rawValue: CardKey.maxTransitNumber),
            CardKey(rawValue: CardKey.maxTransitNumber + 1), CardKey(rawValue: .max), CardKey(rawValue: .max - 1),
            CardKey(rawValue: 1 << 63),
        ]
        for medium in Medium.allCases {
            for id: UInt64 in [0, 1, 12345, CardKey.blockIdentifierLimit - 1, CardKey.maxTransitNumber] {
                if let k = CardKey(medium: medium, identifier: id) { keys.append(k) }
            }
        }
        return Array(Set(keys)).sorted()
    }

    static func randomKey(_ rng: inout some RandomNumberGenerator) -> CardKey {
        let medium = Medium.allCases.randomElement(using: &rng) ?? .transitCard
        let limit = medium == .transitCard ? CardKey.maxTransitNumber : CardKey.blockIdentifierLimit - 1
        // Half dense (issued in runs), half spread.
        let id =
            Bool.random(using: &rng)
            ? UInt64.random(in: 0...5000, using: &rng) : UInt64.random(in: 0...limit, using: &rng)
        return CardKey(medium: medium, identifier: id) ?? CardKey(rawValue: 0)
    }

    static func model(count: Int, seed: UInt64) -> [CardKey: CardStatus] {
        var rng = TestRNG(seed: seed)
        var m: [CardKey: CardStatus] = [:]
        for k in edgeKeys() { m[k] = CardStatus(rawValue: UInt8.random(in: 0...63, using: &rng)) }
        while m.count < count { m[randomKey(&rng)] = CardStatus(rawValue: UInt8.random(in: 0...63, using: &rng)) }
        return m
    }

    static func assertMatches(
        _ table: CompactStatusTable, _ model: [CardKey: CardStatus], seed: UInt64,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(table.count, model.count, file: file, line: line)
        for (k, s) in model where table.status(of: k) != s {
            XCTFail("\(k): \(String(describing: table.status(of: k))) ≠ \(s)", file: file, line: line)
            return
        }
        var rng = TestRNG(seed: seed ^ 0xABCD)
        var probes = edgeKeys()
        for (k, _) in model.prefix(2000) {
            probes.append(CardKey(rawValue: k.rawValue &+ 1))
            probes.append(CardKey(rawValue: k.rawValue &- 1))
        }
        for _ in 0..<5000 { probes.append(randomKey(&rng)) }
        for p in probes where table.status(of: p) != model[p] {
            XCTFail(
                "probe \(p): \(String(describing: table.status(of: p))) ≠ \(String(describing: model[p]))",
                file: file, line: line)
            return
        }
        var seen: [CardKey: CardStatus] = [:]
        table.forEach { k, s in seen[k] = s }
        XCTAssertEqual(seen, model, "forEach yields exactly the contents", file: file, line: line)
        table.checkInvariants()
    }

    func testKeyMixIsInvertible() {
        var rng = TestRNG(seed: 1)
        for k in Self.edgeKeys() { XCTAssertEqual(KeyMix.unmix(KeyMix.mix(k.rawValue)), k.rawValue) }
        for _ in 0..<10_000 {
            let x = UInt64.random(in: .min ... .max, using: &rng)
            XCTAssertEqual(KeyMix.unmix(KeyMix.mix(x)), x)
        }
    }

    func testLookupsMatchDictionaryAtManySizes() {
        for (n, seed) in [(0, 1), (1, 2), (40, 3), (1000, 4), (5000, 5), (60_000, 6)] as [(Int, UInt64)] {
            let model = n == 0 ? [:] : Self.model(count: n, seed: seed)
            let table = CompactStatusTable(dataVersion: 42, entries: model)
            XCTAssertEqual(table.dataVersion, 42)
            Self.assertMatches(table, model, seed: seed)
        }
    }

    func testDenseKeysAndEveryStatusByte() {
        var model: [CardKey: CardStatus] = [:]
        for i in 0..<20_000 { model[CardKey(rawValue: UInt64(i))] = CardStatus(rawValue: UInt8(i % 256)) }
        Self.assertMatches(CompactStatusTable(dataVersion: 1, entries: model), model, seed: 9)
    }

    func testLaterDuplicatePairWins() {
        let k = CardKey(rawValue: 77)
        let pairs: [(CardKey, CardStatus)] = [
            (k, CardStatus(rawValue: 1)), (CardKey(rawValue: 5), CardStatus(rawValue: 2)), (k, CardStatus(rawValue: 3)),
        ]
        let table = CompactStatusTable(dataVersion: 1, pairs: pairs)
        XCTAssertEqual(table.count, 2)
        XCTAssertEqual(table.status(of: k), CardStatus(rawValue: 3))
        XCTAssertEqual(table.status(of: CardKey(rawValue: 5)), CardStatus(rawValue: 2))
        table.checkInvariants()
    }

    func testLayoutStaysWithinTwelveBytesPerCard() {
        for n in [1_000_000, 10_000_000, 30_000_000] {
            let bits = CompactStatusTable.bestBucketBits(count: n)
            let perCard = Double(CompactStatusTable.bodyLength(bucketBits: bits, count: n)) / Double(n)
            XCTAssertLessThanOrEqual(perCard, 12, "\(n) cards: \(perCard) bytes per card")
            XCTAssertLessThanOrEqual(n >> bits, 512, "≤ 512 entries per bucket on average")
        }
    }

    // MARK: Delta

    func testDeltaApplyMatchesModel() {
        var rng = TestRNG(seed: 11)
        var model = Self.model(count: 30_000, seed: 12)
        var table = CompactStatusTable(dataVersion: 1, entries: model)
        for round in 0..<6 {
            var changes: [StatusChange] = []
            let existing = Array(model.keys.prefix(3000))
            for _ in 0..<2000 {
                switch UInt8.random(in: 0..<5, using: &rng) {
                case 0:
                    changes.append(
                        StatusChange(key: existing.randomElement(using: &rng) ?? CardKey(rawValue: 0), status: nil))
                case 1: changes.append(StatusChange(key: Self.randomKey(&rng), status: nil))  // maybe absent
                case 2:
                    changes.append(
                        StatusChange(
                            key: existing.randomElement(using: &rng) ?? CardKey(rawValue: 0),
                            status: CardStatus(rawValue: UInt8.random(in: 0...63, using: &rng))))
                default:
                    changes.append(
                        StatusChange(
                            key: Self.randomKey(&rng),
                            status: CardStatus(rawValue: UInt8.random(in: 0...63, using: &rng))))
                }
            }
            // Same key twice in one batch: the last change wins.
            let twice = Self.randomKey(&rng)
            changes.append(StatusChange(key: twice, status: CardStatus(rawValue: 1)))
            changes.append(StatusChange(key: twice, status: CardStatus(rawValue: 2)))
            if round == 5 { changes += Self.edgeKeys().map { StatusChange(key: $0, status: nil) } }
            for c in changes { model[c.key] = c.status }
            let before = table
            table = table.applying(changes, dataVersion: UInt64(round + 2))
            XCTAssertEqual(table.dataVersion, UInt64(round + 2))
            XCTAssertEqual(before.dataVersion, UInt64(round + 1), "the base version is untouched")
            Self.assertMatches(table, model, seed: UInt64(round))
        }
    }

    func testDeltaOnEmptyTableAndToEmptyTable() {
        let empty = CompactStatusTable(dataVersion: 0, entries: [:])
        let keys = Self.edgeKeys()
        let filled = empty.applying(keys.map { StatusChange(key: $0, status: CardStatus(rawValue: 5)) }, dataVersion: 1)
        Self.assertMatches(
            filled, Dictionary(uniqueKeysWithValues: keys.map { ($0, CardStatus(rawValue: 5)) }), seed: 1)
        let emptied = filled.applying(keys.map { StatusChange(key: $0, status: nil) }, dataVersion: 2)
        Self.assertMatches(emptied, [:], seed: 2)
        XCTAssertEqual(filled.applying([], dataVersion: 3).count, filled.count)
    }
}

/// A seeded generator so failures reproduce.
struct TestRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return KeyMix.mix(state)
    }
}
