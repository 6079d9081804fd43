/// Central's short-lived, signed word that its newest publication is still the newest: the
/// version gates should hold, when that was said, and until when it may be believed (TUF's
/// timestamp role). `farectl central timestamp` signs one on a schedule (a systemd timer); gates
/// fetch it at every sync. A gate's data age is its own wall clock minus the `issuedAt` of the
/// newest statement it verified for a version it holds, so a central that keeps serving an old
/// version (frozen, or someone replaying it) or has stopped signing makes the gate stale after
/// `max_data_age_seconds`, and the `stale_data` rule decides (issue 16: "nothing newer" used to
/// count as fresh for ever).
///
/// Canonical encoding (77 bytes, integers little-endian), the bytes that are signed:
///
///     0  "FGT1"           magic (a manifest's is "FGM1": one can never pass for the other)
///     4  u8  format = 1
///     5  [32] network, [16] environment (`SyncScope`)
///     53 u64 version      (the newest signed version, < 2^63)
///     61 i64 issuedAt     (wall milliseconds since 1970)
///     69 i64 expiresAt    (wall milliseconds; after it the statement proves nothing)
///
/// Sealed: those bytes followed by the 64-byte Ed25519 signature.
public struct SyncTimestamp: Hashable, Sendable {
    public var scope: SyncScope
    public var version: UInt64
    public var issuedAtMillis: Int64
    public var expiresAtMillis: Int64

    public static let magic: [UInt8] = Array("FGT1".utf8)
    public static let format: UInt8 = 1
    public static let encodedSize = 77
    public static let sealedSize = encodedSize + SyncManifest.signatureSize
    /// How far the gate's clock may be behind central's: a statement issued more than this in
    /// the future is refused, and one is believed this long past its expiry. It is also the most
    /// a gate can under-count its data age by.
    public static let maxClockSkewMillis: Int64 = 30_000

    public init(scope: SyncScope, version: UInt64, issuedAtMillis: Int64, expiresAtMillis: Int64) {
        self.scope = scope
        self.version = version
        self.issuedAtMillis = issuedAtMillis
        self.expiresAtMillis = expiresAtMillis
    }

    public var canonicalBytes: [UInt8] {
        var out = Self.magic
        out.append(Self.format)
        out += scope.encoded
        ByteWriter.append(version, to: &out)
        ByteWriter.append(UInt64(bitPattern: issuedAtMillis), to: &out)
        ByteWriter.append(UInt64(bitPattern: expiresAtMillis), to: &out)
        return out
    }

    public func sealed(by signer: some ManifestSigner) -> [UInt8] {
        let message = canonicalBytes
        return message + signer.signature(of: message)
    }

    /// Parses canonical bytes; nothing is trusted yet (no signature check).
    public init(canonical bytes: some Collection<UInt8>) throws(SyncVerificationError) {
        let b = Array(bytes)
        guard b.count == Self.encodedSize, Array(b[0..<4]) == Self.magic, b[4] == Self.format else {
            throw SyncVerificationError(.malformed, "not a faregate timestamp statement")
        }
        scope = try SyncScope(encoded: b[5..<53])
        version = ByteReader.u64(b, at: 53)
        issuedAtMillis = Int64(bitPattern: ByteReader.u64(b, at: 61))
        expiresAtMillis = Int64(bitPattern: ByteReader.u64(b, at: 69))
        guard version <= SyncManifest.maxVersion else {
            throw SyncVerificationError(.malformed, "timestamp version \(version) is past the limit")
        }
        guard expiresAtMillis >= issuedAtMillis else {
            throw SyncVerificationError(.malformed, "timestamp expires before it is issued")
        }
    }
}

extension SyncVerificationError.Code {
    /// A timestamp statement past its expiry, or issued further in the future than the skew bound.
    public static let outOfDate = Self(rawValue: "out_of_date")
}

extension SyncVerifier {
    /// Verifies a sealed timestamp statement at the gate's wall time `nowMillis`: signature,
    /// scope, issued no later than `nowMillis` plus the skew bound, not expired (with the same
    /// bound). `checkExpiry` false: a statement the gate kept from an earlier sync, re-verified at a
    /// restart; its `issuedAt` alone then bounds the data's age.
    public func verifyTimestamp(_ sealed: [UInt8], nowMillis: Int64, checkExpiry: Bool = true)
        throws(SyncVerificationError) -> SyncTimestamp
    {
        guard sealed.count == SyncTimestamp.sealedSize else {
            throw SyncVerificationError(.malformed, "timestamp statement has \(sealed.count) bytes")
        }
        let message = Array(sealed[0..<SyncTimestamp.encodedSize])
        try signatures.checkSignature(Array(sealed[SyncTimestamp.encodedSize...]), of: message, what: "timestamp")
        let t = try SyncTimestamp(canonical: message)
        guard t.scope == scope else {
            throw SyncVerificationError(.wrongScope, "timestamp is for \(t.scope), this gate serves \(scope)")
        }
        let skew = SyncTimestamp.maxClockSkewMillis
        let (latest, o1) = nowMillis.addingReportingOverflow(skew)
        guard o1 || t.issuedAtMillis <= latest else {
            throw SyncVerificationError(
                .outOfDate, "timestamp issued \(t.issuedAtMillis &- nowMillis) ms in the future (skew bound \(skew) ms)"
            )
        }
        let (earliest, o2) = nowMillis.subtractingReportingOverflow(skew)
        guard !checkExpiry || o2 || t.expiresAtMillis >= earliest else {
            throw SyncVerificationError(.outOfDate, "timestamp expired \(nowMillis &- t.expiresAtMillis) ms ago")
        }
        return t
    }
}
