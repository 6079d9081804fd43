import Synchronization

/// The gate's trust in central's signatures under a pinned root key: the newest root-signed
/// `PublicationKeySet` it has verified, and the epoch its table in service was taken in.
///
/// It is the one place signatures of sync documents are checked (`ManifestSignatureVerifier`):
/// manifests, bundle publications and timestamp statements go through `checkSignature`, which
/// accepts a signature only by a listed, non-revoked key valid at the gate's wall time. Any
/// other signed document read over sync can go through it the same way.
///
/// Rules (README "Trust model"):
/// - a key set is taken only with a valid root signature, for this gate's scope, and with a
///   version not below the one held (equal: the same bytes, else refused); never rolled back;
/// - **epoch reset** (compromise recovery): a key set with a higher epoch than the one the table
///   in service was taken in voids that table's version ordering. The gate then takes central's
///   newest snapshot (and deltas after it) signed by keys of the current set, reaching at least
///   `epochFloor`, even if that is older than the version in service, exactly once: the new
///   table is marked as taken in the new epoch, after which versions only go forward again.
///   An attacker who held an online key and pushed gates to a huge version is undone that way;
///   only the root can raise the epoch.
///
/// Thread-safe (a `Mutex`); the sync thread adopts key sets, readers of the table verify.
public final class PublicationKeyRing: ManifestSignatureVerifier, Sendable {
    struct State {
        var keySet: PublicationKeySet?
        var sealed: [UInt8]?
        var verifiers: [UInt32: any ManifestSignatureVerifier] = [:]
        /// Keys of earlier sets no longer listed (to name a revoked key's signature as such).
        var former: [UInt32: any ManifestSignatureVerifier] = [:]
        var tableEpoch: UInt64 = 0
    }

    let root: any ManifestSignatureVerifier
    public let scope: SyncScope
    let verifierFor: @Sendable ([UInt8]) -> (any ManifestSignatureVerifier)?
    let wallMillis: @Sendable () -> Int64
    let state = Mutex(State())

    /// - Parameters:
    ///   - root: checks the pinned root key's signature.
    ///   - verifierFor: a signature checker for an online public key (nil for a malformed one).
    ///   - wallMillis: the gate's wall clock, for key validity windows.
    public init(
        root: any ManifestSignatureVerifier, scope: SyncScope,
        verifierFor: @escaping @Sendable ([UInt8]) -> (any ManifestSignatureVerifier)?,
        wallMillis: @escaping @Sendable () -> Int64
    ) {
        self.root = root
        self.scope = scope
        self.verifierFor = verifierFor
        self.wallMillis = wallMillis
    }

    /// The key set in force, nil before the first.
    public var keySet: PublicationKeySet? { state.withLock { $0.keySet } }
    /// Its sealed bytes (what the gate keeps beside its table).
    public var sealedKeySet: [UInt8]? { state.withLock { $0.sealed } }
    /// The epoch the table in service was taken in.
    public var tableEpoch: UInt64 { state.withLock { $0.tableEpoch } }

    /// Verifies a sealed key set (root signature, format, scope) without taking it.
    public func verifyKeySet(_ sealed: [UInt8]) throws(SyncVerificationError) -> PublicationKeySet {
        let (message, signature) = try PublicationKeySet.split(sealed)
        guard root.isValidSignature(signature, of: message) else {
            throw SyncVerificationError(.badSignature, "key set signature does not verify with the pinned root key")
        }
        let set = try PublicationKeySet(canonical: message)
        guard set.scope == scope else {
            throw SyncVerificationError(.wrongScope, "key set is for \(set.scope), this gate serves \(scope)")
        }
        return set
    }

