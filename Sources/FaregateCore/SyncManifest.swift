/// What a publication is: a snapshot or a delta, the versions it spans, the network and
/// environment it is for, and the size and SHA-256 of its body. The central publisher signs the
/// manifest's canonical bytes with Ed25519 (an online key the root-signed `PublicationKeySet`
/// lists); the gate pins the root and checks signature, scope, size, hash and version before
/// anything reaches its table. The manifest does not carry the key id: the gate's
/// `PublicationKeyRing` tries the (at most 16) listed keys, so the format and every stored
/// publication stayed as they were, and names the key that signed in its errors.
///
/// Canonical encoding (110 bytes, integers little-endian), the exact bytes that are signed:
///
///     0  "FGM1"             magic
///     4  u8  format = 2     (format 1 named no scope and is refused)
///     5  u8  kind (1 snapshot, 2 delta)
///     6  u64 fromVersion    (0 for a snapshot)
///     14 u64 toVersion
///     22 u64 bodySize
///     30 [32] body SHA-256
///     62 [32] network       (`SyncScope`: ASCII, zero-padded)
///     94 [16] environment   (ASCII, zero-padded)
///
/// Versions are below 2^63 (`SyncManifest.maxVersion`): the stores keep them as signed 64-bit
/// integers, and a manifest naming a larger one is malformed, whoever signed it.
///
/// A sealed manifest (the envelope sent beside the body) is those 110 bytes followed by the
/// 64-byte Ed25519 signature over them.
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
    /// The network and environment the publication is for; a gate configured for another refuses it.
    public var scope: SyncScope

    public static let magic: [UInt8] = Array("FGM1".utf8)
    public static let format: UInt8 = 2
    public static let encodedSize = 110
    public static let signatureSize = 64
    public static let sealedSize = encodedSize + signatureSize
    /// The largest version any publication, table or snapshot may carry: 2^63 − 1.
    public static let maxVersion = UInt64(Int64.max)

    public init(
        kind: Kind, fromVersion: UInt64, toVersion: UInt64, bodySize: UInt64, bodySHA256: [UInt8], scope: SyncScope
    ) {
        self.kind = kind
        self.fromVersion = fromVersion
        self.toVersion = toVersion
        self.bodySize = bodySize
        self.bodySHA256 = bodySHA256
        self.scope = scope
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
        out += scope.encoded
        return out
    }

    /// Parses canonical bytes; every field is checked, nothing is trusted yet (no signature check).
    public init(canonical bytes: some Collection<UInt8>) throws(SyncVerificationError) {
        let b = Array(bytes)
        guard b.count == Self.encodedSize else {
            throw SyncVerificationError(.malformed, "manifest has \(b.count) bytes, expected \(Self.encodedSize)")
        }
        guard Array(b[0..<4]) == Self.magic else {
            throw SyncVerificationError(.malformed, "not a faregate manifest (bad magic)")
        }
        guard b[4] == Self.format else {
            throw SyncVerificationError(
                .malformed, "manifest format \(b[4]), this gate reads \(Self.format) (format 1 names no network)")
        }
        guard let kind = Kind(rawValue: b[5]) else {
            throw SyncVerificationError(.malformed, "unknown manifest kind \(b[5])")
        }
        self.kind = kind
        fromVersion = ByteReader.u64(b, at: 6)
        toVersion = ByteReader.u64(b, at: 14)
        bodySize = ByteReader.u64(b, at: 22)
        bodySHA256 = Array(b[30..<62])
        scope = try SyncScope(encoded: b[62..<110])
        guard fromVersion <= Self.maxVersion, toVersion <= Self.maxVersion else {
            throw SyncVerificationError(
                .malformed, "manifest version \(max(fromVersion, toVersion)) is past the limit \(Self.maxVersion)")
        }
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

/// Checks the signature of a sync document (manifest, timestamp statement, …): one pinned key
/// (`Ed25519Verifier`), or the online keys of a root-signed key set (`PublicationKeyRing`).
public protocol ManifestSignatureVerifier: Sendable {
    func isValidSignature(_ signature: [UInt8], of message: [UInt8]) -> Bool
    /// Throws why `signature` is not believed (`.badSignature`, `.revokedKey`, `.keyNotValid`,
    /// `.noKeySet`); `what` names the document in the message.
    func checkSignature(_ signature: [UInt8], of message: [UInt8], what: String) throws(SyncVerificationError)
}

extension ManifestSignatureVerifier {
    public func checkSignature(_ signature: [UInt8], of message: [UInt8], what: String)
        throws(SyncVerificationError)
    {
        guard isValidSignature(signature, of: message) else {
            throw SyncVerificationError(.badSignature, "\(what) signature does not verify with the pinned central key")
        }
    }
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
        /// Signed for another network or environment (a staging publication at a production gate).
        public static let wrongScope = Code(rawValue: "wrong_scope")
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
/// Pure and thread-safe; the crypto comes in through the two protocols (`signatures` is a
/// `PublicationKeyRing` on a gate that pins a root key: the one place sync signatures are checked).
public struct SyncVerifier: Sendable {
    public let signatures: any ManifestSignatureVerifier
    let digest: any BodyDigest
    /// The network and environment this gate serves; publications for any other are refused.
    public let scope: SyncScope
    /// The oldest version a gate without a table takes (provisioned with the gate, so that a new
    /// gate cannot be handed an old, genuinely signed snapshot); 0 takes any.
    public var minimumVersion: UInt64 = 0

    public init(signatures: any ManifestSignatureVerifier, digest: any BodyDigest, scope: SyncScope) {
        self.signatures = signatures
        self.digest = digest
        self.scope = scope
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
        try signatures.checkSignature(signature, of: message, what: "manifest")
        let manifest = try SyncManifest(canonical: message)
        guard manifest.scope == scope else {
            throw SyncVerificationError(
                .wrongScope, "publication is for \(manifest.scope), this gate serves \(scope)")
        }
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
        } else if manifest.toVersion < minimumVersion {
            throw SyncVerificationError(
                .rolledBack,
                "snapshot at version \(manifest.toVersion) is older than this gate's minimum version \(minimumVersion)")
        }
        guard manifest.kind == .snapshot || manifest.toVersion > manifest.fromVersion else {
            throw SyncVerificationError(
                .malformed, "delta from \(manifest.fromVersion) to \(manifest.toVersion) goes backwards")
        }
        return manifest
    }
}

/// The network and environment a publication is signed for, e.g. `metro` / `production`.
///
/// Each is 1…32 (network) or 1…16 (environment) characters of `a-z A-Z 0-9 . _ -`; the manifest
/// carries both zero-padded. Separate signing keys per environment are the documented practice;
/// the scope is the second fence, for when one key was used for two (README, trust model).
public struct SyncScope: Hashable, Sendable, CustomStringConvertible {
    public let network: String
    public let environment: String

    public static let networkBytes = 32
    public static let environmentBytes = 16

    public init(network: String, environment: String) throws(SyncVerificationError) {
        try Self.check(network, "network", max: Self.networkBytes)
        try Self.check(environment, "environment", max: Self.environmentBytes)
        self.network = network
        self.environment = environment
    }

    public var description: String { "network '\(network)' environment '\(environment)'" }

    /// Network then environment, each zero-padded to its width.
    var encoded: [UInt8] {
        func padded(_ s: String, _ n: Int) -> [UInt8] { Array(s.utf8) + [UInt8](repeating: 0, count: n - s.utf8.count) }
        return padded(network, Self.networkBytes) + padded(environment, Self.environmentBytes)
    }

    init(encoded b: ArraySlice<UInt8>) throws(SyncVerificationError) {
        func field(_ bytes: ArraySlice<UInt8>, _ name: String) throws(SyncVerificationError) -> String {
            let text = bytes.prefix { $0 != 0 }
            guard bytes.dropFirst(text.count).allSatisfy({ $0 == 0 }) else {
                throw SyncVerificationError(.malformed, "manifest \(name) has bytes after its padding")
            }
            return String(decoding: text, as: UTF8.self)
        }
        let start = b.startIndex
        try self.init(
            network: try field(b[start..<start + Self.networkBytes], "network"),
            environment: try field(b[(start + Self.networkBytes)...], "environment"))
    }

    static func check(_ s: String, _ name: String, max: Int) throws(SyncVerificationError) {
        let ok = s.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x5F
                || c == 0x2D
        }
        guard !s.isEmpty, s.utf8.count <= max, ok else {
            throw SyncVerificationError(
                .malformed, "\(name) '\(s)' must be 1…\(max) characters of a-z A-Z 0-9 . _ -")
        }
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
