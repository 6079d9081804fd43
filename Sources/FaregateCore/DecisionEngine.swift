/// Decides one tap: pure, allocation-free, no I/O.
///
/// Order of checks, each one a reason the rider can act on:
/// 1. the read itself (failed, removed mid-read);
/// 2. what the medium says about itself (blocked application, never enabled, on-card blacklist,
///    validity dates, purse balance);
/// 3. the table: central blacklist, returned card, suspended ticket;
/// 4. data age: a gate that never synced or whose data is stale follows the policy's stale rule;
///    then an unknown key;
/// 5. identity and health when the policy checks health.
public struct DecisionEngine: Sendable {
    public var policy: GatePolicy

    public init(policy: GatePolicy) { self.policy = policy }

    public func decide(_ result: Tap.Result, status: CardStatus?, context: DecisionContext) -> Decision {
        switch result {
        case .failed(let failure, _):
            return failure == .cardRemoved ? .deny(.cardRemoved) : .deny(.readError)
        case .card(let read):
            return decide(read, status: status, context: context)
        }
    }

    public func decide(_ read: CardRead, status: CardStatus?, context: DecisionContext) -> Decision {
        if read.applicationBlocked { return .deny(.applicationBlocked) }
        if read.disabled { return .deny(.disabled) }
        if read.blacklistedOnCard { return .deny(.blacklisted) }
        if let from = read.validFrom, context.today < from { return .deny(.notYetValid) }
        if let until = read.validUntil, until < context.today { return .deny(.expired) }
        if let balance = read.balanceFen, balance < policy.minimumBalanceFen { return .deny(.insufficientBalance) }

        if let status {
            if status.isBlacklisted { return .deny(.blacklisted) }
            if status.isReturned { return .deny(.returnedCard) }
            if status.isSuspended { return .deny(.ticketSuspended) }
        }
        // A gate that never synced, or whose data is too old, cannot tell an unknown card from a
        // new one, nor trust a health status: the policy's stale rule decides.
        let stale = context.dataAgeSeconds.map { $0 > policy.maxDataAgeSeconds } ?? true
        if stale && policy.staleData != .open { return Decision(outcome: policy.staleData, reason: .staleData) }
        guard let status else { return Decision(outcome: policy.unknownCard, reason: .unknownCard) }
        guard policy.healthCheck else { return .open(.ok) }

        if status.binding == .unbound {
            let reason: Reason = read.key.medium == .commemorativeTicket ? .unregisteredTicket : .unboundCard
            return Decision(outcome: policy.unboundCard, reason: reason)
        }
        switch status.health {
        case .green: return .open(.ok)
        case .yellow: return Decision(outcome: policy.healthYellow, reason: .healthYellow)
        case .red: return Decision(outcome: policy.healthRed, reason: .healthRed)
        case .unknown: return Decision(outcome: policy.healthUnknown, reason: .healthUnknown)
        }
    }
}
