import FaregateCore
import FaregateRuntime

/// A simulated ride-code issuer: its key as gates hold it, and signers for its certificates and
/// for its riders' phones. The signers are the real adapters' (Ed25519 through libsodium, SM2
/// through libcrypto), passed in by the composition root (`farectl`, the tests), so this module
/// depends on no C library and the codes are real signed codes a gate verifies as any other.
/// All riders of one issuer share one phone key (each account has its own certificate).
public struct SimulatedRideCodeIssuer: Sendable {
    public typealias Sign = @Sendable ([UInt8]) -> [UInt8]
    public var key: RideCodeIssuerKey
    public var sign: Sign
    public var phoneAlgorithm: RideCodeAlgorithm
    public var phonePublicKey: [UInt8]
    public var phoneSign: Sign

    public init(
        key: RideCodeIssuerKey, sign: @escaping Sign, phoneAlgorithm: RideCodeAlgorithm, phonePublicKey: [UInt8],
        phoneSign: @escaping Sign
    ) {
        self.key = key
        self.sign = sign
        self.phoneAlgorithm = phoneAlgorithm
        self.phonePublicKey = phonePublicKey
        self.phoneSign = phoneSign
    }
}

/// A fraud a ride-code rider tries, and the reason a gate must refuse it with (RIDECODE.md).
public enum RideCodeFraud: String, Sendable, CaseIterable, Hashable {
    /// A screenshot of a code already accepted at this gate, shown again.
    case screenshot
    /// A code made longer ago than the freshness bound (check 7).
    case stale
    /// A code whose account certificate has expired (check 5).
    case expiredCertificate = "expired_certificate"
    /// A code whose phone signature was tampered with (check 6).
    case forgedSignature = "forged_signature"

    public var expectedReason: Reason {
        switch self {
        case .screenshot: .rideCodeReused
        case .stale: .rideCodeExpired
        case .expiredCertificate: .rideCodeCertificateExpired
        case .forgedSignature: .rideCodeBadSignature
        }
    }
}

/// Ride-code riders of a station run: which share of riders shows a code instead of a card, the
/// issuers that made the codes, and how often each fraud is tried.
public struct StationRideCodes: Sendable {
    /// Share of riders who show a ride code (the rest tap a card).
    public var share = 0.6
    public var issuers: [SimulatedRideCodeIssuer]
    /// The gates' verifier (the adapters' signature checks and SHA-256).
    public var verifier: RideCodeVerifier
    /// Accounts per issuer; every one is bound and green in central (`centralRecords`).
    public var accountsPerIssuer = 500
    /// Chance, per ride-code rider, of each fraud.
    public var fraudChance: [RideCodeFraud: Double] = [
        .screenshot: 0.01, .stale: 0.01, .expiredCertificate: 0.01, .forgedSignature: 0.01,
    ]

    public init(issuers: [SimulatedRideCodeIssuer], verifier: RideCodeVerifier) {
        self.issuers = issuers
        self.verifier = verifier
    }

    /// The issuer keys the gates hold.
    public var keys: RideCodeIssuerKeyList {
        get throws { try RideCodeIssuerKeyList(issuers.map(\.key)) }
    }

    /// The accounts for central: each bound to its own identity (a keyed hash stand-in derived
    /// from issuer and account, no personal data) and green.
    public func centralRecords() -> [CentralCardRecord] {
        issuers.flatMap { i in
            (0..<UInt64(accountsPerIssuer)).compactMap { a -> CentralCardRecord? in
                guard let key = CardKey(rideCodeIssuerNumber: i.key.issuer.rawValue, account: a) else { return nil }
                var g = SplitMix64(seed: key.rawValue)
                let hash = (0..<4).flatMap { _ in withUnsafeBytes(of: g.next()) { Array($0) } }
                return CentralCardRecord(key: key, cardType: .normal, identityHash: hash, health: .green)
            }
        }
    }
}

/// What the ride-code riders of a run did and what the gates told them, for the report.
public struct RideCodeTally: Sendable, Equatable {
    /// Codes shown, valid ones among them, and valid ones the gates let through.
    public var shown = 0
    public var valid = 0
    public var validAccepted = 0
    /// Frauds tried, by kind, and how many were refused with the kind's expected reason.
    public var injected: [String: Int] = [:]
    public var refusedAsExpected: [String: Int] = [:]
    /// What the gates told ride-code riders, by reason.
    public var reasons: [String: Int] = [:]

    public init() {}

    /// Every valid code was accepted and every fraud refused with its reason.
    public var allAsExpected: Bool {
        validAccepted == valid && injected == refusedAsExpected.filter { $0.value > 0 }
    }
}

/// Makes the codes riders show: a certificate per account (cached), a counter per account, and
/// the frauds. Wall-clock time is the gates' (they check codes in real time).
struct RideCodeMaker {
    let config: StationRideCodes
    var certificates: [UInt64: RideCodeCertificate] = [:]
    var counters: [UInt64: UInt32] = [:]

    init(_ config: StationRideCodes) { self.config = config }

    func certificate(_ issuer: SimulatedRideCodeIssuer, account: UInt64, validFrom: Int64, validUntil: Int64)
        -> RideCodeCertificate
    {
        RideCodeCertificate(
            certificateAlgorithm: issuer.key.algorithm, issuerNumber: issuer.key.issuer.rawValue,
            issuerKeyID: issuer.key.keyID, account: account, validFrom: UInt32(clamping: max(0, validFrom)),
            validUntil: UInt32(clamping: max(0, validUntil)), userAlgorithm: issuer.phoneAlgorithm,
            userKey: issuer.phonePublicKey
        ).signed(by: issuer.sign)
    }

    /// A code of `issuer`'s `account` made at `now` (or `madeAt`), with the account's next counter;
    /// `fraud` makes it stale, on an expired certificate, or with a forged phone signature.
    mutating func code(issuer i: Int, account: UInt64, now: Int64, fraud: RideCodeFraud?) -> String {
        let issuer = config.issuers[i]
        let id = UInt64(issuer.key.issuer.rawValue) << 52 | account
        let counter = (counters[id] ?? 0) + 1
        counters[id] = counter
        let cert: RideCodeCertificate
        if fraud == .expiredCertificate {
            cert = certificate(issuer, account: account, validFrom: now - 7200, validUntil: now - 3600)
        } else if let c = certificates[id] {
            cert = c
        } else {
            cert = certificate(issuer, account: account, validFrom: now - 86_400, validUntil: now + 86_400 * 30)
            certificates[id] = cert
        }
        let madeAt = fraud == .stale ? now - config.verifierFreshness.maxAgeSeconds - 60 : now
        var code = RideCode(
            certificate: cert, generatedAt: UInt32(clamping: max(0, madeAt)), counter: counter,
            signedBy: issuer.phoneSign)
        if fraud == .forgedSignature, let last = code.dynamicPart.signature.indices.last {
            code.dynamicPart.signature[last] ^= 0x5A
        }
        return code.text
    }
}

extension StationRideCodes {
    /// The freshness bounds the gates run with (RIDECODE.md's defaults).
    var verifierFreshness: RideCodeFreshness { RideCodeFreshness() }
}
