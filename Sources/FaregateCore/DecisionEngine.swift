/// Decides one tap: pure, allocation-free, no I/O.
///
/// Order of checks, each one a reason the rider can act on (`DecisionRule` names each step):
/// 1. the read itself (failed, removed mid-read);
/// 2. whether this gate takes the medium at all (suspended ticket kinds, media and ride-code apps
///    the era does not accept);
/// 3. what the medium says about itself (blocked application, never enabled, on-card blacklist,
///    validity dates, purse balance);
/// 4. the table: central blacklist, returned card, suspended ticket;
/// 5. data age: a gate that never synced or whose data is stale follows the policy's stale rule;
///    then an unknown key;
/// 6. identity and health when the policy checks health.
///
/// The engine holds the rules of one gate (its station and line) for every era it knows, as a
/// schedule sorted by start day; each tap picks its era by `DecisionContext.today` with a scan of a
/// few plain values, so switching eras at midnight needs no reload. A whole new engine value can
/// be swapped into `GateCore.engine` between two taps (a new policy file, an explicitly chosen
/// era). The skeleton's `init(policy:)` is the one-era, no-shadow special case.
public struct DecisionEngine: Sendable {
    /// Rules enforced when no scheduled era applies (before the first era's start day, or when
    /// the engine was built from one policy).
    public var policy: GatePolicy
    /// Rules computed but not enforced alongside `policy` (shadow mode); nil: no shadow.
    public var shadowPolicy: GatePolicy?
    /// Eras of this gate, sorted by `fromDay` ascending.
    public private(set) var schedule: [ScheduledRules]
    /// Era of `policy` when it came from a policy file (pinned era, or the first era), for reports.
    public var label: String = ""

    /// The rules of one era for one gate.
    public struct ScheduledRules: Sendable, Hashable {
        /// First day (days since 1970-01-01 in the gate's zone) the era applies.
        public var fromDay: Int
        /// The era's identifier (`PolicyEra.id`).
        public var era: String
        public var enforced: GatePolicy
        public var shadow: GatePolicy?
        /// Which policy entries produced these rules (for `explain`), e.g. `default`, `line bus-2`.
        public var provenance: [String]

        public init(fromDay: Int, era: String, enforced: GatePolicy, shadow: GatePolicy?, provenance: [String]) {
            self.fromDay = fromDay
            self.era = era
            self.enforced = enforced
            self.shadow = shadow
            self.provenance = provenance
        }
    }

    public init(policy: GatePolicy, shadowPolicy: GatePolicy? = nil) {
        self.policy = policy
        self.shadowPolicy = shadowPolicy
        schedule = []
    }

    /// An engine that follows `schedule` by date; `fallback` applies before its first era.
    public init(schedule: [ScheduledRules], fallback: GatePolicy) {
        policy = fallback
        shadowPolicy = nil
        self.schedule = schedule.sorted { $0.fromDay < $1.fromDay }
    }

    /// Index into `schedule` of the era in force on `day`; nil before the first era.
    @inlinable public func scheduleIndex(onDay day: Int) -> Int? {
        var found: Int?
        var i = 0
        while i < schedule.count, schedule[i].fromDay <= day {
            found = i
            i += 1
        }
        return found
    }

    /// The name of the rules in force on `today`, for logs and answers: the id of the scheduled
    /// era in force, else the engine's `label` (a pinned era, or the first era before its start
    /// day), else `inline` (rules from the configuration file).
    public func inForce(on today: CalendarDate) -> String {
        if let i = scheduleIndex(onDay: today.daysSinceEpoch) { return schedule[i].era }
        return label.isEmpty ? "inline" : label
    }

    /// The enforced and shadow rules in force on `today`.
    @inlinable public func rules(on today: CalendarDate) -> (enforced: GatePolicy, shadow: GatePolicy?) {
        guard let i = scheduleIndex(onDay: today.daysSinceEpoch) else { return (policy, shadowPolicy) }
        return (schedule[i].enforced, schedule[i].shadow)
    }

    /// The enforced decision (the barrier follows it).
    public func decide(_ result: Tap.Result, status: CardStatus?, context: DecisionContext) -> Decision {
        decideWithShadow(result, status: status, context: context).enforced
    }

    public func decide(_ read: CardRead, status: CardStatus?, context: DecisionContext) -> Decision {
        decide(.card(read), status: status, context: context)
    }

