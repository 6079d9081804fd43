/// The online publication keys a gate believes, signed by the offline root key (issue 16.4,
/// TUF's root role reduced to what a gate needs). Gates pin only the root public key; the key
/// set travels over sync (central stores the newest, `farectl central keys …` makes it), so
/// rotating, revoking and recovering from a compromise need no gate re-provisioning.
///
/// Canonical encoding (integers little-endian), the bytes the root signs:
///
///     0  "FGR1"             magic (manifests "FGM1", timestamps "FGT1": none passes for another)
///     4  u8  format = 1
///     5  [32] network, [16] environment (`SyncScope`)
///     53 u64 version        key-set version, 1…2^63−1; a gate never takes a lower one
///     61 u64 epoch          0…2^63−1; raised only by a compromise recovery (`reset-epoch`)
///     69 u64 epochFloor     the version a table must reach when a gate enters this epoch
///     77 u8  keyCount       0…16
///     78 u8  revokedCount   0…255
///     79 keyCount × (u32 keyID, [32] Ed25519 public key, i64 validFrom, i64 validUntil)  (52 bytes)
///        revokedCount × u32 keyID
///
/// Key ids are strictly increasing in each list (one canonical encoding per set), a revoked id
/// is never listed as a key, and a key's window is not empty (validUntil ≥ validFrom, wall
/// milliseconds). Sealed: those bytes followed by the root's 64-byte Ed25519 signature.
///
/// What a key set means to a gate (`PublicationKeyRing`):
/// - a manifest, bundle publication or timestamp statement counts only with a signature by a
///   listed key whose window holds the gate's wall time (± `SyncTimestamp.maxClockSkewMillis`);
/// - a revoked key's signature is refused with `.revokedKey`, at sync and at every load, so a
///   table built on it is never served again after a restart;
/// - epoch: see `PublicationKeyRing.rebaseFloor`.
public struct PublicationKeySet: Hashable, Sendable {
    public struct Key: Hashable, Sendable {
        public var keyID: UInt32
        public var publicKey: [UInt8]
        public var validFromMillis: Int64
        public var validUntilMillis: Int64

        public init(keyID: UInt32, publicKey: [UInt8], validFromMillis: Int64, validUntilMillis: Int64) {
            self.keyID = keyID
            self.publicKey = publicKey
            self.validFromMillis = validFromMillis
            self.validUntilMillis = validUntilMillis
        }

        /// Whether wall time `nowMillis` is in the window, with the clock-skew bound either side.
        public func isValid(atMillis nowMillis: Int64) -> Bool {
            let skew = SyncTimestamp.maxClockSkewMillis
            let (from, o1) = validFromMillis.subtractingReportingOverflow(skew)
            let (until, o2) = validUntilMillis.addingReportingOverflow(skew)
            return (o1 || nowMillis >= from) && (o2 || nowMillis <= until)
        }

        /// The key id made from a public key: its first four bytes, little-endian (what
        /// `farectl central keys online-keygen` prints and `issue` uses).
        public static func id(of publicKey: [UInt8]) -> UInt32 {
            guard publicKey.count >= 4 else { return 0 }
            return ByteReader.u32(publicKey, at: 0)
        }
    }

    public var scope: SyncScope
    public var version: UInt64
    public var epoch: UInt64
    public var epochFloor: UInt64
    public var keys: [Key]
    public var revoked: [UInt32]

    public static let magic: [UInt8] = Array("FGR1".utf8)
    public static let format: UInt8 = 1
    public static let headerSize = 79
    public static let keyEntrySize = 52
    public static let maxKeys = 16
    public static let maxRevoked = 255
    public static let signatureSize = SyncManifest.signatureSize

    public init(
        scope: SyncScope, version: UInt64, epoch: UInt64 = 0, epochFloor: UInt64 = 0, keys: [Key],
        revoked: [UInt32] = []
    ) {
        self.scope = scope
        self.version = version
        self.epoch = epoch
        self.epochFloor = epochFloor
        self.keys = keys.sorted { $0.keyID < $1.keyID }
        self.revoked = revoked.sorted()
    }

    public var canonicalBytes: [UInt8] {
        var out = Self.magic
        out.reserveCapacity(Self.headerSize + keys.count * Self.keyEntrySize + revoked.count * 4)
        out.append(Self.format)
        out += scope.encoded
        ByteWriter.append(version, to: &out)
        ByteWriter.append(epoch, to: &out)
        ByteWriter.append(epochFloor, to: &out)
        out.append(UInt8(clamping: keys.count))
        out.append(UInt8(clamping: revoked.count))
        for k in keys.prefix(Self.maxKeys) {
            ByteWriter.append(k.keyID, to: &out)
            out += k.publicKey.count == 32 ? k.publicKey : [UInt8](repeating: 0, count: 32)
            ByteWriter.append(UInt64(bitPattern: k.validFromMillis), to: &out)
            ByteWriter.append(UInt64(bitPattern: k.validUntilMillis), to: &out)
        }
        for id in revoked.prefix(Self.maxRevoked) { ByteWriter.append(id, to: &out) }
        return out
    }

