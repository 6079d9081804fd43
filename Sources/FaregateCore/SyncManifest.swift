/// What a publication is: a snapshot or a delta, the versions it spans, and the size and SHA-256 of
/// its body. The central publisher signs the manifest's canonical bytes with Ed25519; the gate pins
/// the public key and checks signature, size, hash and version before anything reaches its table.
///
/// Canonical encoding (62 bytes, integers little-endian), the exact bytes that are signed:
///
///     0  "FGM1"             magic
///     4  u8  format = 1
///     5  u8  kind (1 snapshot, 2 delta)
///     6  u64 fromVersion    (0 for a snapshot)
///     14 u64 toVersion
///     22 u64 bodySize
///     30 [32] body SHA-256
///
/// A sealed manifest (the envelope sent beside the body) is those 62 bytes followed by the 64-byte
/// Ed25519 signature over them.
public struct SyncManifest: Hashable, Sendable {
    public enum Kind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
        case snapshot = 1
        case delta = 2
        public var description: String { self == .snapshot ? "snapshot" : "delta" }
    }

    public var kind: Kind
    public var fromVersion: UInt64
    public var toVersion: UInt64
    public var bodySize: UInt64
    public var bodySHA256: [UInt8]

    public static let magic: [UInt8] = Array("FGM1".utf8)
    public static let format: UInt8 = 1
    public static let encodedSize = 62
    public static let signatureSize = 64
    public static let sealedSize = encodedSize + signatureSize

    public init(kind: Kind, fromVersion: UInt64, toVersion: UInt64, bodySize: UInt64, bodySHA256: [UInt8]) {
        self.kind = kind
        self.fromVersion = fromVersion
        self.toVersion = toVersion
        self.bodySize = bodySize
        self.bodySHA256 = bodySHA256
    }

    /// The canonical bytes that are signed.
    public var canonicalBytes: [UInt8] {
        var out = Self.magic
        out.reserveCapacity(Self.encodedSize)
        out.append(Self.format)
        out.append(kind.rawValue)
        ByteWriter.append(fromVersion, to: &out)
        ByteWriter.append(toVersion, to: &out)
        ByteWriter.append(bodySize, to: &out)
        out += bodySHA256.count == 32 ? bodySHA256 : [UInt8](repeating: 0, count: 32)
        return out
    }

    /// Parses canonical bytes; every field is checked, nothing is trusted yet (no signature check).
    public init(canonical bytes: some Collection<UInt8>) throws(SyncVerificationError) {
        let b = Array(bytes)
        guard b.count == Self.encodedSize else {
            throw SyncVerificationError(.malformed, "manifest has \(b.count) bytes, expected \(Self.encodedSize)")
        }
        guard Array(b[0..<4]) == Self.magic, b[4] == Self.format else {
            throw SyncVerificationError(.malformed, "not a faregate manifest (bad magic or format)")
        }
        guard let kind = Kind(rawValue: b[5]) else {
            throw SyncVerificationError(.malformed, "unknown manifest kind \(b[5])")
        }
        self.kind = kind
        fromVersion = ByteReader.u64(b, at: 6)
        toVersion = ByteReader.u64(b, at: 14)
        bodySize = ByteReader.u64(b, at: 22)
        bodySHA256 = Array(b[30..<62])
    }

    /// The envelope: canonical bytes followed by the signature `signer` makes over them.
    public func sealed(by signer: some ManifestSigner) -> [UInt8] {
        let message = canonicalBytes
        return message + signer.signature(of: message)
    }
}

/// Makes the signature of a manifest (the central publisher's private key; Ed25519 in FaregateSodium).
public protocol ManifestSigner {
    func signature(of message: [UInt8]) -> [UInt8]
}

/// Checks a manifest signature against the pinned central public key.
public protocol ManifestSignatureVerifier: Sendable {
    func isValidSignature(_ signature: [UInt8], of message: [UInt8]) -> Bool
}

/// Computes the SHA-256 of a body.
public protocol BodyDigest: Sendable {
    func sha256(_ bytes: UnsafeRawBufferPointer) -> [UInt8]
}

