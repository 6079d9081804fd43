/// The snapshot format of a `CompactStatusTable`: a 64-byte header, then the table body exactly
/// as it lies in memory, so a mapped file is used in place with no parsing pass (validation reads
/// it once for the checksum and checks the index bounds, nothing is decoded or copied).
///
/// Header (all integers little-endian):
///
///     offset  size  field
///          0     8  magic "FGSTATUS"
///          8     4  format version (1)
///         12     4  header size (64)
///         16     8  data version (the central version the table was built from)
///         24     8  card count
///         32     1  bucket bits (8…32)
///         33     1  entry bytes (must equal ceil((72 - bucket bits) / 8))
///         34     6  reserved, zero
///         40     8  body length in bytes
///         48     8  reserved, zero
///         56     8  checksum: `SnapshotChecksum` over header bytes 0..<56, then the body
///
/// Pure: works on bytes; file I/O (atomic write, mmap) is in the runtime's `SnapshotFile`.
public enum StatusSnapshot {
    public static let magic: [UInt8] = Array("FGSTATUS".utf8)
    public static let formatVersion: UInt32 = 1
    public static let headerSize = 64

    /// The 64-byte header describing `table`, including the checksum of its body.
    public static func header(for table: CompactStatusTable) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: headerSize)
        h.replaceSubrange(0..<8, with: magic)
        put(formatVersion, into: &h, at: 8)
        put(UInt32(headerSize), into: &h, at: 12)
        put(table.dataVersion, into: &h, at: 16)
        put(UInt64(table.count), into: &h, at: 24)
        h[32] = UInt8(table.bucketBits)
        h[33] = UInt8(table.entryBytes)
        put(UInt64(table.bodyLength), into: &h, at: 40)
        let sum = h.withUnsafeBytes { hb in
            SnapshotChecksum.hash(
                UnsafeRawBufferPointer(start: table.body, count: table.bodyLength),
                seed: SnapshotChecksum.hash(UnsafeRawBufferPointer(rebasing: hb[0..<56])))
        }
        put(sum, into: &h, at: 56)
        return h
    }

    /// Calls `body` with the table's body bytes (what follows the header in the file).
    public static func withBody<R>(of table: CompactStatusTable, _ body: (UnsafeRawBufferPointer) throws -> R)
        rethrows -> R
    {
        try body(UnsafeRawBufferPointer(start: table.body, count: table.bodyLength))
    }

    /// The whole snapshot as one byte array (tests and small tables; files are written in two
    /// parts by `SnapshotFile` without this copy).
    public static func encode(_ table: CompactStatusTable) -> [UInt8] {
        header(for: table) + withBody(of: table) { Array($0) }
    }

    /// Validates `bytes` as a snapshot and returns a table that reads the body in place.
    ///
    /// `owner` must keep `bytes` alive and unchanged for the table's lifetime (a mapping, or the
    /// array in `decode`). Checks, in order: length of the header, magic, format version, header
    /// size, layout fields, exact file length, checksum, and the index bounds (so that a lookup
    /// can never read outside the body, even for a file with a forged checksum).
    public static func table(validating bytes: UnsafeRawBufferPointer, owner: AnyObject) throws(StatusSnapshotError)
        -> CompactStatusTable
    {
        let layout = try layout(ofHeader: bytes)
        let (count, bits, expectedBody) = (layout.count, layout.bucketBits, layout.bodyLength)
        guard let base = bytes.baseAddress else { throw .truncated(expectedBytes: headerSize, actualBytes: 0) }
        guard bytes.count >= headerSize + expectedBody else {
            throw .truncated(expectedBytes: headerSize + expectedBody, actualBytes: bytes.count)
        }
        guard bytes.count == headerSize + expectedBody else {
            throw .trailingBytes(expectedBytes: headerSize + expectedBody, actualBytes: bytes.count)
        }
        let stored = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 56, as: UInt64.self))
        let body = UnsafeRawBufferPointer(rebasing: bytes[headerSize...])
        let computed = SnapshotChecksum.hash(
            body, seed: SnapshotChecksum.hash(UnsafeRawBufferPointer(rebasing: bytes[0..<56])))
        guard stored == computed else { throw .checksumMismatch(stored: stored, computed: computed) }
        // Index bounds: offsets start at 0, never decrease, end at the count. Nothing else is
        // needed for memory safety (a lookup scans only between two offsets).
        guard let bodyBase = body.baseAddress else { throw .truncated(expectedBytes: 1, actualBytes: 0) }
        let buckets = 1 << bits
        var previous: UInt32 = 0
        for b in 0...buckets {
            let o = UInt32(littleEndian: bodyBase.loadUnaligned(fromByteOffset: b * 4, as: UInt32.self))
            guard (b == 0 ? o == 0 : o >= previous) else { throw .inconsistentIndex(bucket: b) }
            previous = o
        }
        guard Int(previous) == count else { throw .inconsistentIndex(bucket: buckets) }
        return CompactStatusTable(
            dataVersion: layout.dataVersion, count: count, bucketBits: bits, body: bodyBase, owner: owner)
    }

    /// The largest body a snapshot may declare: 4 GiB, sixteen times the 30M-card table (about
    /// 250 MB), so a reader can check a file's size before it maps or allocates anything for it.
    public static let maxBodyBytes = 4 << 30

    /// What a header declares, once its fields are checked.
    public struct Layout: Hashable, Sendable {
        public var dataVersion: UInt64
        public var count: Int
        public var bucketBits: Int
        public var bodyLength: Int
        /// Header and body: the exact length a file with this header has.
        public var fileLength: Int { StatusSnapshot.headerSize + bodyLength }
    }

    /// Checks the header at the start of `bytes` (at least `headerSize` bytes; the body need not
    /// follow) and returns the layout it declares: magic, format version, header size, layout
    /// fields, reserved bytes, and a body length that matches the layout and is at most
    /// `maxBodyBytes`. Reading only the header lets a caller refuse a file whose size disagrees
    /// before allocating memory for it (issue 13: `load-snapshot` of a huge file aborted the gate).
    public static func layout(ofHeader bytes: UnsafeRawBufferPointer) throws(StatusSnapshotError) -> Layout {
        guard bytes.count >= headerSize, let base = bytes.baseAddress else {
            throw .truncated(expectedBytes: headerSize, actualBytes: bytes.count)
        }
        guard bytes[0..<8].elementsEqual(magic) else { throw .notASnapshot }
        let version = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        guard version == formatVersion else { throw .unsupportedFormatVersion(version) }
        let hsize = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        guard hsize == UInt32(headerSize) else { throw .invalidHeader("header size \(hsize), expected \(headerSize)") }
        let dataVersion = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        guard dataVersion <= SyncManifest.maxVersion else {
            throw .invalidHeader("data version \(dataVersion) is past the limit \(SyncManifest.maxVersion)")
        }
        let count64 = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        let bits = Int(bytes[32])
        let width = Int(bytes[33])
        guard (8...32).contains(bits) else { throw .invalidHeader("bucket bits \(bits) outside 8…32") }
        guard width == CompactStatusTable.entryBytes(bucketBits: bits) else {
            throw .invalidHeader("entry size \(width) bytes does not match \(bits) bucket bits")
        }
        guard count64 < UInt64(UInt32.max) else { throw .invalidHeader("card count \(count64) too large") }
        guard bytes[34..<40].allSatisfy({ $0 == 0 }),
            base.loadUnaligned(fromByteOffset: 48, as: UInt64.self) == 0
        else { throw .invalidHeader("reserved bytes are not zero") }
        // count < 2^32 and bits ≤ 32: the layout's length fits an Int with room to spare.
        let count = Int(count64)
        let expectedBody = CompactStatusTable.bodyLength(bucketBits: bits, count: count)
        let bodyLength = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 40, as: UInt64.self))
        guard bodyLength == UInt64(expectedBody) else {
            throw .invalidHeader("body length \(bodyLength), layout needs \(expectedBody)")
        }
        guard expectedBody <= maxBodyBytes else {
            throw .invalidHeader("body length \(expectedBody) bytes is past the \(maxBodyBytes >> 30) GiB ceiling")
        }
        return Layout(dataVersion: dataVersion, count: count, bucketBits: bits, bodyLength: expectedBody)
    }

    /// Validates and copies `bytes` into a table (tests and callers without a mapping).
    public static func decode(_ bytes: [UInt8]) throws(StatusSnapshotError) -> CompactStatusTable {
        let memory = TableMemory(byteCount: bytes.count)
        bytes.withUnsafeBytes { memory.base.copyMemory(from: $0.baseAddress.unsafelyUnwrapped, byteCount: $0.count) }
        return try table(validating: UnsafeRawBufferPointer(start: memory.base, count: bytes.count), owner: memory)
    }

    static func put<T: FixedWidthInteger>(_ value: T, into bytes: inout [UInt8], at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { for (i, b) in $0.enumerated() { bytes[offset + i] = b } }
    }
}

