/// The decision loop's logic for one gate, as a synchronous state machine.
///
/// `handle` turns a tap taken off the ring into the journal entry to write and the end of the
/// passage its decision is for; `settle` then says, once the batch's append to the journal
/// succeeded or failed, what the lane shows for each entry (the journal-before-open rule). The
/// caller performs the two side effects in that order. State: the next journal sequence number,
/// the passage ledger (recorded only once a let-through entry is durable) and the lane's mode as
/// the caller last read it. Not thread-safe: owned by the decision thread.
public struct GateCore: Sendable {
    public private(set) var nextSequence: UInt64
    public var engine: DecisionEngine
    /// Entry and exit control (anti-passback, exit without entry), when the gate applies it.
    public var ledger: PassageLedger?
    /// The end of the passage each reader serves (reader index → end): the gate's one
    /// reader-to-end map. A tap's direction is the one leaving that end; readers past the end of
    /// the list serve the unpaid end (entries).
    public var readerEnds: [GateEnd] = []
    /// Offset of the gate's time zone east of UTC, for card validity dates (Beijing: +8 h).
    public var utcOffsetSeconds: Int = 8 * 3600
    /// The mode the lane acts in now (`Barrier.effectiveMode`), set by the caller before each
    /// batch. Outside `normal` no card opens the barrier and the journal says so: a closed station
    /// denies `station_closed`, an out-of-service gate `gate_out_of_service`, and in emergency
    /// free-open every tap is journalled `open(emergency_open)` (the flaps are open for everyone;
    /// the card is not what let the rider through, so no passage is recorded for it).
    public var lane: GateMode = .normal
    /// Passages let through by entries handed out since the last `settle` (oldest first): the
    /// ledger records them only once they are durable, but a second tap of the same card in the
    /// same batch must already see the first.
    private var unsettled: [(key: CardKey, direction: PassageDirection, wallMillis: Int64)] = []

    /// What to do with one tap.
    public struct Output: Hashable, Sendable {
        public var entry: JournalEntry
        /// The end of the passage the tap was made at: where the lane shows the decision.
        public var end: GateEnd
        /// Monotonic nanoseconds when the table lookup finished.
        public var lookedUpAt: UInt64
        /// Monotonic nanoseconds when the decision was taken.
        public var decidedAt: UInt64
        /// In shadow mode, what the shadow rules would have decided (also in `entry`).
        public var shadow: Decision? { entry.shadowDecision }

        public init(entry: JournalEntry, end: GateEnd, lookedUpAt: UInt64, decidedAt: UInt64) {
            self.entry = entry
            self.end = end
            self.lookedUpAt = lookedUpAt
            self.decidedAt = decidedAt
        }
    }

    public init(nextSequence: UInt64, policy: GatePolicy) {
        precondition(nextSequence >= 1, "journal sequences start at 1")
        self.nextSequence = nextSequence
        engine = DecisionEngine(policy: policy)
    }

    /// A core running `engine` (an era schedule compiled from policy files for this gate).
    public init(nextSequence: UInt64, engine: DecisionEngine) {
        precondition(nextSequence >= 1, "journal sequences start at 1")
        self.nextSequence = nextSequence
        self.engine = engine
    }

