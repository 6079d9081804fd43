import FaregateCore
import FaregateRuntime
import Foundation
import XCTest

final class SnapshotFileTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "faregate-snapshot-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func sample() -> [CardKey: CardStatus] {
        var m: [CardKey: CardStatus] = [:]
        for i in 0..<5000 { m[CardKey(rawValue: UInt64(i) &* 7_919_000_001)] = CardStatus(rawValue: UInt8(i % 64)) }
        return m
    }

    func testWriteThenMapRoundTrip() throws {
        let model = sample()
        let path = directory + "/status.snap"
        try SnapshotFile.write(CompactStatusTable(dataVersion: 77, entries: model), to: path)
        let loaded = try SnapshotFile.load(path)
        let copied = try SnapshotFile.load(path, placement: .hugePageCopy)
        for (k, s) in model { XCTAssertEqual(copied.status(of: k), s) }
        XCTAssertEqual(copied.dataVersion, 77)
        XCTAssertEqual(loaded.dataVersion, 77)
        XCTAssertEqual(loaded.count, model.count)
        for (k, s) in model { XCTAssertEqual(loaded.status(of: k), s) }
        XCTAssertNil(loaded.status(of: CardKey(rawValue: 1)))
        // No temp file is left behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["status.snap"])
        // Replacing the file keeps the mapped table valid (rename, never in-place writes).
        try SnapshotFile.write(CompactStatusTable(dataVersion: 78, entries: [:]), to: path)
        XCTAssertEqual(loaded.status(of: model.first?.key ?? CardKey(rawValue: 0)), model.first?.value)
        XCTAssertEqual(try SnapshotFile.load(path).dataVersion, 78)
    }

    func testMissingFileNamesThePath() {
        let path = directory + "/absent.snap"
        XCTAssertThrowsError(try SnapshotFile.load(path)) { e in
            XCTAssertEqual(e as? SnapshotFileError, SnapshotFileError(path: path, problem: .system("open", ENOENT)))
            XCTAssertTrue("\(e)".contains(path))
        }
    }

    func testCorruptAndTruncatedFilesAreRejectedWithTheirPath() throws {
        let path = directory + "/status.snap"
        try SnapshotFile.write(CompactStatusTable(dataVersion: 1, entries: sample()), to: path)
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        let cases: [(String, Data)] = [
            ("empty", Data()),
            ("truncated", good.prefix(good.count - 3)),
            (
                "flipped",
                {
                    var d = good; d[d.count / 2] ^= 1; return d
                }()
            ),
            (
                "version",
                {
                    var d = good; d[8] = 9; return d
                }()
            ),
        ]
        for (name, data) in cases {
            let bad = directory + "/\(name).snap"
            try data.write(to: URL(fileURLWithPath: bad))
            for placement in [SnapshotFile.Placement.mapped, .hugePageCopy] {
                XCTAssertThrowsError(try SnapshotFile.load(bad, placement: placement), "\(name) \(placement)") { e in
                    guard let e = e as? SnapshotFileError, case .format(let problem) = e.problem else {
                        return XCTFail("\(name): \(e)")
                    }
                    XCTAssertEqual(e.path, bad)
                    switch name {
                    case "empty", "truncated":
                        guard case .truncated = problem else { return XCTFail("\(name): \(problem)") }
                    case "flipped":
                        guard case .checksumMismatch = problem else { return XCTFail("\(name): \(problem)") }
                    default:
                        XCTAssertEqual(problem, .unsupportedFormatVersion(9))
                    }
                }
            }
        }
    }

    /// A table larger than one huge page takes the `mmap` + `MADV_HUGEPAGE` path of
    /// `TableMemory`, both when built and when a snapshot is read into memory; both placements
    /// give the same answers as the model.
    func testLargeTableOnHugePageMemoryRoundTripsThroughBothPlacements() throws {
        var model: [CardKey: CardStatus] = [:]
        for i in 0..<400_000 {
            model[CardKey(rawValue: 3_100_000_000_000_000_000 &+ UInt64(i) &* 13)] = CardStatus(rawValue: UInt8(i % 61))
        }
        let built = CompactStatusTable(dataVersion: 9, entries: model)
        XCTAssertGreaterThan(built.memoryBytes, 2 << 20)
        built.checkInvariants()
        let path = directory + "/large.snap"
        try SnapshotFile.write(built, to: path)
        for placement in [SnapshotFile.Placement.mapped, .hugePageCopy] {
            let loaded = try SnapshotFile.load(path, placement: placement)
            XCTAssertEqual(loaded.dataVersion, 9)
            XCTAssertEqual(loaded.count, model.count)
            var wrong = 0
            for (k, s) in model where loaded.status(of: k) != s || built.status(of: k) != s { wrong += 1 }
            XCTAssertEqual(wrong, 0, "\(placement)")
            XCTAssertNil(loaded.status(of: CardKey(rawValue: 3_100_000_000_000_000_001)))
        }
    }
}
