import XCTest

@testable import FaregateCore

final class StatusSnapshotTests: XCTestCase {
    let model = CompactStatusTableTests.model(count: 3000, seed: 21)
    lazy var table = CompactStatusTable(dataVersion: 0x1234_5678_9ABC, entries: model)
    lazy var bytes = StatusSnapshot.encode(table)

    func testRoundTripReadsInPlace() throws {
        let decoded = try StatusSnapshot.decode(bytes)
        XCTAssertEqual(decoded.dataVersion, 0x1234_5678_9ABC)
        XCTAssertEqual(decoded.bucketBits, table.bucketBits)
        CompactStatusTableTests.assertMatches(decoded, model, seed: 3)
        XCTAssertEqual(bytes.count, StatusSnapshot.headerSize + table.memoryBytes)
        XCTAssertEqual(Array(bytes[0..<8]), Array("FGSTATUS".utf8))
    }

    func testEmptyTableRoundTrips() throws {
        let empty = CompactStatusTable(dataVersion: 9, entries: [:])
        let decoded = try StatusSnapshot.decode(StatusSnapshot.encode(empty))
        XCTAssertEqual(decoded.count, 0)
        XCTAssertEqual(decoded.dataVersion, 9)
        XCTAssertNil(decoded.status(of: CardKey(rawValue: 0)))
    }

    func expect(_ b: [UInt8], _ expected: StatusSnapshotError, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try StatusSnapshot.decode(b), file: file, line: line) { e in
            XCTAssertEqual(e as? StatusSnapshotError, expected, file: file, line: line)
            XCTAssertFalse("\(e)".isEmpty)
        }
    }

    /// Rewrites the checksum so a forged file passes it and reaches the later checks.
    func resealed(_ b: [UInt8]) -> [UInt8] {
        var b = b
        let sum = b.withUnsafeBytes { all in
            SnapshotChecksum.hash(
                UnsafeRawBufferPointer(rebasing: all[64...]),
                seed: SnapshotChecksum.hash(UnsafeRawBufferPointer(rebasing: all[0..<56])))
        }
        StatusSnapshot.put(sum, into: &b, at: 56)
        return b
    }

    func testTruncatedFilesAreRejected() {
        let full = bytes.count
        for n in [0, 1, 8, 63] { expect(Array(bytes.prefix(n)), .truncated(expectedBytes: 64, actualBytes: n)) }
        for n in [64, 65, full / 2, full - 8, full - 1] {
            expect(Array(bytes.prefix(n)), .truncated(expectedBytes: full, actualBytes: n))
        }
        expect(bytes + [0], .trailingBytes(expectedBytes: full, actualBytes: full + 1))
    }

    func testHeaderProblemsAreNamed() {
        var b = bytes
        b[0] = UInt8(ascii: "X")
        expect(b, .notASnapshot)
        b = bytes
        StatusSnapshot.put(UInt32(2), into: &b, at: 8)
        expect(b, .unsupportedFormatVersion(2))
        b = bytes
        StatusSnapshot.put(UInt32(48), into: &b, at: 12)
        expect(b, .invalidHeader("header size 48, expected 64"))
        b = bytes
        b[32] = 7
        expect(b, .invalidHeader("bucket bits 7 outside 8…32"))
        b = bytes
        b[32] = 33
        expect(b, .invalidHeader("bucket bits 33 outside 8…32"))
        b = bytes
        b[33] &+= 1
        expect(b, .invalidHeader("entry size \(Int(b[33])) bytes does not match \(table.bucketBits) bucket bits"))
        b = bytes
        b[35] = 1
        expect(b, .invalidHeader("reserved bytes are not zero"))
        b = bytes
        b[50] = 1
        expect(b, .invalidHeader("reserved bytes are not zero"))
        b = bytes
        StatusSnapshot.put(UInt64(table.memoryBytes + 8), into: &b, at: 40)
        expect(b, .invalidHeader("body length \(table.memoryBytes + 8), layout needs \(table.memoryBytes)"))
        b = bytes
        StatusSnapshot.put(UInt64(UInt32.max), into: &b, at: 24)
        expect(b, .invalidHeader("card count \(UInt32.max) too large"))
        // A count that disagrees with the body: the layout length no longer matches.
        b = bytes
        StatusSnapshot.put(UInt64(table.count + 1), into: &b, at: 24)
        XCTAssertThrowsError(try StatusSnapshot.decode(b))
    }

    func testEveryFlippedByteIsDetected() {
        // One flip in each region: header data version, checksum, offsets, entries, padding.
        let entriesStart = 64 + ((1 << table.bucketBits) + 1) * 4
        for position in [16, 20, 56, 64, 64 + 100, entriesStart, entriesStart + 7, bytes.count - 1] {
            var b = bytes
            b[position] ^= 0x10
            XCTAssertThrowsError(try StatusSnapshot.decode(b), "flip at \(position)") { e in
                guard case .checksumMismatch = e as? StatusSnapshotError else {
                    return XCTFail("flip at \(position): \(e)")
                }
            }
        }
    }

    func testForgedIndexIsRejectedEvenWithAValidChecksum() {
        var b = bytes
        StatusSnapshot.put(UInt32(5), into: &b, at: 64)  // offsets[0] must be 0
        expect(resealed(b), .inconsistentIndex(bucket: 0))
        b = bytes
        let last = 64 + (1 << table.bucketBits) * 4
        StatusSnapshot.put(UInt32(table.count + 100), into: &b, at: last)  // beyond the entries
        expect(resealed(b), .inconsistentIndex(bucket: 1 << table.bucketBits))
        b = bytes
        StatusSnapshot.put(UInt32(0), into: &b, at: last)  // decreasing
        expect(resealed(b), .inconsistentIndex(bucket: 1 << table.bucketBits))
    }
}