    /// The enforced decision and, in shadow mode, what the shadow rules would decide.
    ///
    /// When the enforced rules open with `ok` but the shadow rules would not open, the enforced
    /// reason becomes `okShadow`: the barrier opens, and the journal line alone shows the rider
    /// would have been stopped under the new rule.
    public func decideWithShadow(_ result: Tap.Result, status: CardStatus?, context: DecisionContext)
        -> DecisionPair
    {
        var a = NoDecisionTrace()
        var b = NoDecisionTrace()
        return evaluate(result, status: status, context: context, enforcedTrace: &a, shadowTrace: &b)
    }

    /// Both decisions, reporting each rule consulted to the traces (`explain` records them; the
    /// hot path passes `NoDecisionTrace`, which the compiler removes).
    public func evaluate<E: DecisionTrace, S: DecisionTrace>(
        _ result: Tap.Result, status: CardStatus?, context: DecisionContext, enforcedTrace: inout E,
        shadowTrace: inout S
    ) -> DecisionPair {
        let (enforcedRules, shadowRules) = rules(on: context.today)
        var enforced = Self.decide(
            result, status: status, context: context, policy: enforcedRules, trace: &enforcedTrace)
        // A failed read is refused the same way under any rules: no shadow decision to compare.
        guard let shadowRules, case .card = result else { return DecisionPair(enforced: enforced, shadow: nil) }
        let shadow = Self.decide(result, status: status, context: context, policy: shadowRules, trace: &shadowTrace)
        if enforced == .open(.ok), shadow.outcome != .open { enforced = .open(.okShadow) }
        return DecisionPair(enforced: enforced, shadow: shadow)
    }

    /// One set of rules applied to one tap.
    public static func decide<T: DecisionTrace>(
        _ result: Tap.Result, status: CardStatus?, context: DecisionContext, policy: GatePolicy, trace: inout T
    ) -> Decision {
        let read: CardRead
        switch result {
        case .failed(let failure, _):
            let d: Decision =
                switch failure {
                case .cardRemoved: .deny(.cardRemoved)
                case .readerBusy: .deny(.readerBusy)
                default: .deny(.readError)
                }
            trace.step(.readFailed, d)
            return d
        case .card(let r):
            read = r
            trace.step(.readFailed, nil)
        }
        func check(_ rule: DecisionRule, _ d: Decision?, _ trace: inout T) -> Decision? {
            trace.step(rule, d)
            return d
        }
        let medium = read.key.medium
        let mediumBit = medium.map { GatePolicy.bit(of: $0) } ?? 0
        if let d = check(
            .mediumSuspended, policy.suspendedMedia & mediumBit != 0 ? .deny(.ticketSuspended) : nil, &trace)
        {
            return d
        }
        if let d = check(
            .mediumAccepted, policy.acceptedMedia & mediumBit == 0 ? .deny(.unsupportedMedium) : nil, &trace)
        {
            return d
        }
        if medium == .rideCode {
            let issuerBit: UInt64 = read.key.rideCodeIssuerByte < 64 ? 1 << UInt64(read.key.rideCodeIssuerByte) : 0
            let accepted = policy.acceptedRideCodeIssuers & issuerBit != 0
            if let d = check(.rideCodeIssuer, accepted ? nil : .deny(.rideCodeIssuerNotAccepted), &trace) { return d }
        }
        if let d = check(.applicationBlocked, read.applicationBlocked ? .deny(.applicationBlocked) : nil, &trace) {
            return d
        }
        if let d = check(.disabledOnCard, read.disabled ? .deny(.disabled) : nil, &trace) { return d }
        if let d = check(.blacklistedOnCard, read.blacklistedOnCard ? .deny(.blacklisted) : nil, &trace) { return d }
        let early = read.validFrom.map { context.today < $0 } ?? false
        if let d = check(.notYetValid, early ? .deny(.notYetValid) : nil, &trace) { return d }
        let late = read.validUntil.map { $0 < context.today } ?? false
        if let d = check(.expired, late ? .deny(.expired) : nil, &trace) { return d }
        let poor = read.balanceFen.map { $0 < policy.minimumBalanceFen } ?? false
        if let d = check(.balance, poor ? .deny(.insufficientBalance) : nil, &trace) { return d }

        if let status {
            if let d = check(.centralBlacklist, status.isBlacklisted ? .deny(.blacklisted) : nil, &trace) { return d }
            if let d = check(.returned, status.isReturned ? .deny(.returnedCard) : nil, &trace) { return d }
            if let d = check(.ticketSuspended, status.isSuspended ? .deny(.ticketSuspended) : nil, &trace) {
                return d
            }
        }
        // A gate that never synced (no data age), or whose data is too old, can tell neither an
        // unknown card from a new one nor a current health status: the policy's stale rule decides.
        let stale = context.dataAgeSeconds.map { $0 > policy.maxDataAgeSeconds } ?? true
        if let d = check(
            .staleData,
            stale && policy.staleData != .open ? Decision(outcome: policy.staleData, reason: .staleData) : nil,
            &trace)
        {
            return d
        }
        guard let status else {
            let d = Decision(outcome: policy.unknownCard, reason: .unknownCard)
            trace.step(.knownKey, d)
            return d
        }
        trace.step(.knownKey, nil)
        guard policy.healthCheck else {
            trace.step(.healthCheckOff, .open(.ok))
            return .open(.ok)
        }
        if status.binding == .unbound {
            let d: Decision
            switch medium {
            case .commemorativeTicket: d = Decision(outcome: policy.unregisteredTicket, reason: .unregisteredTicket)
            case .rideCode: d = Decision(outcome: policy.unauthorisedRideCode, reason: .rideCodeNotAuthorised)
            default: d = Decision(outcome: policy.unboundCard, reason: .unboundCard)
            }
            trace.step(.binding, d)
            return d
        }
        trace.step(.binding, nil)
        let d: Decision
        switch status.health {
        case .green: d = .open(.ok)
        case .yellow: d = Decision(outcome: policy.healthYellow, reason: .healthYellow)
        case .red: d = Decision(outcome: policy.healthRed, reason: .healthRed)
        case .unknown: d = Decision(outcome: policy.healthUnknown, reason: .healthUnknown)
        }
        trace.step(.health, d)
        return d
    }
}

