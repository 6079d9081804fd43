/// Central's signed list of ride-code issuer keys (issue 17.3): every key central holds, revoked
/// ones included, for one network and environment, at a version that only grows. The central
/// publisher signs it with the same key (`ManifestSigner`) as manifests and timestamp statements;
/// a gate fetches it at every sync, verifies it (`SyncVerifier.verifyIssuerKeys`), keeps it beside
/// its table and checks ride codes against the keys it lists. A key revoked at central is refused
/// from the first sync that brings the next document.
///
/// Canonical encoding (integers little-endian, as the other sync formats), the bytes that are signed:
///
///     0  "FGK1"            magic (manifests are "FGM1", timestamps "FGT1": none passes for another)
///     4  u8  format = 1
///     5  [32] network, [16] environment (`SyncScope`)
///     53 u64 version       (1 … 2^63 − 1; each publication takes the next)
///     61 i64 issuedAt      (wall milliseconds since 1970)
///     69 i64 expiresAt     (wall milliseconds; a gate takes no document past it at a sync)
///     77 u16 count         (at most `maxKeys`)
///     79 count × key:      u8 issuer, u16 key id, u8 algorithm (1 Ed25519, 2 SM2), u8 flags
///                          (bit 0 revoked, others 0), u32 valid_from, u32 valid_until,
///                          u8 key length (32 or 65, as the algorithm says), the key
///
/// Keys are in ascending (issuer, key id) order with none twice, so one key set has exactly one
/// encoding. Sealed: those bytes followed by the 64-byte signature.
public struct IssuerKeyDocument: Hashable, Sendable {
    public var scope: SyncScope
    public var version: UInt64
    public var issuedAtMillis: Int64
    public var expiresAtMillis: Int64
    public var keys: RideCodeIssuerKeyList

    public static let magic: [UInt8] = Array("FGK1".utf8)
    public static let format: UInt8 = 1
    public static let headerSize = 79
    /// Most keys one document carries (ten issuers rotating yearly for decades is a few hundred).
    public static let maxKeys = 4096
    static let entryFixedSize = 14
    /// The largest sealed document: every key an SM2 key.
    public static let maxSealedSize =
        headerSize + maxKeys * (entryFixedSize + RideCodeAlgorithm.sm2.publicKeyLength) + SyncManifest.signatureSize

    /// - Parameter keys: in any order; the encoding sorts them.
    public init(
        scope: SyncScope, version: UInt64, issuedAtMillis: Int64, expiresAtMillis: Int64, keys: RideCodeIssuerKeyList
    ) {
        self.scope = scope
        self.version = version
        self.issuedAtMillis = issuedAtMillis
        self.expiresAtMillis = expiresAtMillis
        // Kept in canonical order, so two documents of one key set compare equal however built
        // (sorting a list without duplicates cannot make one).
        self.keys = (try? RideCodeIssuerKeyList(Self.sorted(keys.keys))) ?? keys
    }

    static func sorted(_ keys: [RideCodeIssuerKey]) -> [RideCodeIssuerKey] {
        keys.sorted { ($0.issuer.rawValue, $0.keyID) < ($1.issuer.rawValue, $1.keyID) }
    }

    /// The keys in canonical order.
    var sortedKeys: [RideCodeIssuerKey] { Self.sorted(keys.keys) }

    public var canonicalBytes: [UInt8] {
        var out = Self.magic
        out.append(Self.format)
        out += scope.encoded
        ByteWriter.append(version, to: &out)
        ByteWriter.append(UInt64(bitPattern: issuedAtMillis), to: &out)
        ByteWriter.append(UInt64(bitPattern: expiresAtMillis), to: &out)
        let keys = sortedKeys.prefix(Self.maxKeys)
        ByteWriter.append(UInt16(keys.count), to: &out)
        for k in keys {
            out.append(k.issuer.rawValue)
            ByteWriter.append(k.keyID, to: &out)
            out.append(k.algorithm.rawValue)
            out.append(k.revoked ? 1 : 0)
            ByteWriter.append(k.validFrom, to: &out)
            ByteWriter.append(k.validUntil, to: &out)
            out.append(UInt8(truncatingIfNeeded: k.publicKey.count))
            out += k.publicKey
        }
        return out
    }

