/// How a gate brings its table up to date from central state.
///
/// Two modes:
/// - **signed** (production): the gate pins the offline root key (its `SyncVerifier` checks
///   signatures with a `PublicationKeyRing`: the online keys of the newest root-signed key set) or,
///   legacy, one central Ed25519 public key, and takes only signed publications: a chain of one-version deltas after the version in service, or the newest
///   snapshot when it has no table, when the chain has a gap, or when it is too far behind. Every
///   manifest is checked (signature, size, hash, newer than in service, a delta starting exactly
///   at the version in service) before anything touches the table; one bad link refuses the
///   whole update and the table in service stays.
/// - **trusted** (a local SQLite file on a bench, no key configured): the whole table is reloaded
///   when the store's data version moves.
///
/// Decision logic over a store; the sync thread runs it and puts the outcome in service.
public struct GateSync: Sendable {
    public enum Mode: Sendable {
        case signed(SyncVerifier)
        case trusted
    }

    public var mode: Mode
    /// Longest delta chain fetched in one sync; beyond that the gate takes a snapshot.
    public var maxDeltaChain: Int = 10_000

    public init(mode: Mode) { self.mode = mode }

    /// What one sync does to the table.
    public enum Outcome: Sendable {
        /// Nothing newer was published: the table in service is current.
        case current
        /// A whole new table to put in service, how it was obtained, and (signed mode) the signed
        /// publications it was built from, for the gate to keep beside its local table.
        case replace(CompactStatusTable, how: String, basis: SignedBasis?)
        /// Changes to apply to the table in service, reaching `version`, and (signed mode) the
        /// verified deltas they came from.
        case apply([StatusChange], version: UInt64, how: String, deltas: [SignedPublication])
    }

    static func changes(_ bodies: [DeltaBody]) -> [StatusChange] {
        var out: [StatusChange] = []
        out.reserveCapacity(bodies.reduce(0) { $0 + $1.entries.count })
        for b in bodies {
            for e in b.entries {
                switch e.operation {
                case .upsert(let s): out.append(StatusChange(key: e.key, status: s))
                case .remove: out.append(StatusChange(key: e.key, status: nil))
                }
            }
        }
        return out
    }

    /// Brings `inService` up to date from `store`. Throws on a store failure or a publication
    /// that does not verify; the caller then keeps `inService`.
    ///
    /// `rebaseFloor` (signed mode, a table in service): the table must be rebuilt from central's
    /// newest snapshot and the deltas after it, verified with the keys in force, reaching at least
    /// that version, whatever the version in service (`PublicationKeyRing`: after a key that
    /// signed the table was revoked, with the version in service as floor; after an epoch reset,
    /// with the key set's floor).
    public func update(from store: any CentralStore, inService: (any CardStatusLookup)?, rebaseFloor: UInt64? = nil)
        throws(SyncError) -> Outcome
    {
        switch mode {
        case .trusted:
            return try trustedReload(store, inService)
        case .signed(let verifier):
            guard let pubs = store as? any PublicationStore else {
                throw .store(CentralStoreError(.refused, "this central store keeps no signed publications"))
            }
            if let rebaseFloor, inService != nil { return try rebase(pubs, verifier, floor: rebaseFloor) }
            return try signedUpdate(pubs, verifier, inService)
        }
    }

    /// A new table from the newest snapshot and the deltas after it that verify (all or none),
    /// reaching at least `floor`.
    func rebase(_ store: any PublicationStore, _ verifier: SyncVerifier, floor: UInt64) throws(SyncError) -> Outcome {
        let snapshot: SignedPublication?
        do { snapshot = try store.latestSnapshot() } catch { throw .store(error) }
        guard let snapshot else { throw .store(CentralStoreError(.unavailable, "no signed snapshot published yet")) }
        var publications = [snapshot]
        if let chain = try? store.deltas(after: snapshot.manifest.toVersion, limit: maxDeltaChain), !chain.isEmpty,
            (try? verifier.verifiedDeltas(chain, versionInService: snapshot.manifest.toVersion)) != nil
        {
            publications += chain
        }
        do {
            let (table, basis) = try verifier.table(from: SignedBundle(publications), versionInService: floor)
            return .replace(
                table,
                how:
                    "rebuilt under the keys in force from a snapshot and \(basis.deltas.count) delta(s), version \(table.dataVersion)",
                basis: basis)
        } catch {
            throw .verification(error)
        }
    }

