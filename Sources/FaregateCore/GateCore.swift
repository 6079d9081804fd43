/// The decision loop's logic for one gate, as a synchronous state machine.
///
/// `handle` turns a tap taken off the ring into the journal entry to write and the end of the
/// passage its decision is for; `settle` then says, once the batch's append to the journal
/// succeeded or failed, what the lane shows for each entry (the journal-before-open rule). The
/// caller performs the two side effects in that order. The only state is the next journal
/// sequence number. Not thread-safe: owned by the decision thread.
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
        if ledger != nil, case .card = tap.result {
            // Passage rules come after the card's own: an open decision can still be a passback
            // or an exit without entry. A let-through entry or exit is recorded at decision time.
            let direction = PassageDirection(from: end(of: tap.reader))
            decision = ledger?.apply(decision, key: key, direction, nowMillis: wall) ?? decision
            if case .open = decision { ledger?.record(key, direction, nowMillis: wall) }
        }
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

    /// What became of a batch's append to the journal.
    public enum Append: Hashable, Sendable {
        /// Every entry of the batch is durable.
        case durable
        /// Nothing of the batch is durable; the journal's next sequence is `nextSequence`.
        case failed(nextSequence: UInt64)
    }

    /// The journal-before-open rule, applied to one batch after its append: calls `show` with
    /// each entry in order and what the lane must show for it, nil where the lane was told
    /// already (a tap refused on a full ring hears "tap again" at once, from its reader).
    ///
    /// An entry that is not durable never opens the barrier: after a failed append every tap of
    /// the batch is denied `gateOutOfService`, and the sequence numbers handed out are taken back
    /// so the journal stays contiguous.
    public mutating func settle(
        _ batch: some Collection<JournalEntry>, after append: Append, _ show: (JournalEntry, Decision?) -> Void
    ) {
        if case .failed(let next) = append { rewind(to: next) }
        for entry in batch {
            switch (entry.kind, append) {
            case (.rejected, _): show(entry, nil)
            case (_, .durable): show(entry, entry.decision)
            case (_, .failed): show(entry, .deny(.gateOutOfService))
            }
        }
    }
}
