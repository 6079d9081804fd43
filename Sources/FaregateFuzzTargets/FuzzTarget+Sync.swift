import FaregateCore

extension FuzzTarget {
    /// Delta bodies (`DeltaBody(decoding:)`), applied to a small table when they decode.
    static let delta = FuzzTarget("delta", "DeltaBody decoding, applied to a table") { bytes in
        guard let body = try? DeltaBody(decoding: bytes) else { return }
        fuzzCheck((try? DeltaBody(decoding: body.encoded())) == body, "delta does not round-trip")
        let table = CompactStatusTable(
            dataVersion: 1,
            pairs: (0..<64).map { (CardKey(rawValue: 1_000_751_000_000_000_000 + $0), CardStatus(rawValue: 1)) })
        let changes = body.entries.map { e -> StatusChange in
            switch e.operation {
            case .upsert(let s): StatusChange(key: e.key, status: s)
            case .remove: StatusChange(key: e.key, status: nil)
            }
        }
        let next = table.applying(changes, dataVersion: body.toVersion)
        for c in changes.suffix(8) { fuzzCheck(next.status(of: c.key) == c.status, "change not applied") }
    }

    /// Sync manifests: `SyncManifest(canonical:)`, then `SyncVerifier.verify` of a sealed
    /// envelope (the input's first `sealedSize` bytes) and a body (the rest) with a signature
    /// check that accepts everything, so the checks after the signature are reached.
    static let manifest = FuzzTarget("manifest", "SyncManifest parsing and SyncVerifier.verify") { bytes in
        let parsed = try? SyncManifest(canonical: bytes.prefix(SyncManifest.encodedSize))
        if let m = parsed {
            fuzzCheck((try? SyncManifest(canonical: m.canonicalBytes)) == m, "manifest does not round-trip")
        }
        let envelope = Array(bytes.prefix(SyncManifest.sealedSize))
        let body = Array(bytes.dropFirst(SyncManifest.sealedSize))
        // The manifest's own scope, so that the checks after the scope's are reached too.
        guard let scope = parsed?.scope ?? (try? SyncScope(network: "fuzz", environment: "fuzz")) else { return }
        let verifier = SyncVerifier(signatures: AcceptingSignatures(), digest: PrefixDigest(), scope: scope)
        if let bundle = try? SignedBundle(decoding: bytes) {
            _ = try? verifier.table(from: bundle, versionInService: nil)
        }
        for inService in [nil, 0, 1, UInt64.max] as [UInt64?] {
            guard let m = try? verifier.verify(envelope: envelope, body: body, versionInService: inService) else {
                continue
            }
            _ = try? DeltaBody(decoding: body, verifiedBy: m)
        }
    }
}

extension FuzzTarget {
    /// Issuer-key documents (issue 17.3): `IssuerKeyDocument(canonical:)` with a round trip, then
    /// `SyncVerifier.verifyIssuerKeys` of the input as a sealed document (signature accepted, so
    /// the scope, time and rollback checks are reached) at a few clocks and held versions.
    static let issuerKeyDocument = FuzzTarget(
        "issuer-key-document", "IssuerKeyDocument parsing and SyncVerifier.verifyIssuerKeys"
    ) { bytes in
        let parsed = try? IssuerKeyDocument(canonical: bytes.dropLast(SyncManifest.signatureSize))
        if let d = parsed {
            fuzzCheck((try? IssuerKeyDocument(canonical: d.canonicalBytes)) == d, "issuer keys do not round-trip")
        }
        guard let scope = parsed?.scope ?? (try? SyncScope(network: "fuzz", environment: "fuzz")) else { return }
        let verifier = SyncVerifier(signatures: AcceptingSignatures(), digest: PrefixDigest(), scope: scope)
        for now in [0, parsed?.issuedAtMillis ?? 1, Int64.max, Int64.min] {
            for held in [nil, parsed] as [IssuerKeyDocument?] {
                if let d = try? verifier.verifyIssuerKeys(bytes, nowMillis: now, held: held) {
                    fuzzCheck(held.map { d.version >= $0.version } ?? true, "issuer keys rolled back")
                }
            }
        }
    }
}

/// Accepts every signature (the fuzzer cannot forge Ed25519; what follows the check is the target).
struct AcceptingSignatures: ManifestSignatureVerifier {
    func isValidSignature(_ signature: [UInt8], of message: [UInt8]) -> Bool { true }
}

/// A stand-in digest the fuzzer can match: the body's first 32 bytes, zero-padded.
struct PrefixDigest: BodyDigest {
    func sha256(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        Array(bytes.prefix(32)) + [UInt8](repeating: 0, count: max(0, 32 - bytes.count))
    }
}
