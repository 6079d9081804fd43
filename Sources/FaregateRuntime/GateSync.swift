import FaregateCore

/// How a gate brings its table up to date from central state.
///
/// Two modes:
/// - **signed** (production): the gate pins the central Ed25519 public key and takes only signed
///   publications: a chain of one-version deltas after the version in service, or the newest
///   snapshot when it has no table, when the chain has a gap, or when it is too far behind. Every
///   manifest is checked (signature, size, hash, newer than in service, a delta starting exactly
///   at the version in service) before anything touches the table; one bad link refuses the
///   whole update and the table in service stays.
/// - **trusted** (a local SQLite file on a bench, no key configured): the whole table is reloaded
///   when the store's data version moves.
///
/// Pure decision logic over a store and a table builder; the sync thread runs it.
public struct GateSync: Sendable {
    public enum Mode: Sendable {
        case signed(SyncVerifier)
        case trusted
    }

    public var mode: Mode
    /// Longest delta chain fetched in one sync; beyond that the gate takes a snapshot.
    public var maxDeltaChain: Int = 10_000
    public let builder: any StatusTableBuilder

    public init(mode: Mode, builder: any StatusTableBuilder) {
        self.mode = mode
        self.builder = builder
    }

    /// What one sync did to the table.
    public enum Outcome: Sendable {
        /// Nothing newer was published: the table in service is current.
        case current
        /// A new table to put in service, and how it was obtained.
        case updated(any CardStatusLookup, how: String)
    }

    /// Brings `inService` up to date from `store`. Throws on a store failure or a publication
    /// that does not verify; the caller then keeps `inService`.
    public func update(from store: any CentralStore, inService: (any CardStatusLookup)?) throws(SyncError) -> Outcome {
        switch mode {
        case .trusted:
            return try trustedReload(store, inService)
        case .signed(let verifier):
            guard let pubs = store as? any PublicationStore else {
                throw .store(CentralStoreError(.refused, "this central store keeps no signed publications"))
            }
            return try signedUpdate(pubs, verifier, inService)
        }
    }

    func trustedReload(_ store: any CentralStore, _ inService: (any CardStatusLookup)?) throws(SyncError) -> Outcome {
        do {
            let version = try store.dataVersion()
            if let inService, inService.dataVersion == version { return .current }
            var entries: [(CardKey, CardStatus)] = []
            let loaded = try store.forEachStatus { entries.append(($0, $1)) }
            return .updated(
                builder.build(version: loaded, entries: entries), how: "full reload of \(entries.count) cards")
        } catch {
            throw .store(error)
        }
    }

    func signedUpdate(_ store: any PublicationStore, _ verifier: SyncVerifier, _ inService: (any CardStatusLookup)?)
        throws(SyncError) -> Outcome
    {
        var table = inService
        var how: [String] = []
        if let current = table {
            let chain: [SignedPublication]
            let lastSigned: UInt64
            do {
                chain = try store.deltas(after: current.dataVersion, limit: maxDeltaChain)
                lastSigned = try store.lastSignedVersion()
            } catch {
                throw .store(error)
            }
            if !chain.isEmpty {
                let bodies: [DeltaBody]
                do { bodies = try verifier.verifiedDeltas(chain, versionInService: current.dataVersion) } catch {
                    throw .verification(error)
                }
                table = builder.apply(bodies, to: current)
                how.append("\(bodies.count) delta(s) to version \(bodies.last?.toVersion ?? current.dataVersion)")
            }
            // Up to date when nothing newer is signed; otherwise the chain had a gap or was cut:
            // fall through to a snapshot.
            let reached = table?.dataVersion ?? current.dataVersion
            if reached >= lastSigned {
                guard let table, !how.isEmpty else { return .current }
                return .updated(table, how: how.joined(separator: ", "))
            }
        }
        let snapshot: SignedPublication?
        do { snapshot = try store.latestSnapshot() } catch { throw .store(error) }
        guard let snapshot else {
            if let table, !how.isEmpty { return .updated(table, how: how.joined(separator: ", ")) }
            throw .store(CentralStoreError(.unavailable, "no signed snapshot published yet"))
        }
        let body: DeltaBody
        do {
            let m = try verifier.verify(
                envelope: snapshot.envelope, body: snapshot.body, versionInService: table?.dataVersion,
                expecting: .snapshot)
            body = try DeltaBody(decoding: snapshot.body, verifiedBy: m)
        } catch {
            if let table, !how.isEmpty { return .updated(table, how: how.joined(separator: ", ")) }
            throw .verification(error)
        }
        var entries: [(CardKey, CardStatus)] = []
        entries.reserveCapacity(body.entries.count)
        for e in body.entries {
            if case .upsert(let s) = e.operation { entries.append((e.key, s)) }
        }
        var fresh: any CardStatusLookup = builder.build(version: body.toVersion, entries: entries)
        how.append("snapshot of \(entries.count) cards at version \(body.toVersion)")
        // Deltas signed after the snapshot bring it the rest of the way.
        if let chain = try? store.deltas(after: fresh.dataVersion, limit: maxDeltaChain), !chain.isEmpty,
            let bodies = try? verifier.verifiedDeltas(chain, versionInService: fresh.dataVersion)
        {
            fresh = builder.apply(bodies, to: fresh)
            how.append("\(bodies.count) delta(s) to version \(fresh.dataVersion)")
        }
        return .updated(fresh, how: how.joined(separator: ", "))
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

/// Builds immutable status tables (the structure the gate looks cards up in).
public protocol StatusTableBuilder: Sendable {
    /// A table of `entries` (any order; a key given twice keeps the last) at `version`.
    func build(version: UInt64, entries: [(CardKey, CardStatus)]) -> any CardStatusLookup
    /// A new table: `table` with `deltas` applied in order; its version is the last delta's.
    func apply(_ deltas: [DeltaBody], to table: any CardStatusLookup) -> any CardStatusLookup
}

/// Builds `DictionaryStatusTable`s: the simple reference implementation.
public struct DictionaryTableBuilder: StatusTableBuilder {
    public init() {}

    public func build(version: UInt64, entries: [(CardKey, CardStatus)]) -> any CardStatusLookup {
        DictionaryStatusTable(dataVersion: version, entries: Dictionary(entries, uniquingKeysWith: { $1 }))
    }

    public func apply(_ deltas: [DeltaBody], to table: any CardStatusLookup) -> any CardStatusLookup {
        guard let base = table as? DictionaryStatusTable else {
            preconditionFailure("DictionaryTableBuilder applies deltas to its own tables only")
        }
        var entries = base.entries
        for d in deltas { d.apply(to: &entries) }
        return DictionaryStatusTable(dataVersion: deltas.last?.toVersion ?? base.dataVersion, entries: entries)
    }
}
