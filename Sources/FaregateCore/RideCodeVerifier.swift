/// Verifies one signature of a ride code; the seam that keeps the C libraries out of the core.
/// Implementations: Ed25519 through libsodium, SM2 with SM3 through OpenSSL's libcrypto, joined
/// by `RideCodeSignatureSuite`. Must be thread-safe: the scanner's thread calls it.
public protocol RideCodeSignatureVerifier: Sendable {
    /// True when `signature` (64 bytes) is `publicKey`'s signature of `message` under `algorithm`.
    /// False for any key or signature that is not well formed; never traps.
    func verify(_ algorithm: RideCodeAlgorithm, publicKey: [UInt8], message: [UInt8], signature: [UInt8]) -> Bool
}

/// One verifier per algorithm, chosen by the algorithm byte. The composition roots build it from
/// the adapters (`Ed25519Verifier.rideCode`, `SM2.verify`).
public struct RideCodeSignatureSuite: RideCodeSignatureVerifier {
    public typealias Verify = @Sendable (_ publicKey: [UInt8], _ message: [UInt8], _ signature: [UInt8]) -> Bool
    let ed25519: Verify
    let sm2: Verify

    public init(ed25519: @escaping Verify, sm2: @escaping Verify) {
        self.ed25519 = ed25519
        self.sm2 = sm2
    }

    public func verify(_ algorithm: RideCodeAlgorithm, publicKey: [UInt8], message: [UInt8], signature: [UInt8])
        -> Bool
    {
        guard algorithm.isWellFormedPublicKey(publicKey), signature.count == RideCodeAlgorithm.signatureLength
        else { return false }
        switch algorithm {
        case .ed25519: return ed25519(publicKey, message, signature)
        case .sm2: return sm2(publicKey, message, signature)
        }
    }
}

/// How old or how far ahead a code may be (check 7), set by policy. RIDECODE.md: 60 s and 30 s.
public struct RideCodeFreshness: Hashable, Sendable {
    public var maxAgeSeconds: Int64
    public var maxSkewSeconds: Int64

    public init(maxAgeSeconds: Int64 = 60, maxSkewSeconds: Int64 = 30) {
        self.maxAgeSeconds = maxAgeSeconds
        self.maxSkewSeconds = maxSkewSeconds
    }

    /// How long the replay cache must remember an accepted code: `max_age + max_skew`.
    public var replayWindowSeconds: Int64 { maxAgeSeconds + maxSkewSeconds }
}

/// What an accepted code leaves behind: the key the gate's rules look up (check 9) and the
/// evidence the journal record keeps so central can settle the ride with the issuer.
public struct RideCodeEvidence: Hashable, Sendable {
    public var issuerNumber: UInt8
    public var issuerKeyID: UInt16
    public var account: UInt64
    /// SHA-256 of the whole certificate (magic … cert_sig).
    public var certificateHash: [UInt8]
    public var generatedAt: UInt32
    public var counter: UInt32
    public var flags: UInt8
    public var userSignature: [UInt8]
    /// The ride is settled with the issuer by inter-city clearing: the issuer is another city's
    /// metro app (RIDECODE.md's issuers 16–19, `RideCodeIssuer.isOtherCity`). Derived from the
    /// issuer when the gate accepts the code and stated in the journal record, so a record keeps
    /// the mark it was made with whatever a later build's issuer table says.
    public var clearing: Bool

    /// `clearing` nil: derived from the issuer (`needsClearing(issuerNumber:)`).
    public init(
        issuerNumber: UInt8, issuerKeyID: UInt16, account: UInt64, certificateHash: [UInt8], generatedAt: UInt32,
        counter: UInt32, flags: UInt8, userSignature: [UInt8], clearing: Bool? = nil
    ) {
        self.clearing = clearing ?? Self.needsClearing(issuerNumber: issuerNumber)
        self.issuerNumber = issuerNumber
        self.issuerKeyID = issuerKeyID
        self.account = account
        self.certificateHash = certificateHash
        self.generatedAt = generatedAt
        self.counter = counter
        self.flags = flags
        self.userSignature = userSignature
    }

