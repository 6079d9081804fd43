import FaregateCore
import XCTest

/// The delta wire format: round trips, canonical order, and every malformed input refused.
final class DeltaBodyTests: XCTestCase {
    let sample = DeltaBody(
        fromVersion: 41, toVersion: 42,
        entries: [
            .init(key: CardKey(rawValue: 3), operation: .upsert(CardStatus(health: .green, binding: .bound))),
            .init(key: CardKey(rawValue: 0xE000_0000_0000_0001), operation: .remove),
        ])

    func testRoundTripAndLayout() throws {
        let bytes = sample.encoded()
        XCTAssertEqual(bytes.count, DeltaBody.headerSize + 2 * DeltaBody.entrySize)
        XCTAssertEqual(Array(bytes[0..<4]), Array("FGD1".utf8))
        XCTAssertEqual(bytes[4], 41)
        XCTAssertEqual(try DeltaBody(decoding: bytes), sample)
        let empty = DeltaBody(fromVersion: 1, toVersion: 2, entries: [])
        XCTAssertEqual(try DeltaBody(decoding: empty.encoded()), empty)
    }

    func expectMalformed(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try DeltaBody(decoding: bytes), file: file, line: line) {
            XCTAssertEqual(($0 as? SyncVerificationError)?.code, .malformed, file: file, line: line)
        }
    }

    func testMalformedInputsAreRefused() {
        let good = sample.encoded()
        expectMalformed([])
        expectMalformed(Array(good.prefix(10)))
        expectMalformed(Array(good.dropLast()))  // truncated entry
        expectMalformed(good + [0])  // trailing byte
        var magic = good
        magic[0] = UInt8(ascii: "X")
        expectMalformed(magic)
        var op = good
        op[DeltaBody.headerSize + 8] = 7  // unknown operation
        expectMalformed(op)
        var reserved = good
        reserved[DeltaBody.headerSize + 9] = 0xC0  // reserved status bits
        expectMalformed(reserved)
        var removeWithStatus = good
        removeWithStatus[DeltaBody.headerSize + DeltaBody.entrySize + 9] = 1
        expectMalformed(removeWithStatus)
        var count = good
        count[20] = 200  // declares more entries than present
        expectMalformed(count)
        let unordered = DeltaBody(fromVersion: 1, toVersion: 2, entries: sample.entries.reversed()).encoded()
        expectMalformed(unordered)
        let repeated = DeltaBody(fromVersion: 1, toVersion: 2, entries: [sample.entries[0], sample.entries[0]])
            .encoded()
        expectMalformed(repeated)
    }

    func testChangeSetBecomesDeltaWithLastStatusPerCardInKeyOrder() {
        let red = CardStatus(health: .red, binding: .bound)
        let green = CardStatus(health: .green, binding: .bound)
        let set = ChangeSet(
            fromVersion: 1, toVersion: 3,
            changes: [
                CardChange(version: 2, key: CardKey(rawValue: 9), status: red),
                CardChange(version: 2, key: CardKey(rawValue: 4), status: red),
                CardChange(version: 3, key: CardKey(rawValue: 9), status: green),
            ])
        XCTAssertEqual(
            set.delta,
            DeltaBody(
                fromVersion: 1, toVersion: 3,
                entries: [
                    .init(key: CardKey(rawValue: 4), operation: .upsert(red)),
                    .init(key: CardKey(rawValue: 9), operation: .upsert(green)),
                ]))
    }

    func testManifestCanonicalBytesRoundTrip() throws {
        let m = SyncManifest(
            kind: .snapshot, fromVersion: 0, toVersion: 77, bodySize: 1234,
            bodySHA256: Array(repeating: 0xAB, count: 32), scope: try .production)
        let bytes = m.canonicalBytes
        XCTAssertEqual(bytes.count, SyncManifest.encodedSize)
        XCTAssertEqual(try SyncManifest(canonical: bytes), m)
        var badKind = bytes
        badKind[5] = 9
        XCTAssertThrowsError(try SyncManifest(canonical: badKind))
        XCTAssertThrowsError(try SyncManifest(canonical: bytes.dropLast()))
        var formatOne = bytes
        formatOne[4] = 1  // the format that named no network
        XCTAssertThrowsError(try SyncManifest(canonical: formatOne))
        var padded = bytes
        padded[62 + 10] = 0x41  // a byte after the network's zero padding
        XCTAssertThrowsError(try SyncManifest(canonical: padded))
    }
}
