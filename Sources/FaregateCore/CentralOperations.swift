/// Central operations (issue, bind, top-up, return, ticket sales, refunds, commemorative
/// registration, ride-code authorisation) carried out in a central store under the era's rules.
///
/// `RegistrationRules` decides from facts; this type reads those facts from the store, asks the
/// rules, and has the store perform the allowed effects. Identities reach the store only as keyed
/// hashes: names, phone numbers and verification codes are checked as present by the caller and
/// never passed here.

/// What the central store knows about one card, ticket or ride code for an operation.
public struct CentralCardFacts: Hashable, Sendable {
    public var key: CardKey
    public var bound: Bool
    public var returned: Bool
    /// Stopped at the gates (a refunded electronic ticket).
    public var suspended: Bool
    /// A gate journal uploaded to the store holds an opened passage with this key.
    public var used: Bool
    /// The channel a ticket was sold on, when the store recorded the sale.
    public var saleChannel: String?

    public init(
        key: CardKey, bound: Bool, returned: Bool = false, suspended: Bool = false, used: Bool = false,
        saleChannel: String? = nil
    ) {
        self.key = key
        self.bound = bound
        self.returned = returned
        self.suspended = suspended
        self.used = used
        self.saleChannel = saleChannel
    }
}

/// One allowed operation for the store to carry out, in one transaction.
public struct CentralOperation: Hashable, Sendable {
    /// The operation's name in the store's operation log (`issue`, `top-up`, …).
    public var name: String
    public var key: CardKey
    public var cardType: CardType
    /// What the rules allowed; the store performs exactly these.
    public var effects: [RegistrationRules.Effect]
    /// Keyed hash of the identity's ID number, for `bindCard`, `recordBuyerIdentity`,
    /// `registerTicket` and `authoriseRideCode`.
    public var identityHash: [UInt8]?
    /// Amount credited (`creditPurse`), in fen.
    public var amountFen: Int64
    /// Where it happened (station, or the sale channel of a ticket).
    public var channel: String?
    /// A phone emulating the card: recorded, and not counted as a physical card.
    public var isPhoneCard: Bool
    /// The era's limit of physical cards per identity (0: none), re-checked by the store in the
    /// binding's transaction so two concurrent bindings cannot both pass it.
    public var maxPhysicalCardsPerIdentity: Int

    public init(
        name: String, key: CardKey, cardType: CardType = .normal, effects: [RegistrationRules.Effect],
        identityHash: [UInt8]? = nil, amountFen: Int64 = 0, channel: String? = nil, isPhoneCard: Bool = false,
        maxPhysicalCardsPerIdentity: Int = 0
    ) {
        self.name = name
        self.key = key
        self.cardType = cardType
        self.effects = effects
        self.identityHash = identityHash
        self.amountFen = amountFen
        self.channel = channel
        self.isPhoneCard = isPhoneCard
        self.maxPhysicalCardsPerIdentity = maxPhysicalCardsPerIdentity
    }

    /// True when the operation binds the card to `identityHash`.
    public var binds: Bool {
        identityHash != nil
            && !Set(effects).isDisjoint(with: [.bindCard, .recordBuyerIdentity, .registerTicket, .authoriseRideCode])
    }

    /// True when the bound card counts against the per-identity limit.
    public var isPhysicalCard: Bool { !isPhoneCard && (key.medium == .transitCard || key.medium == .municipalCard) }
}

extension CentralOperation {
    /// Effects from their comma-separated raw values (the operation log's form); unknown ones dropped.
    public static func effects(_ text: String) -> [RegistrationRules.Effect] {
        text.split(separator: ",").compactMap { RegistrationRules.Effect(rawValue: String($0)) }
    }
}

/// A central store that carries out operations (both backends).
///
/// `perform` applies the effects in one transaction and records the changed card for publication.
/// The era's rules are checked before, by `CentralOperations`; inside the transaction the store
/// re-checks what concurrent operations could break (a binding made twice, the per-identity limit)
/// and returns that refusal with nothing written. A card issued or sold twice throws `.refused`.
public protocol CentralOperationsStore: CentralAdminStore {
    /// The card's facts, or nil when the store does not know the key.
    func cardFacts(_ key: CardKey) throws(CentralStoreError) -> CentralCardFacts?
    /// How many physical cards (transit and municipal media, not phones) are bound to the identity.
    func physicalCardsBound(identityHash: [UInt8]) throws(CentralStoreError) -> Int
    /// Carries out an allowed operation.
    func perform(_ operation: CentralOperation, wallMillis: Int64) throws(CentralStoreError)
        -> RegistrationRules.Refusal?
    /// The operations recorded for `key`, oldest first (identity hashes are not logged: nil).
    func operationLog(of key: CardKey) throws(CentralStoreError) -> [CentralOperation]
}