    /// The ride-code `CardKey` of (issuer, account). The parser refuses accounts of 2^52 and
    /// more; here the account is masked to 52 bits so no value can reach another key space.
    public var cardKey: CardKey {
        let account = account & ((1 << CardKey.rideCodeAccountBits) - 1)
        return CardKey(rawValue: 0x9 << 60 | UInt64(issuerNumber) << CardKey.rideCodeAccountBits | account)
    }

    public var issuer: RideCodeIssuer? { RideCodeIssuer(rawValue: issuerNumber) }

    /// Whether rides on codes of `issuerNumber` are settled by inter-city clearing: true for the
    /// other cities' metro apps; false for Beijing's own issuers and numbers this build does not name.
    public static func needsClearing(issuerNumber: UInt8) -> Bool {
        RideCodeIssuer(rawValue: issuerNumber)?.isOtherCity ?? false
    }

    public var madeOffline: Bool { flags & RideCodeDynamicPart.offlineFlag != 0 }
}

/// A refused code: the reason the gate shows and journals, and for people a sentence on what
/// exactly failed (never shown to the rider; it names no account).
public struct RideCodeRefusal: Error, Hashable, Sendable, CustomStringConvertible {
    public var reason: Reason
    public var detail: String

    public init(_ reason: Reason, _ detail: String) {
        self.reason = reason
        self.detail = detail
    }

    public var description: String { "\(reason.code): \(detail)" }
}

/// The outcome of checking a code.
public enum RideCodeVerdict: Hashable, Sendable {
    case accepted(RideCodeEvidence)
    case refused(RideCodeRefusal)

    public var reason: Reason {
        switch self {
        case .accepted: .ok
        case .refused(let r): r.reason
        }
    }
}

/// The offline checks of ride code v1 (RIDECODE.md, "What a gate checks"), pure: time, keys and
/// the replay cache are arguments, the signatures go through `RideCodeSignatureVerifier`.
///
/// The checks run in the spec's order and the first that fails decides: 1 format
/// (`RideCode(text:)`), 3 issuer key, 4 certificate signature, 5 certificate validity, 6 phone
/// signature, 7 freshness, 8 replay. Checks 2 (issuer accepted here) and 9 (binding and health)
/// are the gate's rules on `RideCodeEvidence.cardKey`; a gate runs 2 between `parse` and
/// `verifySigned`, so the order holds. `verifySigned` needs no state and may run on the scanner's
/// thread; `replay` needs the cache, which the decision thread owns. Thread-safe (immutable).
public struct RideCodeVerifier: Sendable {
    public let signatures: any RideCodeSignatureVerifier
    public let digest: any BodyDigest

    public init(signatures: some RideCodeSignatureVerifier, digest: some BodyDigest) {
        self.signatures = signatures
        self.digest = digest
    }

    /// Check 1.
    public static func parse(_ text: some StringProtocol) -> Result<RideCode, RideCodeRefusal> {
        do {
            return .success(try RideCode(text: text))
        } catch {
            return .failure(RideCodeRefusal(.rideCodeMalformed, error.problem))
        }
    }

