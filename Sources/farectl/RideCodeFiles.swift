import FaregateCore
import FaregateSM2
import FaregateSodium
import Foundation

// Files of the ride-code bench tools (`farectl ride-code …`): an issuer's secret key and a
// phone's state. Both hold secrets, so both are created O_CREAT|O_EXCL|O_NOFOLLOW with mode 0600
// before their first byte is written; a phone file is replaced by an fsynced temporary file
// renamed over it.

/// A signing key of either ride-code algorithm.
enum RideCodeSigningKey {
    case ed25519(Ed25519KeyPair)
    case sm2(SM2KeyPair)

    static func generate(_ algorithm: RideCodeAlgorithm) throws -> RideCodeSigningKey {
        algorithm == .ed25519 ? .ed25519(try Ed25519KeyPair()) : .sm2(try SM2KeyPair())
    }

    init(_ algorithm: RideCodeAlgorithm, secret: [UInt8]) throws {
        self =
            algorithm == .ed25519
            ? .ed25519(try Ed25519KeyPair(secretKey: secret)) : .sm2(try SM2KeyPair(secretKey: secret))
    }

    var algorithm: RideCodeAlgorithm {
        if case .ed25519 = self { return .ed25519 }
        return .sm2
    }

    var publicKey: [UInt8] {
        switch self {
        case .ed25519(let k): k.publicKey
        case .sm2(let k): k.publicKey
        }
    }

    var secretKey: [UInt8] {
        switch self {
        case .ed25519(let k): k.secretKeyBytes
        case .sm2(let k): k.secretKeyBytes
        }
    }

    func sign(_ message: [UInt8]) throws -> [UInt8] {
        switch self {
        case .ed25519(let k): k.signature(of: message)
        case .sm2(let k): try k.signature(of: message)
        }
    }
}

/// `DIR/issuer-N-key-K.secret.json`: the issuer's secret key and what it signs as.
struct IssuerSecretFile: Codable {
    var issuer: UInt8
    var keyID: UInt16
    var alg: Named<RideCodeAlgorithm>
    var secretKey: String

    enum CodingKeys: String, CodingKey, CaseIterable {
        case issuer, keyID = "key_id", alg, secretKey = "secret_key"
    }
}

/// The phone side of `farectl ride-code issue`: its certificate (hex), its key, its counter.
struct PhoneFile: Codable {
    var certificate: String
    var userAlg: Named<RideCodeAlgorithm>
    var userSecretKey: String
    var counter: UInt32

    enum CodingKeys: String, CodingKey, CaseIterable {
        case certificate, userAlg = "user_alg", userSecretKey = "user_secret_key", counter
    }
}

/// The ride-code verifier with the real adapters: libsodium's Ed25519 and SHA-256, OpenSSL's SM2.
let rideCodeVerifier = RideCodeVerifier(
    signatures: RideCodeSignatureSuite(ed25519: Ed25519Verifier.verify, sm2: SM2.verify), digest: SodiumSHA256())

func jsonBytes<T: Encodable>(_ value: T, pretty: Bool = false) throws -> [UInt8] {
    let e = JSONEncoder()
    e.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys]
    return Array(try e.encode(value)) + [0x0A]
}

/// Creates `path` (O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600: never over an existing file or through
/// a symlink), then writes and fsyncs `bytes`.
func writeSecretFile(_ path: String, _ bytes: [UInt8]) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
    guard fd >= 0 else {
        let why = errno == EEXIST ? "exists; not overwriting a key" : String(cString: strerror(errno))
        throw CLIError.failed("cannot create \(path): \(why)")
    }
    defer { close(fd) }
    var done = 0
    while done < bytes.count {
        let n = bytes[done...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { throw CLIError.failed("cannot write \(path): \(String(cString: strerror(errno)))") }
        done += n
    }
    guard fsync(fd) == 0 else { throw CLIError.failed("cannot fsync \(path): \(String(cString: strerror(errno)))") }
}

/// Replaces `path` with `bytes`: a new 0600 file beside it, fsynced, renamed over it, and the
/// directory fsynced, so a crash leaves the old or the new file whole.
func replaceSecretFile(_ path: String, _ bytes: [UInt8]) throws {
    let temp = path + ".tmp-\(UInt64.random(in: 0...UInt64.max))"
    try writeSecretFile(temp, bytes)
    guard rename(temp, path) == 0 else {
        unlink(temp)
        throw CLIError.failed("cannot replace \(path): \(String(cString: strerror(errno)))")
    }
    let dir = (path as NSString).deletingLastPathComponent
    let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if dfd >= 0 {
        fsync(dfd)
        close(dfd)
    }
}

func readStrict<T: Decodable>(_ type: T.Type, _ path: String) throws -> T {
    guard let data = FileManager.default.contents(atPath: path) else { throw CLIError.failed("cannot read \(path)") }
    do { return try StrictJSON.decode(type, from: Array(data)) } catch { throw CLIError.failed("\(path): \(error)") }
}

func hexField(_ text: String, _ what: String) throws -> [UInt8] {
    guard let b = Hex.bytes(exact: text) else { throw CLIError.failed("\(what) is not hex") }
    return b
}

/// A Unix time option (`--at`, `--valid-from`): whole seconds in the range of ride code v1.
func unixSeconds(_ args: inout Arguments, _ name: String, default def: Int64) throws -> Int64 {
    Int64(try args.int(name, default: Int(def), in: 0...Int(UInt32.max)))
}

func nowSeconds() -> Int64 { Int64(Date().timeIntervalSince1970) }
