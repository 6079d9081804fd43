import CSodium
import FaregateCore

extension Ed25519Verifier {
    /// True when `signature` is `publicKey`'s pure Ed25519 (RFC 8032) signature of `message`;
    /// false for a key or signature of the wrong length. Wraps `crypto_sign_verify_detached`.
    /// The ride-code suite's Ed25519 half (`RideCodeSignatureSuite`).
    @Sendable public static func verify(publicKey: [UInt8], message: [UInt8], signature: [UInt8]) -> Bool {
        guard let v = try? Ed25519Verifier(publicKey: publicKey) else { return false }
        return v.isValidSignature(signature, of: message)
    }
}

extension Ed25519KeyPair {
    /// The key pair of a 32-byte RFC 8032 secret key (the seed); wraps `crypto_sign_seed_keypair`.
    public convenience init(seed: [UInt8]) throws(SodiumError) {
        try Sodium.ready()
        guard seed.count == 32 else { throw SodiumError(.badKey, "Ed25519 seed must be 32 bytes, got \(seed.count)") }
        var pk = [UInt8](repeating: 0, count: Self.publicKeySize)
        var sk = [UInt8](repeating: 0, count: Self.secretKeySize)
        defer { sk.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) } }
        let rc = withOutput(&pk) { p in withOutput(&sk) { s in withInput(seed) { crypto_sign_seed_keypair(p, s, $0) } }
        }
        guard rc == 0 else { throw SodiumError(.callFailed, "crypto_sign_seed_keypair returned \(rc)") }
        try self.init(secretKey: sk)
    }
}