    /// Takes `sealed` when it verifies and is not older than the key set held; returns whether
    /// the key set in force changed. A lower version is refused (`.rolledBack`), as is a second,
    /// different key set with the held version.
    @discardableResult
    public func adopt(_ sealed: [UInt8]) throws(SyncVerificationError) -> Bool {
        let set = try verifyKeySet(sealed)
        var verifiers: [UInt32: any ManifestSignatureVerifier] = [:]
        for k in set.keys {
            guard let v = verifierFor(k.publicKey) else {
                throw SyncVerificationError(
                    .malformed, "key \(PublicationKeySet.hex(k.keyID)) is not a valid public key")
            }
            verifiers[k.keyID] = v
        }
        return try state.withLock { s throws(SyncVerificationError) -> Bool in
            if let held = s.keySet {
                guard set.version >= held.version else {
                    throw SyncVerificationError(
                        .rolledBack, "key set version \(set.version) is older than \(held.version) held")
                }
                if set.version == held.version {
                    guard s.sealed == sealed else {
                        throw SyncVerificationError(
                            .malformed, "a different key set with the held version \(held.version)")
                    }
                    return false
                }
            }
            for (id, v) in s.verifiers where verifiers[id] == nil { s.former[id] = v }
            for id in verifiers.keys { s.former[id] = nil }
            s.keySet = set
            s.sealed = sealed
            s.verifiers = verifiers
            return true
        }
    }

    /// Restores the epoch the table in service was taken in (kept beside the table).
    public func restore(tableEpoch: UInt64) { state.withLock { $0.tableEpoch = tableEpoch } }

    /// After a table was put in service from a snapshot: it was taken in the current epoch.
    public func tableTakenInCurrentEpoch() {
        state.withLock { s in s.tableEpoch = s.keySet?.epoch ?? s.tableEpoch }
    }

    /// Non-nil when the key set in force has a higher epoch than the table in service was taken
    /// in: the version the gate's next table must reach (it may be below the one in service).
    public var rebaseFloor: UInt64? {
        state.withLock { s in
            guard let set = s.keySet, set.epoch > s.tableEpoch else { return nil }
            return set.epochFloor
        }
    }

    /// The id of the key that made `signature`, or why none may be believed.
    public func signer(of signature: [UInt8], message: [UInt8]) throws(SyncVerificationError) -> UInt32 {
        let now = wallMillis()
        let (set, verifiers, former) = state.withLock { ($0.keySet, $0.verifiers, $0.former) }
        guard let set else {
            throw SyncVerificationError(.noKeySet, "no root-signed key set verified yet (central publishes one)")
        }
        for k in set.keys {
            guard let v = verifiers[k.keyID], v.isValidSignature(signature, of: message) else { continue }
            guard k.isValid(atMillis: now) else {
                throw SyncVerificationError(
                    .keyNotValid,
                    "signed by key \(PublicationKeySet.hex(k.keyID)), valid \(k.validFromMillis)…\(k.validUntilMillis) ms, not at \(now)"
                )
            }
            return k.keyID
        }
        // Not by a listed key: say so precisely when it is a revoked one whose public key the
        // ring still knows from an earlier set (it is never believed either way).
        for (id, v) in former where v.isValidSignature(signature, of: message) {
            let hex = PublicationKeySet.hex(id)
            if set.revoked.contains(id) {
                throw SyncVerificationError(
                    .revokedKey, "signed by key \(hex), revoked in key set version \(set.version)")
            }
            throw SyncVerificationError(
                .keyNotValid, "signed by key \(hex), no longer in key set version \(set.version)")
        }
        throw SyncVerificationError(
            .badSignature, "signature is by no key of key set version \(set.version) (revoked, unknown or tampered)")
    }

    public func isValidSignature(_ signature: [UInt8], of message: [UInt8]) -> Bool {
        (try? signer(of: signature, message: message)) != nil
    }

    public func checkSignature(_ signature: [UInt8], of message: [UInt8], what: String)
        throws(SyncVerificationError)
    {
        do { _ = try signer(of: signature, message: message) } catch {
            throw SyncVerificationError(error.code, "\(what): \(error.message)")
        }
    }
}
