import CSodium
import FaregateCore

/// An Ed25519 signing key pair (libsodium `crypto_sign_*`), the central publisher's key.
///
/// The secret key is wiped (`sodium_memzero`) when the object goes away. Thread-safe: immutable.
public final class Ed25519KeyPair: ManifestSigner, @unchecked Sendable {  // invariant: never mutated after init
    public static let publicKeySize = 32
    public static let secretKeySize = 64
    public static let signatureSize = 64

    public let publicKey: [UInt8]
    private var secretKey: [UInt8]

    /// A new random key pair; wraps `crypto_sign_keypair`.
    public init() throws(SodiumError) {
        try Sodium.ready()
        var pk = [UInt8](repeating: 0, count: Self.publicKeySize)
        var sk = [UInt8](repeating: 0, count: Self.secretKeySize)
        let rc = withOutput(&pk) { p in withOutput(&sk) { s in crypto_sign_keypair(p, s) } }
        guard rc == 0 else { throw SodiumError(.callFailed, "crypto_sign_keypair returned \(rc)") }
        publicKey = pk
        secretKey = sk
    }

    /// The key pair of a 64-byte libsodium secret key (seed followed by public key); the public
    /// key is re-derived (`crypto_sign_ed25519_sk_to_pk`) and must match the embedded one.
    public init(secretKey: [UInt8]) throws(SodiumError) {
        try Sodium.ready()
        guard secretKey.count == Self.secretKeySize else {
            throw SodiumError(.badKey, "Ed25519 secret key must be \(Self.secretKeySize) bytes, got \(secretKey.count)")
        }
        var seed = Array(secretKey[0..<32])
        defer { seed.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) } }
        var pk = [UInt8](repeating: 0, count: Self.publicKeySize)
        var sk = [UInt8](repeating: 0, count: Self.secretKeySize)
        let rc = withOutput(&pk) { p in withOutput(&sk) { s in withInput(seed) { crypto_sign_seed_keypair(p, s, $0) } }
        }
        guard rc == 0, sk == secretKey else {
            throw SodiumError(.badKey, "Ed25519 secret key is inconsistent (its public half does not match its seed)")
        }
        publicKey = pk
        self.secretKey = sk
    }

    deinit { secretKey.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) } }

    /// The secret key bytes, for writing the key file.
    public var secretKeyBytes: [UInt8] { secretKey }

    /// Detached signature of `message`; wraps `crypto_sign_detached`.
    public func signature(of message: [UInt8]) -> [UInt8] {
        var sig = [UInt8](repeating: 0, count: Self.signatureSize)
        // crypto_sign_detached cannot fail with a valid secret key, which init guarantees.
        _ = withOutput(&sig) { s in
            withInput(message) { m in
                withInput(secretKey) { k in crypto_sign_detached(s, nil, m, UInt64(message.count), k) }
            }
        }
        return sig
    }
}

/// Verifies signatures against one pinned Ed25519 public key; wraps `crypto_sign_verify_detached`.
/// Thread-safe (immutable).
public struct Ed25519Verifier: ManifestSignatureVerifier {
    public let publicKey: [UInt8]

    public init(publicKey: [UInt8]) throws(SodiumError) {
        try Sodium.ready()
        guard publicKey.count == Ed25519KeyPair.publicKeySize else {
            throw SodiumError(.badKey, "Ed25519 public key must be 32 bytes, got \(publicKey.count)")
        }
        self.publicKey = publicKey
    }

    public func isValidSignature(_ signature: [UInt8], of message: [UInt8]) -> Bool {
        guard signature.count == Ed25519KeyPair.signatureSize else { return false }
        return withInput(signature) { s in
            withInput(message) { m in
                withInput(publicKey) { k in crypto_sign_verify_detached(s, m, UInt64(message.count), k) == 0 }
            }
        }
    }
}

extension SyncVerifier {
    /// The gate's verifier: Ed25519 with the pinned central public key, SHA-256 from libsodium,
    /// for the network and environment the gate serves.
    public init(pinnedPublicKey: [UInt8], scope: SyncScope) throws(SodiumError) {
        self.init(signatures: try Ed25519Verifier(publicKey: pinnedPublicKey), digest: SodiumSHA256(), scope: scope)
    }

    /// The gate's verifier under a pinned offline root key: signatures count only by the online
    /// keys of the newest root-signed key set (`PublicationKeyRing`, which starts empty: the
    /// caller adopts a kept or fetched key set), valid at `wallMillis`.
    public init(pinnedRootKey: [UInt8], scope: SyncScope, wallMillis: @escaping @Sendable () -> Int64)
        throws(SodiumError)
    {
        let ring = PublicationKeyRing(
            root: try Ed25519Verifier(publicKey: pinnedRootKey), scope: scope,
            verifierFor: { key in try? Ed25519Verifier(publicKey: key) }, wallMillis: wallMillis)
        self.init(signatures: ring, digest: SodiumSHA256(), scope: scope)
    }
}
