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
            XCTAssertThrowsError(try SnapshotFile.load(bad), name) { e in
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
