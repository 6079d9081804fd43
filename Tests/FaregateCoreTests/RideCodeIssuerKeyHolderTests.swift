import FaregateCore
import Foundation
import XCTest

/// The issuer keys in force are swapped whole: scanner threads reading while the sync thread
/// replaces the set always see one complete set (every key of one generation, the right count),
/// never a mix or a freed one.
final class RideCodeIssuerKeyHolderTests: XCTestCase {
    /// A set of `n` keys all marked with generation `g` (in valid_from).
    static func set(_ g: UInt32, count n: Int) throws -> RideCodeIssuerKeyList {
        try RideCodeIssuerKeyList(
            (0..<n).map { i in
                RideCodeIssuerKey(
                    issuer: .alipay, keyID: UInt16(i), algorithm: .ed25519,
                    publicKey: [UInt8](repeating: UInt8(truncatingIfNeeded: g), count: 32), validFrom: g,
                    validUntil: g + 1)
            })
    }

    func testReplaceIsSeenWholeAndInOrder() throws {
        let holder = RideCodeIssuerKeyHolder()
        XCTAssertEqual(holder.keys.keys, [], "starts empty: every code is an unknown key")
        let one = try Self.set(1, count: 3)
        holder.replace(with: one)
        XCTAssertEqual(holder.keys, one)
        let kept = holder.keys
        holder.replace(with: try Self.set(2, count: 1))
        XCTAssertEqual(kept, one, "a copy taken before a replace stays valid and unchanged")
        XCTAssertEqual(holder.keys.keys.map(\.validFrom), [2])
    }

    func testReadersRacingReplacesNeverSeeAMixedSet() throws {
        let generations: UInt32 = 2000
        let sets = try (1...generations).map { try Self.set($0, count: Int($0 % 7) + 1) }
        let holder = RideCodeIssuerKeyHolder(sets[0])
        let done = Locked(false)
        let readers = 3
        let finished = DispatchSemaphore(value: 0)
        let failures = Locked(0)
        for _ in 0..<readers {
            Thread.detachNewThread {
                var last: UInt32 = 0
                while !done.withLock({ $0 }) {
                    let keys = holder.keys.keys
                    guard let g = keys.first?.validFrom else {
                        failures.withLock { $0 += 1 }
                        continue
                    }
                    // Whole: every key of one generation, and as many as that generation has.
                    if keys.count != Int(g % 7) + 1 || keys.contains(where: { $0.validFrom != g }) {
                        failures.withLock { $0 += 1 }
                    }
                    // In order: one reader never goes back to an older set.
                    if g < last { failures.withLock { $0 += 1 } }
                    last = g
                }
                finished.signal()
            }
        }
        for s in sets { holder.replace(with: s) }
        done.withLock { $0 = true }
        for _ in 0..<readers { finished.wait() }
        XCTAssertEqual(failures.withLock { $0 }, 0)
        XCTAssertEqual(holder.keys, sets.last)
    }
}
