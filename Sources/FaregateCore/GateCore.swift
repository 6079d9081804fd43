/// The decision loop's logic for one gate, as a synchronous state machine.
///
/// `handle` turns a tap taken off the ring into the journal entry to write and the barrier command
/// to issue afterwards; the caller performs both side effects, in that order (the entry must be
/// durable before an open barrier). The only state is the next journal sequence number.
/// Not thread-safe: owned by the decision thread.
public struct GateCore: Sendable {
    public private(set) var nextSequence: UInt64
    public var engine: DecisionEngine
    /// Entry and exit control (anti-passback, exit without entry), when the gate applies it.
    public var ledger: PassageLedger?
    /// The direction a tap at each reader travels (reader index → direction); readers past the
    /// end of the list are entries.
    public var readerDirections: [PassageDirection] = []
    /// Offset of the gate's time zone east of UTC, for card validity dates (Beijing: +8 h).
    public var utcOffsetSeconds: Int = 8 * 3600

    /// What to do with one tap.
    public struct Output: Hashable, Sendable {
        public var entry: JournalEntry
        public var command: BarrierCommand
        /// Monotonic nanoseconds when the table lookup finished.
        public var lookedUpAt: UInt64
        /// Monotonic nanoseconds when the decision was taken.
        public var decidedAt: UInt64
        /// In shadow mode, what the shadow rules would have decided (also in `entry`).
        public var shadow: Decision? { entry.shadowDecision }

        public init(entry: JournalEntry, command: BarrierCommand, lookedUpAt: UInt64, decidedAt: UInt64) {
            self.entry = entry
            self.command = command
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
            let r = Int(tap.reader)
            let direction = r < readerDirections.count ? readerDirections[r] : .entry
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
        return Output(entry: entry, command: BarrierCommand(decision), lookedUpAt: lookedUpAt, decidedAt: decidedAt)
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
}