    /// Canonical bytes followed by the root's signature over them.
    public func sealed(by root: some ManifestSigner) -> [UInt8] {
        let message = canonicalBytes
        return message + root.signature(of: message)
    }

    /// Parses canonical bytes; every field is checked, nothing is trusted yet (no signature check).
    public init(canonical bytes: some Collection<UInt8>) throws(SyncVerificationError) {
        let b = Array(bytes)
        guard b.count >= Self.headerSize, Array(b[0..<4]) == Self.magic else {
            throw SyncVerificationError(.malformed, "not a faregate key set (short or bad magic)")
        }
        guard b[4] == Self.format else {
            throw SyncVerificationError(.malformed, "key set format \(b[4]), this gate reads \(Self.format)")
        }
        scope = try SyncScope(encoded: b[5..<53])
        version = ByteReader.u64(b, at: 53)
        epoch = ByteReader.u64(b, at: 61)
        epochFloor = ByteReader.u64(b, at: 69)
        let keyCount = Int(b[77])
        let revokedCount = Int(b[78])
        guard keyCount <= Self.maxKeys else {
            throw SyncVerificationError(.malformed, "key set lists \(keyCount) keys, at most \(Self.maxKeys)")
        }
        let size = Self.headerSize + keyCount * Self.keyEntrySize + revokedCount * 4
        guard b.count == size else {
            throw SyncVerificationError(.malformed, "key set has \(b.count) bytes, its counts say \(size)")
        }
        guard version >= 1, version <= SyncManifest.maxVersion, epoch <= SyncManifest.maxVersion,
            epochFloor <= SyncManifest.maxVersion
        else {
            throw SyncVerificationError(.malformed, "key set version, epoch or floor out of range 1…2^63−1")
        }
        var keys: [Key] = []
        var o = Self.headerSize
        for _ in 0..<keyCount {
            let k = Key(
                keyID: ByteReader.u32(b, at: o), publicKey: Array(b[o + 4..<o + 36]),
                validFromMillis: Int64(bitPattern: ByteReader.u64(b, at: o + 36)),
                validUntilMillis: Int64(bitPattern: ByteReader.u64(b, at: o + 44)))
            guard k.validUntilMillis >= k.validFromMillis else {
                throw SyncVerificationError(
                    .malformed, "key \(Self.hex(k.keyID)) is valid until before it is valid from")
            }
            if let last = keys.last, last.keyID >= k.keyID {
                throw SyncVerificationError(.malformed, "key set key ids are not strictly increasing")
            }
            keys.append(k)
            o += Self.keyEntrySize
        }
        var revoked: [UInt32] = []
        for _ in 0..<revokedCount {
            let id = ByteReader.u32(b, at: o)
            if let last = revoked.last, last >= id {
                throw SyncVerificationError(.malformed, "key set revoked ids are not strictly increasing")
            }
            revoked.append(id)
            o += 4
        }
        if let both = keys.first(where: { revoked.contains($0.keyID) }) {
            throw SyncVerificationError(.malformed, "key \(Self.hex(both.keyID)) is both listed and revoked")
        }
        self.keys = keys
        self.revoked = revoked
    }

    /// Splits a sealed key set into its canonical bytes and signature (sizes only).
    static func split(_ sealed: [UInt8]) throws(SyncVerificationError) -> (message: [UInt8], signature: [UInt8]) {
        guard sealed.count > Self.headerSize + Self.signatureSize else {
            throw SyncVerificationError(.malformed, "sealed key set has \(sealed.count) bytes")
        }
        let cut = sealed.count - Self.signatureSize
        return (Array(sealed[..<cut]), Array(sealed[cut...]))
    }

    /// A key id as farectl shows it: eight hex digits.
    public static func hex(_ id: UInt32) -> String {
        let s = String(id, radix: 16)
        return String(repeating: "0", count: max(0, 8 - s.count)) + s
    }
}

extension SyncVerificationError.Code {
    /// Signed by a key the key set revokes.
    public static let revokedKey = Self(rawValue: "revoked_key")
    /// Signed by a listed key outside its validity window (expired, or not valid yet).
    public static let keyNotValid = Self(rawValue: "key_not_valid")
    /// No key set verified yet, or one for another scope: nothing can be checked.
    public static let noKeySet = Self(rawValue: "no_key_set")
}