    /// Checks 3–7 of a parsed code at `now` (Unix seconds).
    public func verifySigned(
        _ code: RideCode, keys: RideCodeIssuerKeyList, now: Int64, freshness: RideCodeFreshness = .init()
    ) -> Result<RideCodeEvidence, RideCodeRefusal> {
        let cert = code.certificate
        let dynamic = code.dynamicPart
        // 3: the issuer key, of the algorithm the certificate names, usable when the code was made.
        guard let key = keys.key(issuer: cert.issuerNumber, keyID: cert.issuerKeyID) else {
            return .failure(.init(.rideCodeUnknownKey, "issuer \(cert.issuerNumber) has no key \(cert.issuerKeyID)"))
        }
        guard key.algorithm == cert.certificateAlgorithm else {
            return .failure(
                .init(
                    .rideCodeUnknownKey,
                    "issuer \(cert.issuerNumber) key \(cert.issuerKeyID) is \(key.algorithm.name), "
                        + "the certificate says \(cert.certificateAlgorithm.name)"))
        }
        guard !key.revoked else {
            return .failure(
                .init(.rideCodeUnknownKey, "issuer \(cert.issuerNumber) key \(cert.issuerKeyID) is revoked"))
        }
        guard key.isUsable(at: dynamic.generatedAt) else {
            return .failure(
                .init(
                    .rideCodeUnknownKey,
                    "issuer \(cert.issuerNumber) key \(cert.issuerKeyID) is valid \(key.validFrom)…\(key.validUntil), "
                        + "not at generated_at \(dynamic.generatedAt)"))
        }
        // 4: the issuer's signature over the certificate.
        let certBytes = cert.signedBytes
        guard
            signatures.verify(
                cert.certificateAlgorithm, publicKey: key.publicKey, message: certBytes, signature: cert.signature)
        else { return .failure(.init(.rideCodeBadSignature, "the issuer's certificate signature does not verify")) }
        // 5: the certificate's validity now.
        guard Int64(cert.validFrom) <= now, now <= Int64(cert.validUntil) else {
            return .failure(
                .init(.rideCodeCertificateExpired, "certificate valid \(cert.validFrom)…\(cert.validUntil), now \(now)")
            )
        }
        // 6: the phone's signature over the certificate and the dynamic fields.
        let fullCert = certBytes + cert.signature
        guard
            signatures.verify(
                cert.userAlgorithm, publicKey: cert.userKey, message: fullCert + dynamic.signedFields,
                signature: dynamic.signature)
        else { return .failure(.init(.rideCodeBadSignature, "the phone's signature does not verify")) }
        // 7: now − max_age ≤ generated_at ≤ now + max_skew (Int64: no bound can overflow here).
        let made = Int64(dynamic.generatedAt)
        guard now - freshness.maxAgeSeconds <= made else {
            return .failure(
                .init(.rideCodeExpired, "made at \(made), \(now - made) s ago (max \(freshness.maxAgeSeconds) s)"))
        }
        guard made <= now + freshness.maxSkewSeconds else {
            return .failure(
                .init(
                    .rideCodeExpired, "made at \(made), \(made - now) s ahead (max \(freshness.maxSkewSeconds) s)"))
        }
        return .success(
            RideCodeEvidence(
                issuerNumber: cert.issuerNumber, issuerKeyID: cert.issuerKeyID, account: cert.account,
                certificateHash: fullCert.withUnsafeBytes { digest.sha256($0) }, generatedAt: dynamic.generatedAt,
                counter: dynamic.counter, flags: dynamic.flags, userSignature: dynamic.signature))
    }

    /// Checks 1 and 3–7, as `farectl ride-code verify` runs them (no rules, no replay cache).
    public func verifySigned(
        text: some StringProtocol, keys: RideCodeIssuerKeyList, now: Int64, freshness: RideCodeFreshness = .init()
    ) -> RideCodeVerdict {
        switch Self.parse(text) {
        case .failure(let r): return .refused(r)
        case .success(let code):
            switch verifySigned(code, keys: keys, now: now, freshness: freshness) {
            case .success(let e): return .accepted(e)
            case .failure(let r): return .refused(r)
            }
        }
    }

    /// Checks 1 and 3–8. The cache is read, not changed: the caller records an accepted code
    /// (`RideCodeReplayCache.record`) once its decision is taken.
    public func verify(
        text: some StringProtocol, keys: RideCodeIssuerKeyList, now: Int64, freshness: RideCodeFreshness = .init(),
        replay: RideCodeReplayCache
    ) -> RideCodeVerdict {
        let verdict = verifySigned(text: text, keys: keys, now: now, freshness: freshness)
        guard case .accepted(let evidence) = verdict else { return verdict }
        if let refusal = replay.check(evidence, now: now, freshness: freshness) { return .refused(refusal) }
        return verdict
    }
}
