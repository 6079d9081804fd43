/// The body of a delta publication: for each changed card, its new status or its removal.
///
/// Wire format (integers little-endian), canonical so equal deltas have equal bytes and hashes:
///
///     0  "FGD1"          magic
///     4  u64 fromVersion
///     12 u64 toVersion
///     20 u32 count
///     24 count × 10 bytes: u64 card key, u8 operation (1 upsert, 2 remove), u8 status (0 on remove)
///
/// Keys are strictly increasing (no duplicates), so a decoder can reject reordered or repeated
/// entries and applying the entries in any order gives the same table.
public struct DeltaBody: Hashable, Sendable {
    public enum Operation: Hashable, Sendable {
        case upsert(CardStatus)
        case remove
    }

    public struct Entry: Hashable, Sendable {
        public var key: CardKey
        public var operation: Operation
        public init(key: CardKey, operation: Operation) {
            self.key = key
            self.operation = operation
        }
    }

    public var fromVersion: UInt64
    public var toVersion: UInt64
    /// Sorted by key, strictly increasing.
    public var entries: [Entry]

    public static let magic: [UInt8] = Array("FGD1".utf8)
    public static let headerSize = 24
    public static let entrySize = 10

    public init(fromVersion: UInt64, toVersion: UInt64, entries: [Entry]) {
        self.fromVersion = fromVersion
        self.toVersion = toVersion
        self.entries = entries
    }

    /// The canonical bytes. Entries must already be sorted by key (as `ChangeSet.delta` makes them).
    public func encoded() -> [UInt8] {
        var out = Self.magic
        out.reserveCapacity(Self.headerSize + entries.count * Self.entrySize)
        ByteWriter.append(fromVersion, to: &out)
        ByteWriter.append(toVersion, to: &out)
        ByteWriter.append(UInt32(clamping: entries.count), to: &out)
        for e in entries {
            ByteWriter.append(e.key.rawValue, to: &out)
            switch e.operation {
            case .upsert(let s):
                out.append(1)
                out.append(s.rawValue)
            case .remove:
                out.append(2)
                out.append(0)
            }
        }
        return out
    }

    /// Decodes and checks a body; throws `.malformed` on any deviation from the format.
    public init(decoding b: [UInt8]) throws(SyncVerificationError) {
        guard b.count >= Self.headerSize, Array(b[0..<4]) == Self.magic else {
            throw SyncVerificationError(.malformed, "not a faregate delta (short or bad magic)")
        }
        fromVersion = ByteReader.u64(b, at: 4)
        toVersion = ByteReader.u64(b, at: 12)
        guard fromVersion <= SyncManifest.maxVersion, toVersion <= SyncManifest.maxVersion else {
            throw SyncVerificationError(.malformed, "delta version is past the limit \(SyncManifest.maxVersion)")
        }
        let count = Int(ByteReader.u32(b, at: 20))
        guard b.count == Self.headerSize + count * Self.entrySize else {
            throw SyncVerificationError(
                .malformed, "delta declares \(count) entries but has \(b.count - Self.headerSize) entry bytes")
        }
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        var previous: UInt64?
        for i in 0..<count {
            let o = Self.headerSize + i * Self.entrySize
            let key = ByteReader.u64(b, at: o)
            if let previous, key <= previous {
                throw SyncVerificationError(.malformed, "delta entry \(i) is out of key order or repeated")
            }
            previous = key
            let status = b[o + 9]
            switch b[o + 8] {
            case 1:
                guard status & 0b1100_0000 == 0 else {
                    throw SyncVerificationError(.malformed, "delta entry \(i) sets reserved status bits")
                }
                entries.append(Entry(key: CardKey(rawValue: key), operation: .upsert(CardStatus(rawValue: status))))
            case 2:
                guard status == 0 else {
                    throw SyncVerificationError(.malformed, "delta entry \(i) removes with a status")
                }
                entries.append(Entry(key: CardKey(rawValue: key), operation: .remove))
            default:
                throw SyncVerificationError(.malformed, "delta entry \(i) has unknown operation \(b[o + 8])")
            }
        }
        self.entries = entries
    }

    /// Decodes a body that `manifest` has already verified and checks that the versions agree
    /// (a snapshot in this format starts at version 0).
    public init(decoding b: [UInt8], verifiedBy manifest: SyncManifest) throws(SyncVerificationError) {
        try self.init(decoding: b)
        guard manifest.kind == .delta || fromVersion == 0, fromVersion == manifest.fromVersion,
            toVersion == manifest.toVersion
        else {
            throw SyncVerificationError(
                .malformed,
                "delta body spans \(fromVersion)→\(toVersion), manifest \(manifest.fromVersion)→\(manifest.toVersion)")
        }
    }
}