/// The central operations: read facts, apply the era's rules, perform.
public struct CentralOperations {
    public var store: any CentralOperationsStore
    public var rules: OfficeRules
    /// The station (or channel) the operation happens at, recorded in the operation log.
    public var station: String?

    public init(store: any CentralOperationsStore, rules: OfficeRules, station: String? = nil) {
        self.store = store
        self.rules = rules
        self.station = station
    }

    func facts(_ key: CardKey) throws(CentralStoreError) -> CentralCardFacts {
        guard let f = try store.cardFacts(key) else { throw CentralStoreError(.refused, "card \(key) is unknown") }
        return f
    }

    func cards(of hash: [UInt8]?) throws(CentralStoreError) -> Int {
        guard let hash else { return 0 }
        return try store.physicalCardsBound(identityHash: hash)
    }

    func run(
        _ name: String, _ key: CardKey, _ verdict: RegistrationRules.Verdict, cardType: CardType = .normal,
        identityHash: [UInt8]? = nil, amountFen: Int64 = 0, channel: String? = nil, isPhoneCard: Bool = false,
        wallMillis: Int64
    ) throws(CentralStoreError) -> RegistrationRules.Verdict {
        guard case .allowed(let effects) = verdict else { return verdict }
        let op = CentralOperation(
            name: name, key: key, cardType: cardType, effects: effects, identityHash: identityHash,
            amountFen: amountFen, channel: channel ?? station, isPhoneCard: isPhoneCard,
            maxPhysicalCardsPerIdentity: rules.maxPhysicalCardsPerIdentity)
        if let refusal = try store.perform(op, wallMillis: wallMillis) { return .refused(refusal) }
        return verdict
    }

    /// Issues the new card `key`; with an identity, binds it to that identity.
    public func issue(_ key: CardKey, cardType: CardType = .normal, identityHash: [UInt8]?, wallMillis: Int64)
        throws(CentralStoreError) -> RegistrationRules.Verdict
    {
        guard key.medium == .transitCard || key.medium == .municipalCard else {
            return .refused(.wrongMedium)
        }
        if try store.cardFacts(key) != nil { throw CentralStoreError(.refused, "card \(key) already exists") }
        let v = RegistrationRules.issueCard(
            identityGiven: identityHash != nil, physicalCardsOfIdentity: try cards(of: identityHash), rules: rules)
        return try run("issue", key, v, cardType: cardType, identityHash: identityHash, wallMillis: wallMillis)
    }

    /// Upgrades (binds) `key` to the identity. `identification` says how the person was identified
    /// (name, phone and verification code, possibly on behalf; or staff for a relative).
    public func bind(
        _ key: CardKey, identityHash: [UInt8], by identification: RegistrationRules.Identification,
        isPhoneCard: Bool = false, wallMillis: Int64
    ) throws(CentralStoreError) -> RegistrationRules.Verdict {
        let f = try facts(key)
        let v = RegistrationRules.bind(
            RegistrationRules.CardFacts(key: key, isPhoneCard: isPhoneCard, bound: f.bound, returned: f.returned),
            by: identification, physicalCardsOfIdentity: try cards(of: identityHash), rules: rules)
        return try run("bind", key, v, identityHash: identityHash, isPhoneCard: isPhoneCard, wallMillis: wallMillis)
    }

