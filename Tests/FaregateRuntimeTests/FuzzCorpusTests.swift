import FaregateCore
import FaregateFuzzTargets
import FaregateRuntime
import FaregateSimulation
import Foundation
import XCTest

/// The fuzz targets in the normal suite: every checked-in corpus input (`Tests/Fuzz/corpus/`)
/// and every input a fuzzer once crashed on (`Tests/Fuzz/crashes/`) runs through the same
/// harness `faregate-fuzz` runs, without libFuzzer, and comes back.
///
/// `FAREGATE_FUZZ_WRITE_SEEDS=1` (`scripts/fuzz-seeds`) rewrites the seed corpus from real files
/// the project writes (`FuzzSeeds`); the result is checked in.
final class FuzzCorpusTests: XCTestCase {
    static let fuzzRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    static func inputs(_ kind: String, _ target: String) -> [(name: String, bytes: [UInt8])] {
        let dir = fuzzRoot.appendingPathComponent(kind).appendingPathComponent(target)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path))?.sorted() ?? []
        return names.compactMap { name in
            (try? Data(contentsOf: dir.appendingPathComponent(name))).map { (name, [UInt8]($0)) }
        }
    }

    func testEverySeedAndEveryCrashInputRunsToAValueOrAnError() throws {
        if ProcessInfo.processInfo.environment["FAREGATE_FUZZ_WRITE_SEEDS"] == "1" {
            try FuzzSeeds.write(to: Self.fuzzRoot.appendingPathComponent("corpus"))
        }
        for target in FuzzTarget.all {
            let seeds = Self.inputs("corpus", target.name)
            XCTAssertFalse(seeds.isEmpty, "\(target.name) has a seed corpus")
            for input in seeds + Self.inputs("crashes", target.name) { target.run(input.bytes) }
        }
    }

    func testSeedCorporaStaySmall() throws {
        for target in FuzzTarget.all {
            let bytes = Self.inputs("corpus", target.name).reduce(0) { $0 + $1.bytes.count }
            XCTAssertLessThanOrEqual(bytes, 16 * 1024, "\(target.name): \(bytes) bytes of seeds")
        }
    }

    /// The seeds are real: each parses (they are the valid starting points the fuzzer mutates).
    func testSeedsAreValidInputs() throws {
        for input in Self.inputs("corpus", "journal-line") {
            XCTAssertNoThrow(
                try JournalCodec.decode(Substring(String(decoding: input.bytes.dropFirst(), as: UTF8.self))))
        }
        for input in Self.inputs("corpus", "snapshot") {
            XCTAssertNoThrow(try StatusSnapshot.decode(input.bytes), input.name)
        }
        for input in Self.inputs("corpus", "delta") { XCTAssertNoThrow(try DeltaBody(decoding: input.bytes)) }
        let keySets = try FuzzSeeds.keySets()
        XCTAssertEqual(Self.inputs("corpus", "key-set").map(\.name), keySets.map(\.0).sorted())
        for input in Self.inputs("corpus", "key-set") {
            XCTAssertEqual(input.bytes, keySets.first { $0.0 == input.name }?.1, input.name)
            XCTAssertNoThrow(try PublicationKeySet(canonical: input.bytes.dropLast(64)), input.name)
        }
        for input in Self.inputs("corpus", "control") {
            XCTAssertNotNil(try? ControlWire.request(input.bytes).get(), input.name)
        }
        for input in Self.inputs("corpus", "policy") {
            XCTAssertNoThrow(try PolicyBook.load([(name: input.name, bytes: input.bytes)]), input.name)
        }
        for input in Self.inputs("corpus", "config") {
            XCTAssertNoThrow(try GateConfig.parse(Data(input.bytes), path: input.name, baseDirectory: "/"), input.name)
        }
        for input in Self.inputs("corpus", "io-board-map") {
            XCTAssertNoThrow(try IOBoardMap.parse(input.bytes), input.name)
        }
        for input in Self.inputs("corpus", "issuer-keys") {
            let list = try RideCodeIssuerKeyList.decode(json: input.bytes)
            XCTAssertEqual(list, RideCodeFuzzKeys.keys, "the keys the ride-code target verifies against")
        }
        for input in Self.inputs("corpus", "ride-code") {
            let verdict = RideCodeFuzzKeys.verifier.verify(
                text: String(decoding: input.bytes, as: UTF8.self), keys: RideCodeFuzzKeys.keys,
                now: RideCodeFuzzKeys.now, replay: RideCodeReplayCache(capacity: 64))
            guard case .accepted = verdict else { return XCTFail("\(input.name): \(verdict)") }
        }
        for input in Self.inputs("corpus", "replay-cache") where input.bytes.first == 0 {
            XCTAssertNoThrow(try RideCodeReplayCache(serialized: Array(input.bytes.dropFirst())), input.name)
        }
        for input in Self.inputs("corpus", "tap-script") {
            XCTAssertNoThrow(try TapScript(parsing: String(decoding: input.bytes, as: UTF8.self)))
        }
    }
}
