import FaregateCore
import Foundation

/// The central operations' rules, one scenario per rule, run against a real store: the SQLite and
/// PostgreSQL test suites call each with a fresh store of their backend. A scenario throws
/// `ScenarioFailure` (failing the calling test) when the store does not behave as the rule says.
///
/// Era context comes from the seed policies in `seeds/policies/` (the same files farectl loads).
public struct CentralOperationScenarios {
    let makeStore: () throws -> any CentralOperationsStore
    let book: PolicyBook

    public init(makeStore: @escaping () throws -> any CentralOperationsStore) throws {
        self.makeStore = makeStore
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let dir = root.appendingPathComponent("seeds/policies")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }
            .sorted()
        book = try PolicyBook.load(
            try names.map { ($0, [UInt8](try Data(contentsOf: dir.appendingPathComponent($0)))) })
    }

    static let era2022 = "2022-health-check"
    static let era2023 = "2023-anonymous-stations"
    static let era2024 = "2024-real-name"
    static let anonymousStation = "beijing-west"
    static let identityStation = "zhongguancun"
    static let now: Int64 = 1_700_000_000_000

    /// Operations in `era` at `station` on a fresh store.
    func ops(_ era: String, at station: String? = nil, store: (any CentralOperationsStore)? = nil) throws
        -> CentralOperations
    {
        let rules = try book.officeRules(station: station, on: CalendarDate(daysSinceEpoch: 0), pinnedEra: era).office
        return CentralOperations(store: try store ?? makeStore(), rules: rules, station: station)
    }

    func card(_ n: UInt64, _ medium: Medium = .transitCard) throws -> CardKey {
        guard let k = CardKey(medium: medium, identifier: n) else { throw ScenarioFailure("no \(medium) key \(n)") }
        return k
    }

    /// A stand-in for a keyed hash of an ID number.
    func id(_ n: UInt8) -> [UInt8] { [UInt8](repeating: n, count: 32) }

    /// Cards already in the store (imported), unbound unless `identity` is given.
    func seed(_ ops: CentralOperations, _ keys: [CardKey], identity: [UInt8]? = nil) throws {
        try ops.store.insertCards(
            keys.map { CentralCardRecord(key: $0, cardType: .normal, identityHash: identity, health: .green) },
            wallMillis: Self.now)
    }

    /// The card's status as gates receive it, after publishing.
    func status(_ ops: CentralOperations, _ key: CardKey) throws -> CardStatus {
        try ops.store.publish(wallMillis: Self.now)
        var found: CardStatus?
        _ = try ops.store.forEachStatus { k, s in if k == key { found = s } }
        guard let found else { throw ScenarioFailure("\(key) is not in the published table") }
        return found
    }

    func refused(
        _ v: RegistrationRules.Verdict, _ r: RegistrationRules.Refusal, _ what: String, line: UInt = #line
    ) throws {
        guard v.refusal == r else { throw ScenarioFailure("\(what): expected refusal \(r.rawValue), got \(v)", line) }
    }

    func allowed(_ v: RegistrationRules.Verdict, _ what: String, line: UInt = #line) throws {
        guard v.isAllowed else { throw ScenarioFailure("\(what): expected allowed, got \(v)", line) }
    }

    func expect(_ condition: Bool, _ what: String, line: UInt = #line) throws {
        guard condition else { throw ScenarioFailure(what, line) }
    }

    let full = RegistrationRules.Identification.verificationCode(
        name: true, phone: true, verified: true, onBehalf: false)

    // MARK: issue

    /// Issuing a card needs identity where the era asks for it, and binds the new card to it.
    public func issueCardNeedsIdentityAndBindsIt() throws {
        for (era, station) in [(Self.era2022, nil), (Self.era2023, Self.identityStation), (Self.era2024, nil)] {
            let o = try ops(era, at: station)
            try refused(
                try o.issue(try card(1), identityHash: nil, wallMillis: Self.now), .identityRequired, "\(era) issue")
            try expect(try o.store.cardFacts(try card(1)) == nil, "\(era): a refused issue stores no card")
            try allowed(try o.issue(try card(2), identityHash: id(1), wallMillis: Self.now), "\(era) issue with id")
            try expect(try status(o, try card(2)).binding == .bound, "\(era): an issued card is bound to the identity")
        }
    }

    /// At a 2023 anonymous station a card is issued without identity, unbound.
    public func issueCardAtAnonymousStationNeedsNoIdentity() throws {
        let o = try ops(Self.era2023, at: Self.anonymousStation)
        try allowed(try o.issue(try card(1), identityHash: nil, wallMillis: Self.now), "anonymous issue")
        try expect(try status(o, try card(1)).binding == .unbound, "an anonymously issued card is unbound")
        try expect(try o.store.operationLog(of: try card(1)).map(\.name) == ["issue"], "the issue is logged")
    }

    /// One physical card per identity in 2022 and 2023 (counted in the store); several in 2024.
    public func issueCardOneCardPerPersonUntil2024() throws {
        for era in [Self.era2022, Self.era2023] {
            let o = try ops(era)
            try allowed(try o.issue(try card(1), identityHash: id(7), wallMillis: Self.now), "\(era) first card")
            try refused(
                try o.issue(try card(2), identityHash: id(7), wallMillis: Self.now), .oneCardPerPerson,
                "\(era) second card")
        }
        let o = try ops(Self.era2024)
        for n in 1...3 {
            try allowed(try o.issue(try card(UInt64(n)), identityHash: id(7), wallMillis: Self.now), "2024 card \(n)")
        }
        try expect(try o.store.physicalCardsBound(identityHash: id(7)) == 3, "2024: three cards bound to one identity")
    }

    // MARK: bind

    /// Binding asks for a name, a phone number and the verification code sent to that phone.
    public func bindNeedsNamePhoneAndVerificationCode() throws {
        let o = try ops(Self.era2022)
        let k = try card(1)
        try seed(o, [k])
        let cases: [(RegistrationRules.Identification, RegistrationRules.Refusal)] = [
            (.verificationCode(name: false, phone: true, verified: true, onBehalf: false), .nameRequired),
            (.verificationCode(name: true, phone: false, verified: true, onBehalf: false), .phoneRequired),
            (.verificationCode(name: true, phone: true, verified: false, onBehalf: false), .verificationCodeRequired),
        ]
        for (identification, refusal) in cases {
            try refused(
                try o.bind(k, identityHash: id(1), by: identification, wallMillis: Self.now), refusal, "\(refusal)")
        }
        try expect(try status(o, k).binding == .unbound, "refused binds leave the card unbound")
        try allowed(try o.bind(k, identityHash: id(1), by: full, wallMillis: Self.now), "bind")
        try expect(try status(o, k).binding == .bound, "a bound card is published bound")
    }

    /// Someone who passes on their verification code can have a card bound on their behalf.
    public func bindOnBehalfWithTheirCode() throws {
        let o = try ops(Self.era2022)
        let k = try card(1)
        try seed(o, [k])
        let behalf = RegistrationRules.Identification.verificationCode(
            name: true, phone: true, verified: false, onBehalf: true)
        try refused(
            try o.bind(k, identityHash: id(2), by: behalf, wallMillis: Self.now), .verificationCodeRequired,
            "on behalf without their code")
        let withCode = RegistrationRules.Identification.verificationCode(
            name: true, phone: true, verified: true, onBehalf: true)
        try allowed(try o.bind(k, identityHash: id(2), by: withCode, wallMillis: Self.now), "on behalf with code")
        try expect(try status(o, k).binding == .bound, "bound on behalf")
    }

    /// A binding is permanent: binding again (to anyone) is refused.
    public func bindIsPermanent() throws {
        let o = try ops(Self.era2024)
        let k = try card(1)
        try seed(o, [k])
        try allowed(try o.bind(k, identityHash: id(1), by: full, wallMillis: Self.now), "first bind")
        try refused(try o.bind(k, identityHash: id(2), by: full, wallMillis: Self.now), .alreadyBound, "rebind")
        try refused(try o.bind(k, identityHash: id(1), by: full, wallMillis: Self.now), .alreadyBound, "same again")
    }

    /// One physical card per identity in 2022 and 2023; several in 2024.
    public func bindOneCardPerPersonUntil2024() throws {
        for era in [Self.era2022, Self.era2023] {
            let o = try ops(era)
            try seed(o, [try card(1), try card(2)])
            try allowed(try o.bind(try card(1), identityHash: id(3), by: full, wallMillis: Self.now), "\(era) first")
            try refused(
                try o.bind(try card(2), identityHash: id(3), by: full, wallMillis: Self.now), .oneCardPerPerson,
                "\(era) second")
            try expect(try status(o, try card(2)).binding == .unbound, "\(era): the second card stays unbound")
        }
        let o = try ops(Self.era2024)
        try seed(o, [try card(1), try card(2)])
        try allowed(try o.bind(try card(1), identityHash: id(3), by: full, wallMillis: Self.now), "2024 first")
        try allowed(try o.bind(try card(2), identityHash: id(3), by: full, wallMillis: Self.now), "2024 second")
        try expect(try status(o, try card(2)).binding == .bound, "2024: the second card is bound")
    }

    /// A phone emulating a card is not a physical card: it does not count against the one-card limit.
    public func bindPhoneCardIsNotAPhysicalCard() throws {
        let o = try ops(Self.era2022)
        try seed(o, [try card(1), try card(2), try card(3)])
        try allowed(
            try o.bind(try card(2), identityHash: id(3), by: full, isPhoneCard: true, wallMillis: Self.now), "phone")
        try expect(try o.store.physicalCardsBound(identityHash: id(3)) == 0, "a phone card is not counted")
        try allowed(try o.bind(try card(1), identityHash: id(3), by: full, wallMillis: Self.now), "physical card")
        try refused(
            try o.bind(try card(3), identityHash: id(3), by: full, wallMillis: Self.now), .oneCardPerPerson,
            "second physical card")
    }

    /// The store re-checks the binding rules in its own transaction (what a concurrent operation
    /// could have changed since the facts were read): nothing is written when they fail.
    public func storeRechecksBindingInItsTransaction() throws {
        let o = try ops(Self.era2022)
        try seed(o, [try card(1), try card(2)])
        try allowed(try o.bind(try card(1), identityHash: id(3), by: full, wallMillis: Self.now), "first")
        let second = CentralOperation(
            name: "bind", key: try card(2), effects: [.bindCard], identityHash: id(3), maxPhysicalCardsPerIdentity: 1)
        try expect(try o.store.perform(second, wallMillis: Self.now) == .oneCardPerPerson, "limit re-checked")
        try expect(try status(o, try card(2)).binding == .unbound, "the refused binding wrote nothing")
        try expect(try o.store.operationLog(of: try card(2)).isEmpty, "and logged nothing")
        let again = CentralOperation(name: "bind", key: try card(1), effects: [.bindCard], identityHash: id(4))
        try expect(try o.store.perform(again, wallMillis: Self.now) == .alreadyBound, "permanence re-checked")
        let unknown = CentralOperation(name: "return", key: try card(9), effects: [.returnCard])
        do {
            _ = try o.store.perform(unknown, wallMillis: Self.now)
            throw ScenarioFailure("an operation on an unknown card was performed")
        } catch let e as CentralStoreError {
            try expect(e.code == .refused, "an unknown card is refused: \(e)")
        }
    }

    /// Staff may bind a card for a relative who gives the relative's ID number only in 2024.
    public func bindForRelativeByStaffOnlyIn2024() throws {
        let old = try ops(Self.era2022)
        try seed(old, [try card(1)])
        try refused(
            try old.bind(
                try card(1), identityHash: id(4), by: .staffForRelative(idNumberGiven: true), wallMillis: Self.now),
            .relativeBindingNotAllowed, "2022 relative")
        let o = try ops(Self.era2024)
        try seed(o, [try card(1)])
        try refused(
            try o.bind(
                try card(1), identityHash: id(4), by: .staffForRelative(idNumberGiven: false), wallMillis: Self.now),
            .idNumberRequired, "2024 relative without ID number")
        try allowed(
            try o.bind(
                try card(1), identityHash: id(4), by: .staffForRelative(idNumberGiven: true), wallMillis: Self.now),
            "2024 relative")
        try expect(try status(o, try card(1)).binding == .bound, "bound for the relative")
    }

    // MARK: top-up

    /// An unbound card cannot be topped up without identity where identity is required.
    public func topUpUnboundCardNeedsIdentity() throws {
        for (era, station) in [(Self.era2022, nil), (Self.era2023, Self.identityStation), (Self.era2024, nil)] {
            let o = try ops(era, at: station)
            try seed(o, [try card(1)])
            try refused(
                try o.topUp(try card(1), amountFen: 5000, identityHash: nil, wallMillis: Self.now), .identityRequired,
                "\(era) top-up")
            try expect(try o.store.operationLog(of: try card(1)).isEmpty, "\(era): a refused top-up is not recorded")
        }
    }

    /// A top-up with identity binds the unbound card for good and is recorded with its amount.
    public func topUpWithIdentityBindsTheCard() throws {
        let o = try ops(Self.era2023, at: Self.identityStation)
        try seed(o, [try card(1)])
        try allowed(try o.topUp(try card(1), amountFen: 5000, identityHash: id(5), wallMillis: Self.now), "top-up")
        try expect(try status(o, try card(1)).binding == .bound, "the top-up bound the card")
        let log = try o.store.operationLog(of: try card(1))
        try expect(
            log.count == 1 && log[0].name == "top-up" && log[0].amountFen == 5000
                && log[0].effects.contains(.creditPurse) && log[0].channel == Self.identityStation,
            "the top-up is recorded with amount and station: \(log)")
    }

    /// 2023 anonymous stations top up an unbound card without identity; the card stays unbound.
    public func topUpAtAnonymousStationNeedsNoIdentity() throws {
        let o = try ops(Self.era2023, at: Self.anonymousStation)
        try seed(o, [try card(1)])
        try allowed(try o.topUp(try card(1), amountFen: 2000, identityHash: nil, wallMillis: Self.now), "top-up")
        try expect(try status(o, try card(1)).binding == .unbound, "still unbound")
        try expect(try o.store.operationLog(of: try card(1)).first?.amountFen == 2000, "recorded")
    }

    /// Identity given at an anonymous station still binds the card for good.
    public func topUpAtAnonymousStationWithIdentityBindsForGood() throws {
        let o = try ops(Self.era2023, at: Self.anonymousStation)
        try seed(o, [try card(1), try card(2)])
        try allowed(try o.topUp(try card(1), amountFen: 2000, identityHash: id(5), wallMillis: Self.now), "top-up")
        try expect(try status(o, try card(1)).binding == .bound, "bound by the identity given")
        try refused(
            try o.topUp(try card(2), amountFen: 2000, identityHash: id(5), wallMillis: Self.now), .oneCardPerPerson,
            "a second physical card for the same identity")
        try allowed(try o.topUp(try card(2), amountFen: 2000, identityHash: nil, wallMillis: Self.now), "anonymous")
        try expect(try status(o, try card(2)).binding == .unbound, "the anonymous top-up leaves it unbound")
    }

    /// A bound card is topped up without asking again; a returned card cannot be topped up.
    public func topUpBoundCardAndNotAReturnedOne() throws {
        let o = try ops(Self.era2022)
        try seed(o, [try card(1)], identity: id(6))
        try allowed(try o.topUp(try card(1), amountFen: 1000, identityHash: nil, wallMillis: Self.now), "bound top-up")
        try allowed(try o.returnCard(try card(1), wallMillis: Self.now), "return")
        try refused(
            try o.topUp(try card(1), amountFen: 1000, identityHash: nil, wallMillis: Self.now), .cardReturned,
            "returned top-up")
    }

    // MARK: return

    /// Returning a card needs no identity in any era; the card stops riding.
    public func returnCardNeedsNoIdentity() throws {
        for era in [Self.era2022, Self.era2023, Self.era2024] {
            let o = try ops(era)
            try seed(o, [try card(1)])
            try allowed(try o.returnCard(try card(1), wallMillis: Self.now), "\(era) return")
            try expect(try status(o, try card(1)).isReturned, "\(era): a returned card is published returned")
            try refused(try o.returnCard(try card(1), wallMillis: Self.now), .cardReturned, "\(era) return twice")
        }
    }

    // MARK: ticket sales

    /// Single-journey and welfare tickets are sold against the buyer's ID number, bound to it.
    public func sellTicketTakesIdentity() throws {
        let o = try ops(Self.era2022)
        for medium in [Medium.singleJourneyTicket, .welfareTicket] {
            try refused(
                try o.sell(try card(1, medium), identityHash: nil, wallMillis: Self.now), .identityRequired,
                "\(medium) without ID")
            try allowed(try o.sell(try card(2, medium), identityHash: id(8), wallMillis: Self.now), "\(medium) sale")
            try expect(try status(o, try card(2, medium)).binding == .bound, "\(medium): bound to the buyer")
        }
    }

    /// 2023 anonymous stations sell tickets without identity.
    public func sellTicketAtAnonymousStationNeedsNoIdentity() throws {
        let o = try ops(Self.era2023, at: Self.anonymousStation)
        try allowed(
            try o.sell(try card(1, .singleJourneyTicket), identityHash: nil, wallMillis: Self.now), "anonymous sale")
        try expect(try status(o, try card(1, .singleJourneyTicket)).binding == .unbound, "an anonymous ticket")
    }

    /// Electronic single-journey ticket sales are suspended while the health check is on.
    public func sellElectronicTicketSuspendedIn2022() throws {
        let o = try ops(Self.era2022)
        try refused(
            try o.sell(try card(1, .electronicTicket), identityHash: nil, wallMillis: Self.now), .salesSuspended,
            "2022 electronic sale")
        let later = try ops(Self.era2024)
        try allowed(
            try later.sell(try card(1, .electronicTicket), identityHash: nil, channel: "app", wallMillis: Self.now),
            "2024 electronic sale")
    }

    // MARK: refund

    /// An unused electronic ticket is refunded once: gates then deny it (suspended).
    public func refundUnusedElectronicTicket() throws {
        let o = try ops(Self.era2022)
        let t = try card(1, .electronicTicket)
        try seed(o, [t])
        try allowed(try o.refund(t, channel: nil, wallMillis: Self.now), "refund")
        try expect(try status(o, t).isSuspended, "a refunded ticket is published suspended")
        try refused(try o.refund(t, channel: nil, wallMillis: Self.now), .alreadyRefunded, "refund twice")
    }

    /// A ticket a gate opened for (in an uploaded journal) cannot be refunded.
    public func refundUsedElectronicTicketRefused() throws {
        let o = try ops(Self.era2022)
        let t = try card(1, .electronicTicket)
        try seed(o, [t])
        try o.store.uploadJournal(
            gate: "g1",
            entries: [
                JournalEntry(
                    sequence: 1, wallMillis: Self.now, reader: 0, key: t, kind: .decision, decision: .open(.ok),
                    balanceFen: nil, dataVersion: 1, timings: StageTimings())
            ])
        try refused(try o.refund(t, channel: nil, wallMillis: Self.now), .ticketUsed, "used ticket")
        try expect(!(try status(o, t).isSuspended), "a refused refund changes nothing")
    }

    /// A refund goes through the channel the ticket was sold on.
    public func refundThroughTheSaleChannel() throws {
        let o = try ops(Self.era2024)
        let t = try card(1, .electronicTicket)
        try allowed(try o.sell(t, identityHash: nil, channel: "transit-app", wallMillis: Self.now), "sale")
        try refused(try o.refund(t, channel: "alipay", wallMillis: Self.now), .wrongChannel, "other channel")
        try allowed(try o.refund(t, channel: "transit-app", wallMillis: Self.now), "same channel")
        try expect(try status(o, t).isSuspended, "refunded")
    }

    // MARK: commemorative tickets

    /// A commemorative ticket is registered by its number (binding it), once.
    public func registerCommemorativeTicketByNumber() throws {
        let o = try ops(Self.era2022)
        try refused(
            try o.registerCommemorative(number: "not-a-number", identityHash: id(9), by: full, wallMillis: Self.now),
            .invalidTicketNumber, "bad number")
        let noCode = RegistrationRules.Identification.verificationCode(
            name: true, phone: true, verified: false, onBehalf: false)
        try refused(
            try o.registerCommemorative(number: "20220501", identityHash: id(9), by: noCode, wallMillis: Self.now),
            .verificationCodeRequired, "without code")
        try allowed(
            try o.registerCommemorative(number: "20220501", identityHash: id(9), by: full, wallMillis: Self.now),
            "register")
        guard let k = CardKey(medium: .commemorativeTicket, number: "20220501") else {
            throw ScenarioFailure("no commemorative key")
        }
        try expect(try status(o, k).binding == .bound, "a registered commemorative ticket is bound")
        try refused(
            try o.registerCommemorative(number: "20220501", identityHash: id(10), by: full, wallMillis: Self.now),
            .alreadyRegistered, "register twice")
    }

    // MARK: ride codes

    /// An app ride code is authorised with one consent tap, for an accepted issuer; it is then bound.
    public func authoriseRideCodeBindsTheAccount() throws {
        let o = try ops(Self.era2022)
        guard let k = CardKey(rideCodeIssuer: .alipay, account: 4242) else { throw ScenarioFailure("no ride code") }
        let all = UInt64.max
        try refused(
            try o.authoriseRideCode(
                k, consented: false, acceptedIssuers: all, identityHash: id(11), wallMillis: Self.now),
            .consentRequired, "no consent")
        try refused(
            try o.authoriseRideCode(
                k, consented: true, acceptedIssuers: 0, identityHash: id(11), wallMillis: Self.now),
            .issuerNotAccepted, "issuer not accepted")
        try refused(
            try o.authoriseRideCode(
                try card(1), consented: true, acceptedIssuers: all, identityHash: id(11), wallMillis: Self.now),
            .wrongMedium, "a card is not a ride code")
        try allowed(
            try o.authoriseRideCode(
                k, consented: true, acceptedIssuers: all, identityHash: id(11), wallMillis: Self.now),
            "authorise")
        try expect(try status(o, k).binding == .bound, "an authorised ride code is bound")
        try allowed(
            try o.authoriseRideCode(
                k, consented: true, acceptedIssuers: all, identityHash: id(11), wallMillis: Self.now),
            "authorise again")
        try expect(try o.store.operationLog(of: k).count == 2, "both authorisations logged")
    }
}

/// A scenario's expectation that did not hold.
public struct ScenarioFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ message: String, _ line: UInt = #line) { description = "line \(line): \(message)" }
}
