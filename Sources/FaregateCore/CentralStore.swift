/// An error from the central store: a stable code, a message an operator understands, and the
/// underlying cause (the database's own message) when there is one.
public struct CentralStoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The store cannot be opened or reached.
        public static let unavailable = Code(rawValue: "unavailable")
        /// The store's content is damaged or not a faregate store.
        public static let corrupt = Code(rawValue: "corrupt")
        /// The store's schema is newer or older than this build understands.
        public static let schemaMismatch = Code(rawValue: "schema_mismatch")
        /// A query failed.
        public static let queryFailed = Code(rawValue: "query_failed")
        /// A request broke a rule of the data (duplicate binding, unknown card, …).
        public static let refused = Code(rawValue: "refused")
    }

    public var code: Code
    public var message: String
    public var cause: String?

    public init(_ code: Code, _ message: String, cause: String? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        "central store \(code.rawValue): \(message)" + (cause.map { " (\($0))" } ?? "")
    }
}

/// What the gate needs from central state: the status table and a place for its journal.
///
/// Implementations (SQLite file, PostgreSQL) are not required to be thread-safe: the gate's sync
/// thread owns its store connection.
public protocol CentralStore: AnyObject {
    /// The latest published data version.
    func dataVersion() throws(CentralStoreError) -> UInt64

    /// Streams every card key and its status to `body`; returns the data version they form.
    func forEachStatus(_ body: (CardKey, CardStatus) -> Void) throws(CentralStoreError) -> UInt64

    /// Stores journal entries of `gate`; an entry stored before with the same bytes is ignored
    /// (idempotent upload). One that differs from the record stored for its (gate, sequence) is
    /// never dropped silently: it goes to the conflicts an operator reviews
    /// (`journalConflicts`), and the acknowledgement stops below it.
    func uploadJournal(gate: String, entries: [JournalEntry]) throws(CentralStoreError)

    /// Stores a signed batch of a gate's journal (issue 16.5): verified with the key registered
    /// for `batch.gate` (`JournalBatchCheck`: signature, key state, chain, structure), then its
    /// lines stored byte for byte, its holes recorded and its rejected lines flagged, in one
    /// transaction, as `uploadJournal` and `recordHoles` do. A batch that does not verify stores
    /// nothing: it is recorded as a refusal an operator sees (`journalRefusals`) and thrown as a
    /// `.refused` error, so the acknowledgement does not move.
    func uploadSignedJournal(_ batch: SignedJournalBatch) throws(CentralStoreError)

    /// Records holes of `gate`: sequences the gate handed out but cannot produce any more (a
    /// damaged line, a lost journal tail). A sequence stored as a record already stays as it is
    /// (the hole only says the gate lost its copy); the others are stored as holes, which count
    /// for the acknowledgement and are listed for an operator (`journalHoles`).
    func recordHoles(gate: String, ranges: [ClosedRange<UInt64>], reason: String) throws(CentralStoreError)

    /// The highest sequence of `gate` such that every entry 1...n is stored centrally (as a
    /// record or a hole), and below any unresolved conflict of the gate.
    func acknowledgedSequence(gate: String) throws(CentralStoreError) -> UInt64

    /// Records that `gate` synced at `wallMillis` and has `dataVersion` in service, so that
    /// `farectl central gates` shows each gate's last sync and data lag.
    func recordSync(gate: String, dataVersion: UInt64, wallMillis: Int64) throws(CentralStoreError)

    /// The highest sequence stored for `gate` (a record or a hole); 0 when none. The gate asks
    /// at start and numbers after it, so a gate whose local state was lost never reuses one.
    func highestSequence(gate: String) throws(CentralStoreError) -> UInt64
}

/// A sequence a gate reported lost (`CentralStore.recordHoles`), as an operator sees it.
public struct JournalHole: Hashable, Sendable, Encodable {
    public var gate: String
    public var sequence: UInt64
    public var reason: String
    public var notedMillis: Int64

    public init(gate: String, sequence: UInt64, reason: String, notedMillis: Int64) {
        self.gate = gate
        self.sequence = sequence
        self.reason = reason
        self.notedMillis = notedMillis
    }
}

/// A record offered for a (gate, sequence) that central already holds with other bytes: kept,
/// never acknowledged, for an operator to decide.
public struct JournalConflict: Hashable, Sendable, Encodable {
    public var gate: String
    public var sequence: UInt64
    /// The record stored first (`hole` when the sequence was stored as a hole).
    public var storedRecord: String
    public var offeredRecord: String
    public var seenMillis: Int64

    public init(gate: String, sequence: UInt64, storedRecord: String, offeredRecord: String, seenMillis: Int64) {
        self.gate = gate
        self.sequence = sequence
        self.storedRecord = storedRecord
        self.offeredRecord = offeredRecord
        self.seenMillis = seenMillis
    }
}

