/// A card as the central administration describes it (import, demo populations).
public struct CentralCardRecord: Sendable {
    public var key: CardKey
    public var cardType: CardType
    public var blacklisted: Bool
    public var suspended: Bool
    public var returned: Bool
    /// Keyed hash of the bound identity's ID number, nil when unbound. Never the number itself.
    public var identityHash: [UInt8]?
    public var health: HealthStatus

    public init(
        key: CardKey, cardType: CardType, blacklisted: Bool = false, suspended: Bool = false,
        returned: Bool = false, identityHash: [UInt8]?, health: HealthStatus
    ) {
        self.key = key
        self.cardType = cardType
        self.blacklisted = blacklisted
        self.suspended = suspended
        self.returned = returned
        self.identityHash = identityHash
        self.health = health
    }
}

/// One published change: from `version` on, `key` has `status` (card-level publication: a health
/// change of an identity becomes one change per card bound to it).
public struct CardChange: Hashable, Sendable {
    public var version: UInt64
    public var key: CardKey
    public var status: CardStatus

    public init(version: UInt64, key: CardKey, status: CardStatus) {
        self.version = version
        self.key = key
        self.status = status
    }
}

/// The changes a gate needs to go from `fromVersion` to `toVersion`.
///
/// Contract: applying `changes` in order to a table that reflects every change up to
/// `fromVersion` yields a table that reflects every change up to `toVersion`. `toVersion` is the
/// data version read in the same database snapshot as the rows, so nothing committed at or below
/// it is left out, and nothing above it is included.
public struct ChangeSet: Sendable {
    public var fromVersion: UInt64
    public var toVersion: UInt64
    public var changes: [CardChange]

    public init(fromVersion: UInt64, toVersion: UInt64, changes: [CardChange]) {
        self.fromVersion = fromVersion
        self.toVersion = toVersion
        self.changes = changes
    }

    /// The delta body for the wire: the last status of each card, in key order.
    public var delta: DeltaBody {
        var last: [CardKey: CardStatus] = [:]
        for c in changes { last[c.key] = c.status }
        return DeltaBody(
            fromVersion: fromVersion, toVersion: toVersion,
            entries: last.keys.sorted().map {
                DeltaBody.Entry(key: $0, operation: .upsert(last[$0] ?? CardStatus(rawValue: 0)))
            })
    }
}

/// What one run of the publisher did.
public struct PublishResult: Sendable, Codable, Equatable {
    /// The data version after the run (unchanged when nothing was pending).
    public var version: UInt64
    /// Change rows written (one per card).
    public var cards: Int

    public init(version: UInt64, cards: Int) {
        self.version = version
        self.cards = cards
    }
}

/// What the central store knows about one gate's sync, for `farectl central gates`.
public struct GateSyncState: Sendable, Codable, Equatable {
    public var gate: String
    /// Wall-clock milliseconds of the last recorded sync; nil before the first.
    public var lastSyncMillis: Int64?
    /// Data version the gate last reported having in service.
    public var dataVersion: UInt64?
    /// Highest contiguous journal sequence stored centrally.
    public var acknowledgedSequence: UInt64
    /// Journal records stored for the gate.
    public var journalRecords: Int

    public init(
        gate: String, lastSyncMillis: Int64?, dataVersion: UInt64?, acknowledgedSequence: UInt64, journalRecords: Int
    ) {
        self.gate = gate
        self.lastSyncMillis = lastSyncMillis
        self.dataVersion = dataVersion
        self.acknowledgedSequence = acknowledgedSequence
        self.journalRecords = journalRecords
    }
}

/// The central store as the publisher, the sync server and the administration use it. Both
/// backends (SQLite file, PostgreSQL) implement it with the same semantics.
///
/// Writes (`insertCards`, `bind`, `setHealth`) record which cards changed; `publish` assigns the
/// next data version to everything recorded so far, in one serialized transaction, so versions
/// become visible in order and `changes(after:)` never skips a committed change.
public protocol CentralAdminStore: CentralStore {
    /// Inserts cards (with identities and bindings); existing keys are refused, whole batch rolled back.
    func insertCards(_ cards: some Sequence<CentralCardRecord>, wallMillis: Int64) throws(CentralStoreError)
    /// Binds `key` to the identity with `identityHash` (created when new). Permanent: a card that is
    /// already bound is refused.
    func bind(_ key: CardKey, identityHash: [UInt8], wallMillis: Int64) throws(CentralStoreError)
    /// Sets the health of the identity bound to `key`; returns how many cards that touches.
    @discardableResult
    func setHealth(of key: CardKey, to health: HealthStatus, wallMillis: Int64) throws(CentralStoreError) -> Int
    /// Sets the health of the identity with `identityHash`; returns how many cards are bound to it.
    @discardableResult
    func setHealth(identityHash: [UInt8], to health: HealthStatus, wallMillis: Int64) throws(CentralStoreError) -> Int
    /// Publishes every recorded change under one new data version.
    @discardableResult
    func publish(wallMillis: Int64) throws(CentralStoreError) -> PublishResult
    /// The changes after `version`, or nil when there are more than `maxChanges` rows (the gate
    /// is too far behind and should take a snapshot).
    func changes(after version: UInt64, maxChanges: Int) throws(CentralStoreError) -> ChangeSet?
    /// Every known gate's sync state.
    func gateStates() throws(CentralStoreError) -> [GateSyncState]
}
