import CSodium
import FaregateCore

/// The gate's own journal key (issue 16.5): an Ed25519 key pair generated on the gate, whose
/// public half central registers. It signs each upload batch (`crypto_sign_detached`) and, through
/// a MAC key derived from its seed (`crypto_generichash`, BLAKE2b keyed with the seed over a fixed
/// label), MACs every journal line (BLAKE2b-128, `crypto_generichash` keyed with the derived key),
/// so the gate can tell the lines it wrote from lines someone else put in its file.
///
/// Thread-safe: immutable after init (the writer thread MACs, the sync thread signs).
public final class GateJournalKey: JournalBatchSigner, @unchecked Sendable {
    // @unchecked Sendable: `macKey` and the key pair are never mutated after init.
    private let pair: Ed25519KeyPair
    private var macKey: [UInt8]

    /// The key of a 64-byte libsodium Ed25519 secret key (the gate's key file).
    public init(secretKey: [UInt8]) throws(SodiumError) {
        pair = try Ed25519KeyPair(secretKey: secretKey)
        var key = [UInt8](repeating: 0, count: 32)
        let label = Array("faregate journal line mac 1".utf8)
        let seed = Array(secretKey[0..<32])
        _ = withOutput(&key) { o in
            withInput(label) { m in withInput(seed) { k in crypto_generichash(o, 32, m, UInt64(label.count), k, 32) } }
        }
        macKey = key
    }

    /// The key of a 32-byte seed (`crypto_sign_seed_keypair`): fixed keys for fuzzing and tests.
    public convenience init(seed: [UInt8]) throws(SodiumError) {
        try Sodium.ready()
        guard seed.count == 32 else { throw SodiumError(.badKey, "a seed is 32 bytes, got \(seed.count)") }
        var pk = [UInt8](repeating: 0, count: Ed25519KeyPair.publicKeySize)
        var sk = [UInt8](repeating: 0, count: Ed25519KeyPair.secretKeySize)
        let rc = withOutput(&pk) { p in withOutput(&sk) { s in withInput(seed) { crypto_sign_seed_keypair(p, s, $0) } }
        }
        guard rc == 0 else { throw SodiumError(.callFailed, "crypto_sign_seed_keypair returned \(rc)") }
        try self.init(secretKey: sk)
    }

    /// A fresh random key (`crypto_sign_keypair`).
    public static func generate() throws(SodiumError) -> GateJournalKey {
        try GateJournalKey(secretKey: Ed25519KeyPair().secretKeyBytes)
    }

    deinit { macKey.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) } }

    public var publicKey: [UInt8] { pair.publicKey }
    /// The 64 secret-key bytes, for the key file.
    public var secretKeyBytes: [UInt8] { pair.secretKeyBytes }

    public func signature(of message: [UInt8]) -> [UInt8] { pair.signature(of: message) }

    public func mac(_ body: UnsafeRawBufferPointer) -> JournalChainValue {
        // A 16-byte tuple on the stack: no allocation per line on the writer thread.
        var out: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &out) { o in
            let op = o.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: UInt8.self)  // 16 bytes, never nil
            withInput(macKey) { k in
                let dummy: UInt8 = 0
                withUnsafePointer(to: dummy) { d in
                    let m = body.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? d
                    // crypto_generichash fails only for out-of-range lengths (16 and 32 are in range).
                    _ = crypto_generichash(op, 16, m, UInt64(body.count), k, 32)
                }
            }
        }
        return withUnsafeBytes(of: out) { JournalChainValue(bytes: $0) } ?? .zero
    }
}

/// Verifies a gate's batch signature with the public key the batch names (central's side).
extension SignedJournalBatch {
    /// Whether `signature` is a valid Ed25519 signature of `message` by `publicKey`.
    public var hasValidSignature: Bool {
        guard let v = try? Ed25519Verifier(publicKey: publicKey) else { return false }
        return v.isValidSignature(signature, of: message)
    }
}