/// A journal batch or line central refused (issue 16.5), as an operator sees it: a batch that did
/// not verify (`code` from `JournalBatchRefusal.Code`), or a line the gate reported it did not
/// write (`line_not_authentic`). Never a record, never acknowledged.
public struct JournalRefusal: Hashable, Sendable, Encodable {
    public var gate: String
    public var code: String
    public var message: String
    /// The sequences the refused batch covered (`a-b`), or the line's claimed sequence; "" if none.
    public var sequences: String
    /// The refused line, or the first line of the refused batch (as offered).
    public var sample: String
    public var times: Int
    public var seenMillis: Int64

    public init(
        gate: String, code: String, message: String, sequences: String, sample: String, times: Int, seenMillis: Int64
    ) {
        self.gate = gate
        self.code = code
        self.message = message
        self.sequences = sequences
        self.sample = sample
        self.times = times
        self.seenMillis = seenMillis
    }

    /// The code of a line a gate reported failing its own MAC.
    public static let lineNotAuthentic = "line_not_authentic"

    /// What a store writes for one refusal (its row's fields but the gate and the counters): the
    /// same for every store, so it is decided here and the stores only persist it.
    public struct Note: Hashable, Sendable {
        public var code: String
        public var message: String
        public var sequences: String
        public var sample: String

        /// A batch that did not verify: its sequence range and its first line (or reported line).
        public init(refusing refusal: JournalBatchRefusal, batch: SignedJournalBatch?) {
            code = refusal.code.rawValue
            message = refusal.message
            sequences = batch?.range.map { "\($0.lowerBound)-\($0.upperBound)" } ?? ""
            sample = batch?.lines.first ?? batch?.rejected.first ?? ""
        }

        /// An unsigned upload covering `sequences` for a gate that has a journal key.
        public init(unsigned refusal: JournalBatchRefusal, sequences: String) {
            code = refusal.code.rawValue
            message = refusal.message
            self.sequences = sequences
            sample = ""
        }

        /// A line the gate reported it did not write; `sequences` is the sequence it claims (its
        /// second field, at most 20 characters).
        public init(notAuthenticLine line: String) {
            let claimed = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
            code = JournalRefusal.lineNotAuthentic
            message = "a line in the gate's journal that the gate did not write (it fails the gate's MAC)"
            sequences = claimed.count > 1 ? String(claimed[1].prefix(20)) : ""
            sample = line
        }
    }

    /// The reason central stores for a hole a signed batch declares.
    public static let signedHoleReason = "damaged, missing or not written by the gate (signed by the gate)"
}

/// A gate's journal key as central holds it (`farectl central gate-keys`).
public struct GateJournalKeyRecord: Hashable, Sendable, Encodable {
    public var gate: String
    public var publicKeyHex: String
    /// `active` or `revoked`.
    public var state: String
    /// `registered` (by an operator) or `first_use` (enrolled by the gate's first signed batch).
    public var origin: String
    public var addedMillis: Int64

    public init(gate: String, publicKeyHex: String, state: String, origin: String, addedMillis: Int64) {
        self.gate = gate
        self.publicKeyHex = publicKeyHex
        self.state = state
        self.origin = origin
        self.addedMillis = addedMillis
    }
}

/// Registration of gates' journal keys (operators; on PostgreSQL admin and office only).
public protocol GateKeyStore: AnyObject {
    /// Registers `publicKey` as an active key of `gate`; a key once revoked stays revoked
    /// (refused), and a key registered for another gate is refused.
    func addGateKey(gate: String, publicKey: [UInt8]) throws(CentralStoreError)
    /// Revokes a key of `gate`: batches signed with it are refused from now on.
    func revokeGateKey(gate: String, publicKey: [UInt8]) throws(CentralStoreError)
    func gateKeys(gate: String?) throws(CentralStoreError) -> [GateJournalKeyRecord]
}

/// What an operator reviews of the journals: holes and conflicts (issue 16.5, 16.6).
public protocol JournalReviewStore: AnyObject {
    /// The stored bytes of the record of (`gate`, `sequence`); nil when there is none.
    func storedRecord(gate: String, sequence: UInt64) throws(CentralStoreError) -> String?
    /// Refused batches and lines, by gate and time; `gate` nil: every gate.
    func journalRefusals(gate: String?) throws(CentralStoreError) -> [JournalRefusal]
    /// Holes, by gate and sequence; `gate` nil: every gate.
    func journalHoles(gate: String?) throws(CentralStoreError) -> [JournalHole]
    /// Conflicting records, by gate and sequence; `gate` nil: every gate.
    func journalConflicts(gate: String?) throws(CentralStoreError) -> [JournalConflict]
}
