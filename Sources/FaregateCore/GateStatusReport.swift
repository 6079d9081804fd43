/// A running gate's state as the control socket reports it (`farectl status`, and the answer to
/// `sync-now` and `mode`).
///
/// Encoded as flat snake_case fields (`Field`), the barrier's beside the gate's, so the JSON a
/// script reads is the table a person reads.
public struct GateStatusReport: Sendable, Hashable {
    public var gateID: String
    public var uptimeSeconds: Double
    public var taps: UInt64
    public var rejected: UInt64
    public var journalFailures: UInt64
    public var syncs: UInt64
    public var syncFailures: UInt64
    public var readerLosses: UInt64
    public var journalLastSequence: UInt64
    public var journalAcknowledged: UInt64
    public var tableCards: Int
    public var tableVersion: UInt64
    /// Seconds since the table in service was last verified against central state; nil when it
    /// never was (a table handed over, or with a pinned key no signed timestamp statement vouching for it).
    public var dataAgeSeconds: Double?
    public var lastSyncFailure: String?
    /// Nil on a gate without a barrier controller.
    public var barrier: Barrier?

    /// The barrier part: what `BarrierDriver.snapshot` says.
    public struct Barrier: Sendable, Hashable {
        /// `BarrierController.State`'s short name (`idle`, `alarm:tailgating`, …): for people.
        public var state: String
        public var mode: GateMode
        public var directions: DirectionMode
        public var enforcement: Enforcement
        public var passages: Int
        public var activeAlarm: AlarmKind?
        public var alarms: [AlarmKind: Int]
        /// False while the lane's I/O board does not answer (or not yet with the passage clear).
        public var boardOnline: Bool
        /// Why the lane is out of service, when it is (`BarrierDriver.Status.outOfServiceReason`:
        /// `io_board_lost` or `staff`); nil otherwise.
        public var outOfServiceReason: String?

        public init(
            state: String, mode: GateMode, directions: DirectionMode, enforcement: Enforcement, passages: Int,
            activeAlarm: AlarmKind?, alarms: [AlarmKind: Int], boardOnline: Bool = true,
            outOfServiceReason: String? = nil
        ) {
            self.boardOnline = boardOnline
            self.outOfServiceReason = outOfServiceReason
            self.state = state
            self.mode = mode
            self.directions = directions
            self.enforcement = enforcement
            self.passages = passages
            self.activeAlarm = activeAlarm
            self.alarms = alarms
        }
    }

    public init(
        gateID: String, uptimeSeconds: Double = 0, taps: UInt64 = 0, rejected: UInt64 = 0, journalFailures: UInt64 = 0,
        syncs: UInt64 = 0, syncFailures: UInt64 = 0, readerLosses: UInt64 = 0, journalLastSequence: UInt64 = 0,
        journalAcknowledged: UInt64 = 0, tableCards: Int = 0, tableVersion: UInt64 = 0, dataAgeSeconds: Double? = nil,
        lastSyncFailure: String? = nil, barrier: Barrier? = nil
    ) {
        self.gateID = gateID
        self.uptimeSeconds = uptimeSeconds
        self.taps = taps
        self.rejected = rejected
        self.journalFailures = journalFailures
        self.syncs = syncs
        self.syncFailures = syncFailures
        self.readerLosses = readerLosses
        self.journalLastSequence = journalLastSequence
        self.journalAcknowledged = journalAcknowledged
        self.tableCards = tableCards
        self.tableVersion = tableVersion
        self.dataAgeSeconds = dataAgeSeconds
        self.lastSyncFailure = lastSyncFailure
        self.barrier = barrier
    }

    /// The fields, in the order `farectl status` prints them; the raw value is the JSON key and
    /// the label a person reads.
    public enum Field: String, Sendable, CaseIterable {
        case gateID = "gate_id", uptimeSeconds = "uptime_s", taps, rejected
        case tableCards = "table_cards", tableVersion = "table_version", dataAgeSeconds = "data_age_s"
        case journalLastSequence = "journal_last_sequence", journalAcknowledged = "journal_acknowledged"
        case syncs, syncFailures = "sync_failures", journalFailures = "journal_failures"
        case readerLosses = "reader_losses", lastSyncFailure = "last_sync_failure"
        case barrierState = "barrier_state", barrierMode = "barrier_mode", barrierDirections = "barrier_directions"
        case barrierEnforcement = "barrier_enforcement", passages, alarm, alarms
        case boardOnline = "board_online", outOfServiceReason = "out_of_service_reason"

        var key: ControlKey { ControlKey(stringValue: rawValue) }
    }

