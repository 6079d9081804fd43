import FaregateCore
import FaregateRuntime
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Snapshot files whose size is out of all proportion (issue 13: a huge file handed to
/// `load-snapshot` got memory for its whole size before any check, and the gate aborted). The
/// files are sparse: they cost no disk, and the test would take minutes if anything read them.
final class SnapshotSizeTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "faregate-snapsize-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// A sparse file of `size` bytes that starts with `header`.
    static func sparseFile(at path: String, header: [UInt8], size: Int) throws {
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(header)))
        XCTAssertEqual(truncate(path, off_t(size)), 0, String(cString: strerror(errno)))
    }

    /// The header of a real (small) table.
    static func realHeader() -> [UInt8] {
        StatusSnapshot.header(
            for: CompactStatusTable(dataVersion: 3, entries: [CardKey(rawValue: 7): CardStatus(rawValue: 1)]))
    }

    func testAHugeFileBehindAValidHeaderIsRefusedBeforeAnythingIsAllocated() throws {
        let path = directory + "/huge.snapshot"
        try Self.sparseFile(at: path, header: Self.realHeader(), size: 64 << 30)
        for placement in [SnapshotFile.Placement.mapped, .hugePageCopy] {
            XCTAssertThrowsError(try SnapshotFile.load(path, placement: placement)) { error in
                guard case .format(.trailingBytes(_, let actual)) = (error as? SnapshotFileError)?.problem else {
                    return XCTFail("\(error)")
                }
                XCTAssertEqual(actual, 64 << 30)
            }
        }
    }

    func testAHeaderDeclaringABodyPastTheCeilingIsRefused() throws {
        // 32 bucket bits: the offset index alone is 16 GiB, past the 4 GiB ceiling; the file has
        // exactly the size the header declares, so only the ceiling stops it.
        var header = Self.realHeader()
        header[32] = 32
        header[33] = 5
        let body = (((1 << 32) + 1) * 4 + 1 * 5 + 8 + 7) & ~7
        withUnsafeBytes(of: UInt64(body).littleEndian) { header.replaceSubrange(40..<48, with: $0) }
        let path = directory + "/ceiling.snapshot"
        try Self.sparseFile(at: path, header: header, size: StatusSnapshot.headerSize + body)
        for placement in [SnapshotFile.Placement.mapped, .hugePageCopy] {
            XCTAssertThrowsError(try SnapshotFile.load(path, placement: placement)) { error in
                XCTAssertTrue("\(error)".contains("ceiling"), "\(error)")
            }
        }
        XCTAssertThrowsError(try header.withUnsafeBytes { try StatusSnapshot.layout(ofHeader: $0) })
    }

    func testATruncatedHeaderAndAFifoAreRefusedWithoutBlocking() throws {
        let short = directory + "/short.snapshot"
        XCTAssertTrue(FileManager.default.createFile(atPath: short, contents: Data(Self.realHeader().prefix(20))))
        XCTAssertThrowsError(try SnapshotFile.load(short, placement: .hugePageCopy)) { error in
            XCTAssertEqual(
                (error as? SnapshotFileError)?.problem,
                .format(.truncated(expectedBytes: StatusSnapshot.headerSize, actualBytes: 20)))
        }
        let fifo = directory + "/fifo.snapshot"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertThrowsError(try SnapshotFile.load(fifo, placement: .hugePageCopy))
    }
}
