/// Where signed publications wait for gates. The central publisher (which holds the Ed25519 secret
/// key) signs each new data version as a one-version delta, and from time to time a snapshot;
/// gates hold only the public key and fetch what is stored here.
///
/// Signed content is deterministic (canonical body, Ed25519 signatures are deterministic), so two
/// publishers signing the same version store identical rows and the store keeps one.
public protocol PublicationStore: CentralAdminStore {
    // Bodies past `PublicationLimits.maxBodyBytes` are never read (checked in SQL first).
    /// Stores a signed publication; an existing delta with the same `toVersion` is kept. A stored
    /// snapshot replaces older snapshots and one at the same version (signed again, by a new key).
    func storePublication(_ p: SignedPublication) throws(CentralStoreError)
    /// Stored deltas in version order, starting with the one from `version`, at most `limit`,
    /// stopping at the first gap.
    func deltas(after version: UInt64, limit: Int) throws(CentralStoreError) -> [SignedPublication]
    /// The newest stored snapshot.
    func latestSnapshot() throws(CentralStoreError) -> SignedPublication?
    /// The highest version with a stored delta (0 when none).
    func lastSignedVersion() throws(CentralStoreError) -> UInt64
    /// Replaces the stored timestamp statement (`SyncTimestamp`, sealed).
    func storeTimestamp(_ sealed: [UInt8]) throws(CentralStoreError)
    /// The stored timestamp statement, sealed; nil before the first.
    func latestTimestamp() throws(CentralStoreError) -> [UInt8]?
    /// Deletes every stored publication and the timestamp statement (compromise recovery:
    /// `farectl central keys reset-epoch`; the next `central publish --snapshot` with the new key
    /// signs every version again). Card data and the change log are untouched.
    func discardPublications() throws(CentralStoreError)
    /// Stores a root-signed key set (`PublicationKeySet`, sealed) as `version`; the store keeps
    /// every version (an audit trail) and refuses a second one with the same version.
    func storeKeySet(_ sealed: [UInt8], version: UInt64) throws(CentralStoreError)
    /// The sealed key set with the highest version; nil before the first. Gates fetch it at
    /// every sync and verify it with the pinned root key.
    func latestKeySet() throws(CentralStoreError) -> [UInt8]?
}

/// Limits every publication store keeps (see `PublicationStore`).
public enum PublicationLimits {
    /// The largest publication body a store hands out: 256 MiB (the 30M-card snapshot is about
    /// 250 MB). The length is checked in SQL before the body is fetched, so a huge row is refused
    /// without being read (issue 16.6: a 400 MB row used to be read whole first).
    public static let maxBodyBytes = 256 << 20

    /// The error for a stored body past `maxBodyBytes`.
    public static func tooLarge(kind: SyncManifest.Kind, bytes: Int64) -> CentralStoreError {
        CentralStoreError(
            .refused,
            "stored \(kind) publication body of \(bytes) bytes is past the \(maxBodyBytes >> 20) MiB limit; not read")
    }
}

extension SyncPublisher {
    /// Signs every published version not yet signed, as one delta per version, and stores them.
    /// Returns the versions signed. Run after `publish` by whoever holds the signing key.
    @discardableResult
    public static func signNewVersions(
        in store: some PublicationStore, scope: SyncScope, signer: some ManifestSigner, digest: some BodyDigest
    ) throws(CentralStoreError) -> [UInt64] {
        let last = try store.lastSignedVersion()
        guard let set = try store.changes(after: last, maxChanges: Int.max), set.toVersion > last else { return [] }
        var byVersion: [UInt64: [CardChange]] = [:]
        for c in set.changes { byVersion[c.version, default: []].append(c) }
        var signed: [UInt64] = []
        for v in (last + 1)...set.toVersion {
            // Every published version has at least one change row; an empty one would still be
            // signed so the chain has no gap.
            let delta = ChangeSet(fromVersion: v - 1, toVersion: v, changes: byVersion[v] ?? []).delta
            try store.storePublication(
                SignedPublication(
                    kind: .delta, from: v - 1, to: v, body: delta.encoded(), scope: scope, signer: signer,
                    digest: digest))
            signed.append(v)
        }
        return signed
    }

    /// Signs and stores a snapshot of the current table.
    @discardableResult
    public static func storeSnapshot(
        in store: some PublicationStore, scope: SyncScope, signer: some ManifestSigner, digest: some BodyDigest
    ) throws(CentralStoreError) -> SyncManifest {
        let p = try snapshot(from: store, scope: scope, signer: signer, digest: digest)
        try store.storePublication(p)
        return p.manifest
    }
}

extension SyncPublisher {
    /// Signs and stores a timestamp statement: the newest signed version (delta or snapshot) is
    /// current as of `nowMillis`, believable for `validForMillis`. Run on a schedule by whoever
    /// holds the online key (`farectl central timestamp`, `hardware/faregate-timestamp.timer`).
    @discardableResult
    public static func storeTimestamp(
        in store: some PublicationStore, scope: SyncScope, signer: some ManifestSigner, nowMillis: Int64,
        validForMillis: Int64
    ) throws(CentralStoreError) -> SyncTimestamp {
        let version = max(try store.lastSignedVersion(), try store.latestSnapshot()?.manifest.toVersion ?? 0)
        let t = SyncTimestamp(
            scope: scope, version: version, issuedAtMillis: nowMillis,
            expiresAtMillis: nowMillis.addingReportingOverflow(validForMillis).overflow
                ? .max : nowMillis + validForMillis)
        try store.storeTimestamp(t.sealed(by: signer))
        return t
    }
}

extension SyncVerifier {
    /// Verifies a chain of stored deltas starting at `versionInService` and decodes them. All or
    /// nothing: if any link fails (signature, size, hash, version order), it throws and the gate
    /// keeps its table; otherwise the caller applies the bodies in order and has `last.toVersion`.
    public func verifiedDeltas(_ chain: [SignedPublication], versionInService: UInt64) throws(SyncVerificationError)
        -> [DeltaBody]
    {
        var version = versionInService
        var out: [DeltaBody] = []
        out.reserveCapacity(chain.count)
        for p in chain {
            let m = try verify(envelope: p.envelope, body: p.body, versionInService: version, expecting: .delta)
            out.append(try DeltaBody(decoding: p.body, verifiedBy: m))
            version = m.toVersion
        }
        return out
    }
}
