import CSodium
import FaregateCore

/// An error from libsodium: which call failed and why.
public struct SodiumError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// `sodium_init` failed: no usable random source.
        public static let initializationFailed = Code(rawValue: "initialization_failed")
        /// A key has the wrong length or is not valid for its use.
        public static let badKey = Code(rawValue: "bad_key")
        /// A libsodium call returned an error.
        public static let callFailed = Code(rawValue: "call_failed")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "libsodium \(code.rawValue): \(message)" }
}

/// libsodium set-up. `sodium_init` is thread-safe and idempotent; every entry point calls `ready()`.
enum Sodium {
    /// Result of the one-time `sodium_init` (0 first time, 1 when already initialised, -1 on failure).
    static let initResult: Int32 = sodium_init()

    static func ready() throws(SodiumError) {
        guard initResult >= 0 else { throw SodiumError(.initializationFailed, "sodium_init failed") }
    }
}

/// SHA-256 (`crypto_hash_sha256`), the body digest of publication manifests. Thread-safe.
public struct SodiumSHA256: BodyDigest {
    public init() {}

    public func sha256(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        // crypto_hash_sha256 only fails for lengths beyond what a buffer can hold; it cannot here.
        _ = withOutput(&out) { o in
            if let base = bytes.baseAddress, bytes.count > 0 {
                crypto_hash_sha256(o, base.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
            } else {
                withInput([]) { crypto_hash_sha256(o, $0, 0) }
            }
        }
        return out
    }

    public func sha256(_ bytes: [UInt8]) -> [UInt8] { bytes.withUnsafeBytes { sha256($0) } }
}

/// Keyed hash of ID numbers so the central store never keeps a raw ID number: BLAKE2b-256 with a
/// 32-byte secret key (`crypto_generichash`). Without the key the hash cannot be brute-forced over
/// the small space of ID numbers. Thread-safe (immutable).
public struct IdentityHasher: Sendable {
    public static let keySize = 32
    public static let hashSize = 32
    let key: [UInt8]

    public init(key: [UInt8]) throws(SodiumError) {
        try Sodium.ready()
        guard key.count == Self.keySize else {
            throw SodiumError(.badKey, "identity hash key must be \(Self.keySize) bytes, got \(key.count)")
        }
        self.key = key
    }

    /// A fresh random key (`crypto_generichash_keygen`).
    public static func generateKey() throws(SodiumError) -> [UInt8] {
        try Sodium.ready()
        var k = [UInt8](repeating: 0, count: keySize)
        withOutput(&k) { crypto_generichash_keygen($0) }
        return k
    }

    /// The hash of an ID number, normalised first (surrounding spaces removed, the check letter
    /// `x` upper-cased) so the same person always gets the same hash.
    public func hash(idNumber: String) -> [UInt8] {
        let normal = Array(idNumber.trimmingSpaces.uppercased().utf8)
        var out = [UInt8](repeating: 0, count: Self.hashSize)
        _ = withOutput(&out) { o in
            withInput(normal) { m in
                withInput(key) { k in crypto_generichash(o, Self.hashSize, m, UInt64(normal.count), k, key.count) }
            }
        }
        return out
    }
}

extension String {
    var trimmingSpaces: Substring {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return s
    }
}

/// libsodium's pointer parameters are non-null even for empty inputs: these give a valid pointer
/// for any array (a one-byte dummy when it is empty; libsodium reads nothing from it then).
@inline(__always)
func withInput<R>(_ a: [UInt8], _ body: (UnsafePointer<UInt8>) -> R) -> R {
    a.withUnsafeBufferPointer { b in
        if let p = b.baseAddress { return body(p) }
        let dummy: UInt8 = 0
        return withUnsafePointer(to: dummy) { body($0) }
    }
}

@inline(__always)
func withOutput<R>(_ a: inout [UInt8], _ body: (UnsafeMutablePointer<UInt8>) -> R) -> R {
    precondition(!a.isEmpty, "output buffers have their fixed size")  // programmer error only
    return a.withUnsafeMutableBufferPointer { b in body(b.baseAddress.unsafelyUnwrapped) }
}
