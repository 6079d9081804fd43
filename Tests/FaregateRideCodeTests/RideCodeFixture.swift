import FaregateCore
import FaregateSM2
import FaregateSodium
import XCTest

/// A signing key of either algorithm, as issuers and phones hold them in these tests.
struct TestKey {
    let algorithm: RideCodeAlgorithm
    let publicKey: [UInt8]
    let sign: ([UInt8]) -> [UInt8]

    static func ed25519() throws -> TestKey {
        let k = try Ed25519KeyPair()
        return TestKey(algorithm: .ed25519, publicKey: k.publicKey) { k.signature(of: $0) }
    }

    static func sm2() throws -> TestKey {
        let k = try SM2KeyPair()
        // SM2 signing fails only when libcrypto itself fails; a test that hits it should stop.
        return TestKey(algorithm: .sm2, publicKey: k.publicKey) { m in (try? k.signature(of: m)) ?? [] }
    }

    static func make(_ a: RideCodeAlgorithm) throws -> TestKey { a == .ed25519 ? try ed25519() : try sm2() }
}

/// One issuer key, one phone key, and codes made with them at fixed times.
struct RideCodeFixture {
    static let now: Int64 = 1_767_300_000
    static let issuer = RideCodeIssuer.alipay
    static let account: UInt64 = 4_503_599_627_370_495  // 2^52 − 1, the largest account

    let issuerKey: TestKey
    let phoneKey: TestKey
    var keyEntry: RideCodeIssuerKey
    var certificate: RideCodeCertificate

    init(cert: RideCodeAlgorithm, user: RideCodeAlgorithm, account: UInt64 = Self.account) throws {
        issuerKey = try TestKey.make(cert)
        phoneKey = try TestKey.make(user)
        keyEntry = RideCodeIssuerKey(
            issuer: Self.issuer, keyID: 7, algorithm: cert, publicKey: issuerKey.publicKey, validFrom: 0,
            validUntil: .max)
        certificate = RideCodeCertificate(
            certificateAlgorithm: cert, issuerNumber: Self.issuer.rawValue, issuerKeyID: 7, account: account,
            validFrom: UInt32(Self.now - 86_400), validUntil: UInt32(Self.now + 86_400), userAlgorithm: user,
            userKey: phoneKey.publicKey
        ).signed(by: issuerKey.sign)
    }

    var keys: RideCodeIssuerKeyList { (try? RideCodeIssuerKeyList([keyEntry])) ?? .empty }

    func code(generatedAt: Int64 = Self.now, counter: UInt32 = 1, flags: UInt8 = 0) -> RideCode {
        RideCode(certificate: certificate, generatedAt: UInt32(generatedAt), counter: counter, flags: flags) {
            phoneKey.sign($0)
        }
    }

    /// Re-signs the certificate after `change`.
    mutating func reissue(_ change: (inout RideCodeCertificate) -> Void) {
        change(&certificate)
        certificate = certificate.signed(by: issuerKey.sign)
    }

    static let verifier = RideCodeVerifier(
        signatures: RideCodeSignatureSuite(ed25519: Ed25519Verifier.verify, sm2: SM2.verify), digest: SodiumSHA256())

    static let algorithmPairs: [(RideCodeAlgorithm, RideCodeAlgorithm)] = [
        (.ed25519, .ed25519), (.ed25519, .sm2), (.sm2, .ed25519), (.sm2, .sm2),
    ]
}

func hexBytes(_ s: String) -> [UInt8] { Hex.bytes(exact: s.filter { !$0.isWhitespace }) ?? [] }
