import FaregateCore
import FaregateSimulation
import Foundation
import XCTest

/// The ATRs the virtual cards present (seed profiles, played to pcscd by `farectl card emulate`,
/// and the simulated cards' default) are well formed per ISO/IEC 7816-3: the interface bytes that
/// T0 and each TDi announce are there, then T0's count of historical bytes, then — when any
/// protocol other than T=0 is indicated — the check byte TCK, and XOR of T0 … TCK is zero.
final class ATRChecksumTests: XCTestCase {
    enum Shape: Equatable {
        case wellFormed
        case tooShort
        case missingTCK
        case badTCK(expected: UInt8)
        case extraBytes(Int)
    }

    /// Walks an ATR's structure (ISO/IEC 7816-3 §8.2): TS, T0, interface bytes, historical bytes, TCK.
    static func shape(_ atr: [UInt8]) -> Shape {
        guard atr.count >= 2 else { return .tooShort }
        var i = 1  // T0
        var y = atr[1] >> 4
        let historical = Int(atr[1] & 0x0F)
        var needsTCK = false
        while true {
            // TAi, TBi, TCi, TDi follow in that order, each present when its bit of Yi is set.
            let td = (y & 0x8) != 0
            i += (y & 0x1 != 0 ? 1 : 0) + (y & 0x2 != 0 ? 1 : 0) + (y & 0x4 != 0 ? 1 : 0)
            guard td else { break }
            i += 1
            guard i < atr.count else { return .tooShort }
            if atr[i] & 0x0F != 0 { needsTCK = true }  // a protocol T other than T=0
            y = atr[i] >> 4
        }
        let lastHistorical = i + historical
        guard lastHistorical < atr.count else { return .tooShort }
        let end = lastHistorical + (needsTCK ? 1 : 0)
        if needsTCK && end >= atr.count { return .missingTCK }
        if end + 1 < atr.count { return .extraBytes(atr.count - end - 1) }
        if needsTCK {
            let expected = atr[1...lastHistorical].reduce(0, ^)
            if atr[end] != expected { return .badTCK(expected: expected) }
        }
        return .wellFormed
    }

    func testTheCheckerItself() {
        // The T-Union ATR before the fix, without its TCK; with it; with a wrong one; T=0 only.
        let withoutTCK: [UInt8] = [0x3B, 0x8A, 0x80, 0x01, 0x80, 0x31, 0x80, 0x65, 0xB0, 0x84, 0x41, 0x3D, 0x47, 0x5A]
        XCTAssertEqual(Self.shape(withoutTCK), .missingTCK)
        XCTAssertEqual(Self.shape(withoutTCK + [0x0A]), .wellFormed)
        XCTAssertEqual(Self.shape(withoutTCK + [0x0B]), .badTCK(expected: 0x0A))
        XCTAssertEqual(Self.shape(withoutTCK + [0x0A, 0x00]), .extraBytes(1))
        XCTAssertEqual(Self.shape([0x3B, 0x00]), .wellFormed)  // T=0, no historical bytes: no TCK
        XCTAssertEqual(Self.shape([0x3B, 0x02, 0x14, 0x50]), .wellFormed)
        XCTAssertEqual(Self.shape([0x3B, 0x8A, 0x80]), .tooShort)
    }

    func testEverySeedCardPresentsAWellFormedATR() throws {
        let dir = CardApplicationReaderTests.seeds
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }
        XCTAssertGreaterThanOrEqual(files.count, 10)
        for f in files {
            let (_, card) = try CardProfile.load(path: dir.appendingPathComponent(f).path)
            XCTAssertEqual(Self.shape(card.atr), .wellFormed, f)
        }
    }

    func testTheDefaultATRIsWellFormed() throws {
        let bytes = CardProfile.defaultATR.split(separator: " ").compactMap { UInt8($0, radix: 16) }
        XCTAssertEqual(Self.shape(bytes), .wellFormed)
        XCTAssertEqual(bytes.last, 0x0A)
    }
}