    func trustedReload(_ store: any CentralStore, _ inService: (any CardStatusLookup)?) throws(SyncError) -> Outcome {
        do {
            let version = try store.dataVersion()
            if let inService, inService.dataVersion == version { return .current }
            var entries: [(CardKey, CardStatus)] = []
            let loaded = try store.forEachStatus { entries.append(($0, $1)) }
            return .replace(
                CompactStatusTable(dataVersion: loaded, pairs: entries), how: "full reload of \(entries.count) cards",
                basis: nil)
        } catch {
            throw .store(error)
        }
    }

    func signedUpdate(_ store: any PublicationStore, _ verifier: SyncVerifier, _ inService: (any CardStatusLookup)?)
        throws(SyncError) -> Outcome
    {
        if let current = inService {
            let chain: [SignedPublication]
            let lastSigned: UInt64
            do {
                chain = try store.deltas(after: current.dataVersion, limit: maxDeltaChain)
                lastSigned = try store.lastSignedVersion()
            } catch {
                throw .store(error)
            }
            var reached = current.dataVersion
            var bodies: [DeltaBody] = []
            if !chain.isEmpty {
                do { bodies = try verifier.verifiedDeltas(chain, versionInService: current.dataVersion) } catch {
                    throw .verification(error)
                }
                reached = bodies.last?.toVersion ?? reached
            }
            // Up to date when nothing newer is signed; otherwise the chain had a gap or was cut
            // short: a snapshot brings the gate forward.
            if reached >= lastSigned {
                guard !bodies.isEmpty else { return .current }
                return .apply(
                    Self.changes(bodies), version: reached, how: "\(bodies.count) delta(s) to version \(reached)",
                    deltas: chain)
            }
        }
        let snapshot: SignedPublication?
        do { snapshot = try store.latestSnapshot() } catch { throw .store(error) }
        guard let snapshot else { throw .store(CentralStoreError(.unavailable, "no signed snapshot published yet")) }
        let body: DeltaBody
        do {
            let m = try verifier.verify(
                envelope: snapshot.envelope, body: snapshot.body, versionInService: inService?.dataVersion,
                expecting: .snapshot)
            body = try DeltaBody(decoding: snapshot.body, verifiedBy: m)
        } catch {
            throw .verification(error)
        }
        var table = CompactStatusTable(
            dataVersion: body.toVersion,
            pairs: Self.changes([body]).compactMap { c in
                c.status.map { (c.key, $0) }
            })
        var how = "snapshot of \(table.count) cards at version \(body.toVersion)"
        var basis = SignedBasis(snapshot: snapshot, deltas: [])
        // Deltas signed after the snapshot bring it the rest of the way (all verified, or none).
        if let chain = try? store.deltas(after: table.dataVersion, limit: maxDeltaChain), !chain.isEmpty,
            let bodies = try? verifier.verifiedDeltas(chain, versionInService: table.dataVersion),
            let last = bodies.last
        {
            table = table.applying(Self.changes(bodies), dataVersion: last.toVersion)
            how += ", then \(bodies.count) delta(s) to version \(last.toVersion)"
            basis.deltas = chain
        }
        return .replace(table, how: how, basis: basis)
    }
}

/// Why a sync changed nothing.
public enum SyncError: Error, CustomStringConvertible, Sendable {
    case store(CentralStoreError)
    case verification(SyncVerificationError)

    public var description: String {
        switch self {
        case .store(let e): e.description
        case .verification(let e): "publication refused: \(e)"
        }
    }
}