/// Why a publication was refused. The previous table stays in service whatever the code.
public struct SyncVerificationError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The envelope or body is not in the expected format.
        public static let malformed = Code(rawValue: "malformed")
        /// The signature does not verify with the pinned key (tampered manifest, wrong signer).
        public static let badSignature = Code(rawValue: "bad_signature")
        /// The body is not as long as the manifest says (truncated or padded).
        public static let sizeMismatch = Code(rawValue: "size_mismatch")
        /// The body's SHA-256 differs from the manifest's (tampered body).
        public static let hashMismatch = Code(rawValue: "hash_mismatch")
        /// The publication is not newer than the version in service (replay, rollback).
        public static let rolledBack = Code(rawValue: "rolled_back")
        /// A delta that does not start at the version in service.
        public static let notApplicable = Code(rawValue: "not_applicable")
        /// A different kind than the one requested.
        public static let wrongKind = Code(rawValue: "wrong_kind")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "sync \(code.rawValue): \(message)" }
}

/// The gate's check of a publication: signature valid, size and hash match, version newer than the
/// one in service (and, for a delta, starting exactly there).
///
/// Pure and thread-safe; the crypto comes in through the two protocols.
public struct SyncVerifier: Sendable {
    let signatures: any ManifestSignatureVerifier
    let digest: any BodyDigest

    public init(signatures: any ManifestSignatureVerifier, digest: any BodyDigest) {
        self.signatures = signatures
        self.digest = digest
    }

    /// Verifies `envelope` (a sealed manifest) and `body`; returns the trusted manifest.
    ///
    /// `versionInService` is the gate's current data version, nil when it has no table yet.
    public func verify(
        envelope: [UInt8], body: [UInt8], versionInService: UInt64?, expecting kind: SyncManifest.Kind? = nil
    ) throws(SyncVerificationError) -> SyncManifest {
        guard envelope.count == SyncManifest.sealedSize else {
            throw SyncVerificationError(
                .malformed, "sealed manifest has \(envelope.count) bytes, expected \(SyncManifest.sealedSize)")
        }
        let message = Array(envelope[0..<SyncManifest.encodedSize])
        let signature = Array(envelope[SyncManifest.encodedSize...])
        // Signature first: nothing in an unauthenticated manifest is worth acting on.
        guard signatures.isValidSignature(signature, of: message) else {
            throw SyncVerificationError(.badSignature, "manifest signature does not verify with the pinned central key")
        }
        let manifest = try SyncManifest(canonical: message)
        if let kind, manifest.kind != kind {
            throw SyncVerificationError(.wrongKind, "expected a \(kind), got a \(manifest.kind)")
        }
        guard UInt64(body.count) == manifest.bodySize else {
            throw SyncVerificationError(
                .sizeMismatch, "body has \(body.count) bytes, manifest says \(manifest.bodySize)")
        }
        let hash = body.withUnsafeBytes { digest.sha256($0) }
        guard hash == manifest.bodySHA256 else {
            throw SyncVerificationError(.hashMismatch, "body SHA-256 does not match the manifest")
        }
        if let current = versionInService {
            guard manifest.toVersion > current else {
                throw SyncVerificationError(
                    .rolledBack,
                    "\(manifest.kind) to version \(manifest.toVersion) is not newer than \(current) in service")
            }
            if manifest.kind == .delta, manifest.fromVersion != current {
                throw SyncVerificationError(
                    .notApplicable, "delta starts at version \(manifest.fromVersion), gate has \(current)")
            }
        } else if manifest.kind == .delta {
            throw SyncVerificationError(.notApplicable, "a gate without a table needs a snapshot, not a delta")
        }
        guard manifest.kind == .snapshot || manifest.toVersion > manifest.fromVersion else {
            throw SyncVerificationError(
                .malformed, "delta from \(manifest.fromVersion) to \(manifest.toVersion) goes backwards")
        }
        return manifest
    }
}

/// Little-endian integer writing for wire formats.
enum ByteWriter {
    static func append(_ v: UInt64, to out: inout [UInt8]) {
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }
    static func append(_ v: UInt32, to out: inout [UInt8]) {
        for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
    }
}

/// Little-endian integer reading; callers check bounds first.
enum ByteReader {
    static func u64(_ b: [UInt8], at o: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(b[o + i]) << (8 * UInt64(i)) }
        return v
    }
    static func u32(_ b: [UInt8], at o: Int) -> UInt32 {
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(b[o + i]) << (8 * UInt32(i)) }
        return v
    }
}