    /// Decides `tap`, taken off the ring at monotonic `dequeuedAt`.
    ///
    /// - Parameters:
    ///   - table: the table in service (nil before the first load: every lookup misses).
    ///   - dataAgeSeconds: seconds since the table's last verified sync.
    ///   - clock: read twice, after the lookup and after the decision, for stage timings.
    public mutating func handle(
        _ tap: Tap, dequeuedAt: UInt64, table: (any CardStatusLookup)?, dataAgeSeconds: Int?, clock: any GateClock
    ) -> Output {
        let wall = clock.wallMillis()
        var key = CardKey(rawValue: 0)
        var balance: Int32?
        var status: CardStatus?
        switch tap.result {
        case .card(let read):
            key = read.key
            balance = read.balanceFen
            status = table?.status(of: read.key)
        case .failed(_, let partial):
            key = partial ?? CardKey(rawValue: 0)
        }
        let lookedUpAt = clock.monotonicNanos()
        let context = DecisionContext(
            today: CalendarDate(wallMillis: wall, utcOffsetSeconds: utcOffsetSeconds), dataAgeSeconds: dataAgeSeconds)
        let pair = engine.decideWithShadow(tap.result, status: status, context: context)
        var decision = pair.enforced
        if let ledger, lane == .normal, case .card = tap.result {
            // Passage rules come after the card's own: an open decision can still be a passback
            // or an exit without entry. The ledger as it will be once this batch is durable: a
            // passage of the same card earlier in the batch counts already.
            let direction = PassageDirection(from: end(of: tap.reader))
            let entered: Int64?
            if let earlier = unsettled.last(where: { $0.key == key }) {
                entered = earlier.direction == .entry ? earlier.wallMillis : nil
            } else {
                entered = ledger.entryTime(of: key, nowMillis: wall)
            }
            if case .open = decision, let refusal = ledger.check(direction, enteredAt: entered, nowMillis: wall) {
                decision = refusal
            }
            if case .open = decision { unsettled.append((key, direction, wall)) }
        }
        if let refusal = Self.refusal(in: lane) { decision = refusal }
        let decidedAt = clock.monotonicNanos()

        let kind: JournalEntry.Kind
        switch tap.result {
        case .card: kind = .decision
        case .failed(.cardRemoved, _): kind = .aborted
        case .failed: kind = .readFailed
        }
        let timings = StageTimings(
            select: StageTimings.micros(from: tap.detectedAt, to: tap.selectedAt),
            read: StageTimings.micros(from: tap.selectedAt, to: tap.readAt),
            queue: StageTimings.micros(from: tap.readAt, to: dequeuedAt),
            lookup: StageTimings.micros(from: dequeuedAt, to: lookedUpAt),
            decide: StageTimings.micros(from: lookedUpAt, to: decidedAt))
        let entry = JournalEntry(
            sequence: nextSequence, wallMillis: wall, reader: tap.reader, key: key, kind: kind, decision: decision,
            balanceFen: balance, dataVersion: table?.dataVersion ?? 0, timings: timings,
            shadowDecision: pair.shadow)
        nextSequence += 1
        return Output(entry: entry, end: end(of: tap.reader), lookedUpAt: lookedUpAt, decidedAt: decidedAt)
    }

    /// The end of the passage `reader` serves.
    public func end(of reader: UInt16) -> GateEnd {
        Int(reader) < readerEnds.count ? readerEnds[Int(reader)] : .unpaid
    }

    /// Takes back sequence numbers handed out for entries that could not be journalled, so the
    /// journal stays contiguous: the next entry gets `next`.
    public mutating func rewind(to next: UInt64) {
        precondition(next >= 1 && next <= nextSequence, "can only take back sequences already handed out")
        nextSequence = next
    }

    /// The entry recording taps refused because the ring was full (one entry per refused tap).
    public mutating func rejectedTap(reader: UInt16, wallMillis: Int64, dataVersion: UInt64) -> JournalEntry {
        defer { nextSequence += 1 }
        return JournalEntry(
            sequence: nextSequence, wallMillis: wallMillis, reader: reader, key: CardKey(rawValue: 0), kind: .rejected,
            decision: .deny(.tapAgain), balanceFen: nil, dataVersion: dataVersion, timings: StageTimings())
    }

    /// What a tap is told in `mode` instead of its card's decision; nil in `normal`.
    public static func refusal(in mode: GateMode) -> Decision? {
        switch mode {
        case .normal: nil
        case .closed: .deny(.stationClosed)
        case .outOfService: .deny(.gateOutOfService)
        case .emergencyOpen: .open(.emergencyOpen)
        }
    }

    /// The entry recording a staff command the gate carried out (mode, directions, enforcement,
    /// alarm reset), in the journal's sequence like a tap.
    public mutating func staffCommand(_ command: StaffCommand, wallMillis: Int64, dataVersion: UInt64) -> JournalEntry {
        defer { nextSequence += 1 }
        return JournalEntry(
            sequence: nextSequence, wallMillis: wallMillis, reader: 0, key: CardKey(rawValue: 0), kind: .staffCommand,
            decision: .staff(.staffCommand), balanceFen: nil, dataVersion: dataVersion, timings: StageTimings(),
            command: command)
    }