    /// Tops `key` up by `amountFen`; an identity given for an unbound card binds it.
    public func topUp(
        _ key: CardKey, amountFen: Int64, identityHash: [UInt8]?, isPhoneCard: Bool = false, wallMillis: Int64
    ) throws(CentralStoreError) -> RegistrationRules.Verdict {
        guard amountFen > 0 else { throw CentralStoreError(.refused, "a top-up needs a positive amount") }
        let f = try facts(key)
        var v = RegistrationRules.topUp(
            RegistrationRules.CardFacts(key: key, isPhoneCard: isPhoneCard, bound: f.bound, returned: f.returned),
            identityGiven: identityHash != nil, physicalCardsOfIdentity: try cards(of: identityHash), rules: rules)
        // Identity given once, anywhere (an anonymous station included), binds the card for good;
        // the store checks the per-identity limit.
        if case .allowed(let effects) = v, identityHash != nil, !f.bound, !effects.contains(.bindCard) {
            v = .allowed([.bindCard] + effects)
        }
        return try run(
            "top-up", key, v, identityHash: identityHash, amountFen: amountFen, isPhoneCard: isPhoneCard,
            wallMillis: wallMillis)
    }

    /// Returns `key` (no identity needed): the card stops riding.
    public func returnCard(_ key: CardKey, wallMillis: Int64) throws(CentralStoreError) -> RegistrationRules.Verdict {
        let f = try facts(key)
        let v = RegistrationRules.returnCard(
            RegistrationRules.CardFacts(key: key, bound: f.bound, returned: f.returned))
        return try run("return", key, v, wallMillis: wallMillis)
    }

    /// Sells the ticket `key` (single-journey, welfare or electronic); the buyer's identity, where
    /// taken, is bound to the ticket.
    public func sell(_ key: CardKey, identityHash: [UInt8]?, channel: String? = nil, wallMillis: Int64)
        throws(CentralStoreError) -> RegistrationRules.Verdict
    {
        guard let medium = key.medium else { return .refused(.wrongMedium) }
        if try store.cardFacts(key) != nil { throw CentralStoreError(.refused, "ticket \(key) already exists") }
        var v = RegistrationRules.sellTicket(medium, idNumberGiven: identityHash != nil, rules: rules)
        // Identity given once binds for good: an identity given where the era does not ask for it
        // is still bound to the ticket (electronic tickets are bound to their app account instead).
        let bindBuyer = identityHash != nil && medium != .electronicTicket
        if case .allowed(let effects) = v, bindBuyer, !effects.contains(.recordBuyerIdentity) {
            v = .allowed(effects + [.recordBuyerIdentity])
        }
        return try run(
            "sell", key, v, identityHash: bindBuyer ? identityHash : nil, channel: channel, wallMillis: wallMillis)
    }

    /// Refunds the unused electronic ticket `key` bought on `channel`: it is suspended at the gates.
    public func refund(_ key: CardKey, channel: String?, wallMillis: Int64) throws(CentralStoreError)
        -> RegistrationRules.Verdict
    {
        guard key.medium == .electronicTicket else { return .refused(.wrongMedium) }
        let f = try facts(key)
        let same = f.saleChannel == nil || f.saleChannel == channel
        let v = RegistrationRules.refundElectronicTicket(
            used: f.used, refunded: f.suspended, sameChannel: same, rules: rules)
        return try run("refund", key, v, channel: channel, wallMillis: wallMillis)
    }

    /// Registers the commemorative ticket `number` to the identity (added to the store when new).
    public func registerCommemorative(
        number: String, identityHash: [UInt8], by identification: RegistrationRules.Identification, wallMillis: Int64
    ) throws(CentralStoreError) -> RegistrationRules.Verdict {
        guard let key = CardKey(medium: .commemorativeTicket, number: number) else {
            return .refused(.invalidTicketNumber)
        }
        let f = try store.cardFacts(key)
        let v = RegistrationRules.registerCommemorativeTicket(
            number: number, alreadyRegistered: f?.bound ?? false, by: identification, rules: rules)
        return try run("register", key, v, identityHash: identityHash, wallMillis: wallMillis)
    }

    /// Authorises the ride code `key` of an app account (added when new) and binds it to the
    /// account holder's identity; authorising again is allowed and changes nothing.
    public func authoriseRideCode(
        _ key: CardKey, consented: Bool, acceptedIssuers: UInt64, identityHash: [UInt8], wallMillis: Int64
    ) throws(CentralStoreError) -> RegistrationRules.Verdict {
        let v = RegistrationRules.authoriseRideCode(key, consented: consented, acceptedIssuers: acceptedIssuers)
        return try run("authorise", key, v, identityHash: identityHash, wallMillis: wallMillis)
    }
}