/// The decision the barrier follows and, in shadow mode, the one the shadow rules would take.
public struct DecisionPair: Hashable, Sendable {
    public var enforced: Decision
    public var shadow: Decision?

    public init(enforced: Decision, shadow: Decision?) {
        self.enforced = enforced
        self.shadow = shadow
    }
}

/// One rule of the decision, in the order the engine consults them.
public enum DecisionRule: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case readFailed, mediumSuspended, mediumAccepted, rideCodeIssuer, applicationBlocked, disabledOnCard
    case blacklistedOnCard, notYetValid, expired, balance, centralBlacklist, returned, ticketSuspended, staleData
    case knownKey, healthCheckOff, binding, health

    public var description: String {
        switch self {
        case .readFailed: "read: the medium was read completely"
        case .mediumSuspended: "era: this kind of ticket is not suspended"
        case .mediumAccepted: "era: this medium is accepted"
        case .rideCodeIssuer: "era: ride codes of this app are accepted"
        case .applicationBlocked: "card: application not blocked"
        case .disabledOnCard: "card: enabled"
        case .blacklistedOnCard: "card: not blacklisted on the card"
        case .notYetValid: "card: validity has started"
        case .expired: "card: not expired"
        case .balance: "card: balance at least the minimum"
        case .knownKey: "table: key known"
        case .centralBlacklist: "table: not on the central blacklist"
        case .returned: "table: not returned"
        case .ticketSuspended: "table: ticket not suspended or refunded"
        case .staleData: "gate: data fresh enough"
        case .healthCheckOff: "era: no health check"
        case .binding: "health check: medium bound / registered / authorised"
        case .health: "health check: health status"
        }
    }
}

/// Receives each rule the engine consults and its verdict (nil: passed, go on).
public protocol DecisionTrace {
    mutating func step(_ rule: DecisionRule, _ verdict: Decision?)
}

/// The hot path's trace: records nothing.
public struct NoDecisionTrace: DecisionTrace {
    @inlinable public init() {}
    @inlinable public mutating func step(_ rule: DecisionRule, _ verdict: Decision?) {}
}

/// Records every step (for `explain` and tests).
public struct RecordingDecisionTrace: DecisionTrace, Sendable {
    public var steps: [(rule: DecisionRule, verdict: Decision?)] = []
    public init() {}
    public mutating func step(_ rule: DecisionRule, _ verdict: Decision?) { steps.append((rule, verdict)) }
}