    /// The entry recording a change the lane made by itself (`LaneEvent`: I/O board lost or back,
    /// free-open for the fire alarm or a power loss and its end), in the journal's sequence.
    public mutating func laneEvent(_ event: LaneEvent, wallMillis: Int64, dataVersion: UInt64) -> JournalEntry {
        defer { nextSequence += 1 }
        return JournalEntry(
            sequence: nextSequence, wallMillis: wallMillis, reader: 0, key: CardKey(rawValue: 0), kind: .laneEvent,
            decision: .staff(.laneEvent), balanceFen: nil, dataVersion: dataVersion, timings: StageTimings(),
            event: event)
    }

    /// What became of a batch's append to the journal.
    public enum Append: Hashable, Sendable {
        /// Every entry of the batch is durable.
        case durable
        /// Nothing of the batch is durable; the journal's next sequence is `nextSequence`.
        case failed(nextSequence: UInt64)
    }

    /// One entry of a settled batch: what became of it. Everything downstream of the journal —
    /// the lane, the `farectl tap` answer, the log, the metrics — reports this, not the entry
    /// `handle` proposed, so they all agree with the journal.
    public struct Settlement: Hashable, Sendable {
        /// The entry as `handle` proposed it; in the journal only when `durable`.
        public var entry: JournalEntry
        /// Whether the entry is in the journal. When it is not, its sequence was handed out again.
        public var durable: Bool
        /// What the rider was told: the entry's decision when durable; `gate_out_of_service` for a
        /// tap whose entry could not be journalled; `tap_again` for a tap refused on a full ring
        /// (its reader said so at once). Nil for a staff command or a lane event (no rider).
        public var told: Decision?
        /// What the lane must be shown now; nil when it was told already (a tap refused on a full
        /// ring) or there is no rider (a staff command, a lane event).
        public var show: Decision?

        public init(entry: JournalEntry, durable: Bool, told: Decision?, show: Decision?) {
            self.entry = entry
            self.durable = durable
            self.told = told
            self.show = show
        }

        /// The journalled sequence; nil when the entry is not in the journal.
        public var sequence: UInt64? { durable ? entry.sequence : nil }

        /// The entry as `farectl journal tail` prints it when durable. Otherwise the same columns
        /// with `-` for the sequence (it was handed out again) and what the rider was told,
        /// ending with `not journalled (rules: DECISION)`.
        public var textLine: String {
            if durable { return entry.textLine }
            var shown = entry
            shown.decision = told ?? entry.decision
            shown.shadowDecision = nil
            return shown.textLine(sequence: "-") + "\tnot journalled (rules: \(entry.decision))"
        }
    }

    /// The journal-before-open rule, applied to one batch after its append: calls `settled` with
    /// each entry's `Settlement`, in order.
    ///
    /// An entry that is not durable never opens the barrier: after a failed append every tap of
    /// the batch is denied `gateOutOfService`, and the sequence numbers handed out are taken back
    /// so the journal stays contiguous. Passages are recorded in the ledger here, once durable:
    /// a tap denied for durability leaves no entry record behind.
    public mutating func settle(
        _ batch: some Collection<JournalEntry>, after append: Append, _ settled: (Settlement) -> Void
    ) {
        defer { unsettled.removeAll(keepingCapacity: true) }
        if case .failed(let next) = append { rewind(to: next) }
        let durable = append == .durable
        for entry in batch {
            let told: Decision?
            let show: Decision?
            switch entry.kind {
            case .staffCommand, .laneEvent: (told, show) = (nil, nil)
            case .rejected: (told, show) = (entry.decision, nil)
            case .decision, .readFailed, .aborted:
                told = durable ? entry.decision : .deny(.gateOutOfService)
                show = told
            }
            if durable, entry.kind == .decision, case .open(let reason) = entry.decision, reason != .emergencyOpen {
                let direction = PassageDirection(from: end(of: entry.reader))
                ledger?.record(entry.key, direction, nowMillis: entry.wallMillis)
            }
            settled(Settlement(entry: entry, durable: durable, told: told, show: show))
        }
    }
}