    public func sealed(by signer: some ManifestSigner) -> [UInt8] {
        let message = canonicalBytes
        return message + signer.signature(of: message)
    }

    /// Parses canonical bytes; every field and count is checked against the bytes present before
    /// it is used, nothing is trusted yet (no signature check). Never traps.
    public init(canonical bytes: some Collection<UInt8>) throws(SyncVerificationError) {
        let b = Array(bytes)
        guard b.count >= Self.headerSize, Array(b[0..<4]) == Self.magic else {
            throw SyncVerificationError(.malformed, "not a faregate issuer-key document (short or bad magic)")
        }
        guard b[4] == Self.format else {
            throw SyncVerificationError(
                .malformed, "issuer-key document format \(b[4]), this gate reads \(Self.format)")
        }
        scope = try SyncScope(encoded: b[5..<53])
        version = ByteReader.u64(b, at: 53)
        issuedAtMillis = Int64(bitPattern: ByteReader.u64(b, at: 61))
        expiresAtMillis = Int64(bitPattern: ByteReader.u64(b, at: 69))
        guard version >= 1, version <= SyncManifest.maxVersion else {
            throw SyncVerificationError(.malformed, "issuer-key document version \(version) is outside 1…2^63 − 1")
        }
        guard expiresAtMillis >= issuedAtMillis else {
            throw SyncVerificationError(.malformed, "issuer-key document expires before it is issued")
        }
        let count = Int(ByteReader.u16(b, at: 77))
        guard count <= Self.maxKeys else {
            throw SyncVerificationError(.malformed, "issuer-key document lists \(count) keys, at most \(Self.maxKeys)")
        }
        var out: [RideCodeIssuerKey] = []
        out.reserveCapacity(count)
        var offset = Self.headerSize
        var previous: (UInt8, UInt16)?
        for i in 0..<count {
            guard b.count - offset >= Self.entryFixedSize else {
                throw SyncVerificationError(.malformed, "issuer key \(i) of \(count) is cut short")
            }
            let issuerNumber = b[offset]
            let keyID = ByteReader.u16(b, at: offset + 1)
            guard let issuer = RideCodeIssuer(rawValue: issuerNumber) else {
                throw SyncVerificationError(.malformed, "issuer key \(i): unknown issuer number \(issuerNumber)")
            }
            guard let alg = RideCodeAlgorithm(rawValue: b[offset + 3]) else {
                throw SyncVerificationError(.malformed, "issuer key \(i): unknown algorithm \(b[offset + 3])")
            }
            let flags = b[offset + 4]
            guard flags & ~1 == 0 else {
                throw SyncVerificationError(.malformed, "issuer key \(i): unknown flags \(flags)")
            }
            let validFrom = ByteReader.u32(b, at: offset + 5)
            let validUntil = ByteReader.u32(b, at: offset + 9)
            guard validFrom <= validUntil else {
                throw SyncVerificationError(.malformed, "issuer key \(i): valid_until before valid_from")
            }
            let length = Int(b[offset + 13])
            offset += Self.entryFixedSize
            guard length == alg.publicKeyLength, b.count - offset >= length else {
                throw SyncVerificationError(
                    .malformed, "issuer key \(i): \(length)-byte \(alg.name) key (\(b.count - offset) bytes left)")
            }
            let key = Array(b[offset..<offset + length])
            offset += length
            guard alg.isWellFormedPublicKey(key) else {
                throw SyncVerificationError(.malformed, "issuer key \(i): not an uncompressed SM2 point")
            }
            if let previous, !(previous < (issuerNumber, keyID)) {
                throw SyncVerificationError(
                    .malformed, "issuer key \(i) (issuer \(issuerNumber), key \(keyID)) is out of order or twice")
            }
            previous = (issuerNumber, keyID)
            out.append(
                RideCodeIssuerKey(
                    issuer: issuer, keyID: keyID, algorithm: alg, publicKey: key, validFrom: validFrom,
                    validUntil: validUntil, revoked: flags & 1 != 0))
        }
        guard offset == b.count else {
            throw SyncVerificationError(.malformed, "\(b.count - offset) bytes after the last issuer key")
        }
        // Sorted and strictly increasing above: no duplicate can reach the list.
        guard let list = try? RideCodeIssuerKeyList(out) else {
            throw SyncVerificationError(.malformed, "issuer-key document lists a key twice")
        }
        keys = list
    }
}