    /// `field` as a person reads it; nil when the gate does not report it (no data age yet, no
    /// barrier).
    public func text(_ field: Field) -> String? {
        switch field {
        case .gateID: gateID
        case .uptimeSeconds: "\(uptimeSeconds)"
        case .taps: "\(taps)"
        case .rejected: "\(rejected)"
        case .tableCards: "\(tableCards)"
        case .tableVersion: "\(tableVersion)"
        case .dataAgeSeconds: dataAgeSeconds.map { "\($0)" }
        case .journalLastSequence: "\(journalLastSequence)"
        case .journalAcknowledged: "\(journalAcknowledged)"
        case .syncs: "\(syncs)"
        case .syncFailures: "\(syncFailures)"
        case .journalFailures: "\(journalFailures)"
        case .readerLosses: "\(readerLosses)"
        case .lastSyncFailure: lastSyncFailure
        case .barrierState: barrier?.state
        case .barrierMode: barrier?.mode.name
        case .barrierDirections: barrier?.directions.name
        case .barrierEnforcement: barrier?.enforcement.name
        case .passages: barrier.map { "\($0.passages)" }
        case .alarm: barrier?.activeAlarm?.name
        case .alarms:
            barrier.map { b in
                b.alarms.isEmpty
                    ? "none" : b.alarms.map { "\($0.key.name)=\($0.value)" }.sorted().joined(separator: ", ")
            }
        case .boardOnline: barrier.map { "\($0.boardOnline)" }
        case .outOfServiceReason: barrier?.outOfServiceReason
        }
    }
}

extension GateStatusReport: Codable {
    public init(from decoder: any Decoder) throws {
        let f = try ControlFields(decoder, what: "the status")
        func count(_ field: Field) throws(ControlFailure) -> UInt64 { try f.unsigned(field.rawValue) }
        gateID = try f.required(Field.gateID.rawValue, "a string")
        uptimeSeconds = try f.required(Field.uptimeSeconds.rawValue, "a number")
        taps = try count(.taps)
        rejected = try count(.rejected)
        journalFailures = try count(.journalFailures)
        syncs = try count(.syncs)
        syncFailures = try count(.syncFailures)
        readerLosses = try count(.readerLosses)
        journalLastSequence = try count(.journalLastSequence)
        journalAcknowledged = try count(.journalAcknowledged)
        tableCards = Int(clamping: try count(.tableCards))
        tableVersion = try count(.tableVersion)
        dataAgeSeconds = try f.optional(Field.dataAgeSeconds.rawValue, "a number")
        lastSyncFailure = try f.string(Field.lastSyncFailure.rawValue)
        guard f.has(Field.barrierState.rawValue) else {
            barrier = nil
            return
        }
        func need<T: NamedCase>(_ field: Field) throws(ControlFailure) -> T {
            guard let v: T = try f.named(field.rawValue) else {
                throw ControlFailure(.badRequest, "the status needs field '\(field.rawValue)'")
            }
            return v
        }
        var alarms: [AlarmKind: Int] = [:]
        let named: [String: Int] = try f.optional(Field.alarms.rawValue, "an object of counts") ?? [:]
        for (name, n) in named {
            guard let kind = AlarmKind(name: name) else { throw ControlFailure(.badRequest, "unknown alarm '\(name)'") }
            alarms[kind] = n
        }
        barrier = Barrier(
            state: try f.required(Field.barrierState.rawValue, "a string"), mode: try need(.barrierMode),
            directions: try need(.barrierDirections), enforcement: try need(.barrierEnforcement),
            passages: Int(clamping: try count(.passages)), activeAlarm: try f.named(Field.alarm.rawValue),
            alarms: alarms, boardOnline: try f.optional(Field.boardOnline.rawValue, "true or false") ?? true,
            outOfServiceReason: try f.string(Field.outOfServiceReason.rawValue))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: ControlKey.self)
        try c.encode(gateID, forKey: Field.gateID.key)
        try c.encode(uptimeSeconds, forKey: Field.uptimeSeconds.key)
        for (field, n) in [
            (Field.taps, taps), (.rejected, rejected), (.journalFailures, journalFailures), (.syncs, syncs),
            (.syncFailures, syncFailures), (.readerLosses, readerLosses), (.journalLastSequence, journalLastSequence),
            (.journalAcknowledged, journalAcknowledged), (.tableCards, UInt64(clamping: tableCards)),
            (.tableVersion, tableVersion),
        ] {
            try c.encode(n, forKey: field.key)
        }
        try c.encodeIfPresent(dataAgeSeconds, forKey: Field.dataAgeSeconds.key)
        try c.encodeIfPresent(lastSyncFailure, forKey: Field.lastSyncFailure.key)
        guard let b = barrier else { return }
        try c.encode(b.state, forKey: Field.barrierState.key)
        try c.encode(b.mode.name, forKey: Field.barrierMode.key)
        try c.encode(b.directions.name, forKey: Field.barrierDirections.key)
        try c.encode(b.enforcement.name, forKey: Field.barrierEnforcement.key)
        try c.encode(b.passages, forKey: Field.passages.key)
        try c.encodeIfPresent(b.activeAlarm?.name, forKey: Field.alarm.key)
        try c.encode(
            Dictionary(uniqueKeysWithValues: b.alarms.map { ($0.key.name, $0.value) }), forKey: Field.alarms.key)
        try c.encode(b.boardOnline, forKey: Field.boardOnline.key)
        try c.encodeIfPresent(b.outOfServiceReason, forKey: Field.outOfServiceReason.key)
    }
}
