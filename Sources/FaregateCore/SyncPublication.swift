/// A publication as it travels to a gate: the sealed manifest (canonical bytes + Ed25519
/// signature) and the body it describes.
public struct SignedPublication: Sendable {
    public var manifest: SyncManifest
    /// `SyncManifest.sealedSize` bytes: what the gate passes to `SyncVerifier.verify(envelope:…)`.
    public var envelope: [UInt8]
    public var body: [UInt8]

    public init(manifest: SyncManifest, envelope: [UInt8], body: [UInt8]) {
        self.manifest = manifest
        self.envelope = envelope
        self.body = body
    }

    /// Seals `body` as a publication of `kind` spanning `from`→`to`, for `scope`.
    public init(
        kind: SyncManifest.Kind, from: UInt64, to: UInt64, body: [UInt8], scope: SyncScope,
        signer: some ManifestSigner, digest: some BodyDigest
    ) {
        let hash = body.withUnsafeBytes { digest.sha256($0) }
        let m = SyncManifest(
            kind: kind, fromVersion: from, toVersion: to, bodySize: UInt64(body.count), bodySHA256: hash,
            scope: scope)
        self.init(manifest: m, envelope: m.sealed(by: signer), body: body)
    }
}

/// The central side of sync: builds signed snapshots and deltas from a store.
///
/// Whoever serves gates (the sync endpoint, or the gate's own sync thread when it reads the
/// central store directly) calls these; the gate checks the result with `SyncVerifier`.
public enum SyncPublisher {
    /// A signed delta from `version` to the store's current version. Nil when there is nothing newer
    /// or when the gate is more than `maxChanges` card changes behind; tell the two apart with
    /// `store.dataVersion()` (newer version available and nil here: take a snapshot).
    public static func delta(
        from store: some CentralAdminStore, after version: UInt64, maxChanges: Int, scope: SyncScope,
        signer: some ManifestSigner, digest: some BodyDigest
    ) throws(CentralStoreError) -> SignedPublication? {
        guard let set = try store.changes(after: version, maxChanges: maxChanges), set.toVersion > version else {
            return nil
        }
        return SignedPublication(
            kind: .delta, from: version, to: set.toVersion, body: set.delta.encoded(), scope: scope, signer: signer,
            digest: digest)
    }

    /// A signed snapshot of every card, by default in the delta wire format with `fromVersion` 0
    /// and every card an upsert (sorted by key). `encode` lets a caller use another table format;
    /// it receives the cards sorted by key and the version they form.
    public static func snapshot(
        from store: some CentralStore, scope: SyncScope, signer: some ManifestSigner, digest: some BodyDigest,
        encode: ([(CardKey, CardStatus)], UInt64) -> [UInt8] = Self.deltaFormatSnapshot
    ) throws(CentralStoreError) -> SignedPublication {
        var cards: [(CardKey, CardStatus)] = []
        let version = try store.forEachStatus { cards.append(($0, $1)) }
        cards.sort { $0.0 < $1.0 }
        return SignedPublication(
            kind: .snapshot, from: 0, to: version, body: encode(cards, version), scope: scope, signer: signer,
            digest: digest)
    }

    public static func deltaFormatSnapshot(_ cards: [(CardKey, CardStatus)], _ version: UInt64) -> [UInt8] {
        DeltaBody(
            fromVersion: 0, toVersion: version,
            entries: cards.map { DeltaBody.Entry(key: $0.0, operation: .upsert($0.1)) }
        ).encoded()
    }
}

extension DeltaBody {
    /// Applies the entries to a dictionary-shaped table (for tests and simple callers; the gate's
    /// own table applies `entries` the same way: upsert sets, remove deletes).
    public func apply(to table: inout [CardKey: CardStatus]) {
        for e in entries {
            switch e.operation {
            case .upsert(let s): table[e.key] = s
            case .remove: table[e.key] = nil
            }
        }
    }
}