extension SyncVerifier {
    /// Verifies a sealed issuer-key document at the gate's wall time `nowMillis`: signature first
    /// (through the same `ManifestSignatureVerifier` as every publication: the one place issuer
    /// keys are authenticated), then format, scope, issued no later than `nowMillis` plus the skew
    /// bound (`SyncTimestamp.maxClockSkewMillis`), not expired (same bound) unless `checkExpiry`
    /// is false (the gate's kept document, re-verified at a restart: it stays in force offline),
    /// and not older than `held` (the document in force): a lower version is `.rolledBack`, the
    /// same version with other content is refused as `.malformed`. Returns the trusted document;
    /// the caller swaps it in only when its version is newer than `held`'s.
    public func verifyIssuerKeys(
        _ sealed: [UInt8], nowMillis: Int64, held: IssuerKeyDocument?, checkExpiry: Bool = true
    ) throws(SyncVerificationError) -> IssuerKeyDocument {
        guard sealed.count >= IssuerKeyDocument.headerSize + SyncManifest.signatureSize,
            sealed.count <= IssuerKeyDocument.maxSealedSize
        else {
            throw SyncVerificationError(.malformed, "issuer-key document has \(sealed.count) bytes")
        }
        let split = sealed.count - SyncManifest.signatureSize
        let message = Array(sealed[0..<split])
        guard signatures.isValidSignature(Array(sealed[split...]), of: message) else {
            throw SyncVerificationError(.badSignature, "issuer-key document signature does not verify")
        }
        let d = try IssuerKeyDocument(canonical: message)
        guard d.scope == scope else {
            throw SyncVerificationError(.wrongScope, "issuer keys are for \(d.scope), this gate serves \(scope)")
        }
        let skew = SyncTimestamp.maxClockSkewMillis
        let (latest, o1) = nowMillis.addingReportingOverflow(skew)
        guard o1 || d.issuedAtMillis <= latest else {
            throw SyncVerificationError(
                .outOfDate, "issuer keys issued \(d.issuedAtMillis &- nowMillis) ms in the future (skew \(skew) ms)")
        }
        let (earliest, o2) = nowMillis.subtractingReportingOverflow(skew)
        guard !checkExpiry || o2 || d.expiresAtMillis >= earliest else {
            throw SyncVerificationError(.outOfDate, "issuer keys expired \(nowMillis &- d.expiresAtMillis) ms ago")
        }
        if let held {
            guard d.version >= held.version else {
                throw SyncVerificationError(
                    .rolledBack, "issuer keys version \(d.version) is older than \(held.version) in force")
            }
            guard d.version > held.version || d == held else {
                throw SyncVerificationError(
                    .malformed, "a second, different issuer-key document for version \(d.version)")
            }
        }
        return d
    }
}

extension ByteWriter {
    static func append(_ v: UInt16, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: v))
        out.append(UInt8(truncatingIfNeeded: v >> 8))
    }
}

extension ByteReader {
    static func u16(_ b: [UInt8], at o: Int) -> UInt16 { UInt16(b[o]) | UInt16(b[o + 1]) << 8 }
}