/// Why a byte string is not a usable status snapshot.
public enum StatusSnapshotError: Error, Equatable, Sendable, CustomStringConvertible {
    case truncated(expectedBytes: Int, actualBytes: Int)
    case notASnapshot
    case unsupportedFormatVersion(UInt32)
    case invalidHeader(String)
    case trailingBytes(expectedBytes: Int, actualBytes: Int)
    case checksumMismatch(stored: UInt64, computed: UInt64)
    case inconsistentIndex(bucket: Int)

    public var description: String {
        switch self {
        case .truncated(let e, let a): "truncated: \(a) bytes, at least \(e) needed"
        case .notASnapshot: "not a status snapshot (bad magic)"
        case .unsupportedFormatVersion(let v):
            "unsupported format version \(v) (this build reads \(StatusSnapshot.formatVersion))"
        case .invalidHeader(let why): "invalid header: \(why)"
        case .trailingBytes(let e, let a): "\(a) bytes, \(e) expected: trailing data"
        case .checksumMismatch(let s, let c):
            "checksum mismatch (stored \(String(s, radix: 16)), computed \(String(c, radix: 16))): corrupt"
        case .inconsistentIndex(let b): "index inconsistent at bucket \(b): corrupt"
        }
    }
}

/// A fast 64-bit checksum over 8-byte words: `h = (h ^ word) * P` per word, then a final mix.
///
/// Each step is a bijection of `h` for a fixed word (P is odd), so any change confined to one
/// word always changes the result; it runs at several GB/s, which keeps a 250 MB snapshot's
/// validation well inside the 1 s load budget (a byte-wise CRC-32 would not).
public enum SnapshotChecksum {
    static let prime: UInt64 = 0x0000_0100_0000_01B3 | 0x9E37_79B9_0000_0000

    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0x6A09_E667_F3BC_C908) -> UInt64 {
        var h = seed
        guard let base = bytes.baseAddress else { return KeyMix.mix(h) }
        let words = bytes.count / 8
        var i = 0
        while i < words {
            h = (h ^ UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))) &* prime
            i += 1
        }
        var last: UInt64 = UInt64(bytes.count)
        for j in (words * 8)..<bytes.count { last = last << 8 | UInt64(bytes[j]) }
        h = (h ^ last) &* prime
        return KeyMix.mix(h)
    }
}
