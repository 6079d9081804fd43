/// The rules of central operations (upgrade/bind, issue, top-up, return, ticket sales, refunds,
/// commemorative registration, ride-code authorisation), as pure functions of the era's
/// `OfficeRules` at the station and the facts the central store knows.
///
/// Each returns `.allowed(effects)` (what the store must record) or `.refused(reason)` with a
/// message for the clerk and rider. The store (SQLite / PostgreSQL) performs the effects; these
/// functions decide only.
public enum RegistrationRules {
    /// What the store knows about the card an operation is about.
    public struct CardFacts: Hashable, Sendable {
        public var key: CardKey
        /// A phone emulating the card (NFC): not a physical card for the one-card rule.
        public var isPhoneCard: Bool
        public var bound: Bool
        public var returned: Bool

        public init(key: CardKey, isPhoneCard: Bool = false, bound: Bool, returned: Bool = false) {
            self.key = key
            self.isPhoneCard = isPhoneCard
            self.bound = bound
            self.returned = returned
        }

        public var isPhysicalCard: Bool {
            !isPhoneCard && (key.medium == .transitCard || key.medium == .municipalCard)
        }
    }

    /// How the person to bind was identified.
    public enum Identification: Hashable, Sendable {
        /// Name and phone given, a code sent to that phone and entered back (`verified` true when
        /// the entered code matched). Covers binding on behalf of someone who passes on their code.
        case verificationCode(name: Bool, phone: Bool, verified: Bool, onBehalf: Bool)
        /// Staff at a window bind for a relative who gives that relative's ID number.
        case staffForRelative(idNumberGiven: Bool)
        /// The rider's own ID number taken at a window (issue, top-up, sale).
        case idNumber
    }

    public enum Effect: String, Hashable, Sendable, CaseIterable {
        case bindCard = "bind_card"
        case issueCard = "issue_card"
        case creditPurse = "credit_purse"
        case returnCard = "return_card"
        case sellTicket = "sell_ticket"
        case recordBuyerIdentity = "record_buyer_identity"
        case refundTicket = "refund_ticket"
        case registerTicket = "register_ticket"
        case authoriseRideCode = "authorise_ride_code"
    }

    public enum Verdict: Hashable, Sendable, CustomStringConvertible {
        case allowed([Effect])
        case refused(Refusal)

        public var isAllowed: Bool { if case .allowed = self { true } else { false } }
        public var refusal: Refusal? { if case .refused(let r) = self { r } else { nil } }

        public var description: String {
            switch self {
            case .allowed(let e): "allowed(\(e.map(\.rawValue).joined(separator: ",")))"
            case .refused(let r): "refused(\(r.rawValue)): \(r.messageEN)"
            }
        }
    }

    /// Why an operation was refused.
    public enum Refusal: String, Hashable, Sendable, CaseIterable {
        case nameRequired = "name_required"
        case phoneRequired = "phone_required"
        case verificationCodeRequired = "verification_code_required"
        case onBehalfNotAllowed = "on_behalf_not_allowed"
        case relativeBindingNotAllowed = "relative_binding_not_allowed"
        case idNumberRequired = "id_number_required"
        case alreadyBound = "already_bound"
        case oneCardPerPerson = "one_card_per_person"
        case notBindable = "not_bindable"
        case identityRequired = "identity_required"
        case cardReturned = "card_returned"
        case salesSuspended = "sales_suspended"
        case ticketUsed = "ticket_used"
        case alreadyRefunded = "already_refunded"
        case wrongChannel = "wrong_channel"
        case alreadyRegistered = "already_registered"
        case invalidTicketNumber = "invalid_ticket_number"
        case consentRequired = "consent_required"
        case issuerNotAccepted = "issuer_not_accepted"
        case wrongMedium = "wrong_medium"

        public var messageZH: String {
            switch self {
            case .nameRequired: "请填写姓名"
            case .phoneRequired: "请填写手机号"
            case .verificationCodeRequired: "请输入手机收到的验证码"
            case .onBehalfNotAllowed: "不支持代他人办理"
            case .relativeBindingNotAllowed: "当前不支持凭亲属证件号码代办"
            case .idNumberRequired: "请提供被代办人的证件号码"
            case .alreadyBound: "此卡已完成升级，绑定不可更改"
            case .oneCardPerPerson: "每人只能关联一张实体卡"
            case .notBindable: "此票卡不能通过此方式升级"
            case .identityRequired: "请提供身份信息"
            case .cardReturned: "此卡已退卡"
            case .salesSuspended: "电子单程票暂停发售"
            case .ticketUsed: "已使用的车票不能退票"
            case .alreadyRefunded: "此票已退票"
            case .wrongChannel: "请在原购买渠道办理退票"
            case .alreadyRegistered: "此纪念票已登记"
            case .invalidTicketNumber: "纪念票票号无效"
            case .consentRequired: "请点击“已阅并同意”完成授权"
            case .issuerNotAccepted: "暂不支持此APP乘车码"
            case .wrongMedium: "此业务不适用于该票卡"
            }
        }

        public var messageEN: String {
            switch self {
            case .nameRequired: "Name required"
            case .phoneRequired: "Phone number required"
            case .verificationCodeRequired: "Enter the verification code sent to the phone"
            case .onBehalfNotAllowed: "Binding on behalf of someone else is not allowed"
            case .relativeBindingNotAllowed: "Binding for a relative by their ID number is not allowed in this era"
            case .idNumberRequired: "The relative's ID number is required"
            case .alreadyBound: "Card already upgraded: a binding is permanent"
            case .oneCardPerPerson: "One person may bind only one physical card"
            case .notBindable: "This medium cannot be bound this way"
            case .identityRequired: "Identity required at this station"
            case .cardReturned: "Card has been returned"
            case .salesSuspended: "Electronic single-journey ticket sales are suspended"
            case .ticketUsed: "A used ticket cannot be refunded"
            case .alreadyRefunded: "Ticket already refunded"
            case .wrongChannel: "Refund through the channel the ticket was bought on"
            case .alreadyRegistered: "Commemorative ticket already registered"
            case .invalidTicketNumber: "Not a valid commemorative ticket number"
            case .consentRequired: "Tap 'read and agree' to authorise"
            case .issuerNotAccepted: "Ride codes of this app are not accepted"
            case .wrongMedium: "This operation does not apply to this medium"
            }
        }
    }

    /// Upgrade (bind) a card to a person. Permanent once made; a physical card counts against the
    /// era's per-identity limit (`physicalCardsOfIdentity`: physical cards already bound to them).
    public static func bind(
        _ card: CardFacts, by identification: Identification, physicalCardsOfIdentity: Int, rules: OfficeRules
    ) -> Verdict {
        guard card.key.medium == .transitCard || card.key.medium == .municipalCard else {
            return .refused(.notBindable)
        }
        if card.returned { return .refused(.cardReturned) }
        if card.bound { return .refused(.alreadyBound) }
        if let r = identificationRefusal(identification, rules: rules) { return .refused(r) }
        if card.isPhysicalCard, rules.maxPhysicalCardsPerIdentity > 0,
            physicalCardsOfIdentity >= rules.maxPhysicalCardsPerIdentity
        {
            return .refused(.oneCardPerPerson)
        }
        return .allowed([.bindCard])
    }

    static func identificationRefusal(_ identification: Identification, rules: OfficeRules) -> Refusal? {
        switch identification {
        case .verificationCode(let name, let phone, let verified, let onBehalf):
            if !name { return .nameRequired }
            if !phone { return .phoneRequired }
            if onBehalf && !rules.bindOnBehalfWithCode { return .onBehalfNotAllowed }
            if !verified { return .verificationCodeRequired }
            return nil
        case .staffForRelative(let idNumberGiven):
            if !rules.staffBindForRelative { return .relativeBindingNotAllowed }
            if !idNumberGiven { return .idNumberRequired }
            return nil
        case .idNumber:
            return nil
        }
    }

    /// Issue a new card. Where identity is required, the new card is bound to the identity given
    /// (and counts against the per-identity limit).
    public static func issueCard(identityGiven: Bool, physicalCardsOfIdentity: Int, rules: OfficeRules) -> Verdict {
        guard identityGiven else {
            return rules.identityForIssue ? .refused(.identityRequired) : .allowed([.issueCard])
        }
        if rules.maxPhysicalCardsPerIdentity > 0, physicalCardsOfIdentity >= rules.maxPhysicalCardsPerIdentity {
            return .refused(.oneCardPerPerson)
        }
        return .allowed([.issueCard, .bindCard])
    }

    /// Top up a card. An unbound card is topped up without identity only where the era does not
    /// ask for it (2023 anonymous stations); elsewhere giving an identity binds it for good.
    public static func topUp(
        _ card: CardFacts, identityGiven: Bool, physicalCardsOfIdentity: Int, rules: OfficeRules
    ) -> Verdict {
        guard card.key.medium == .transitCard || card.key.medium == .municipalCard else {
            return .refused(.wrongMedium)
        }
        if card.returned { return .refused(.cardReturned) }
        if card.bound || !rules.identityForTopUp { return .allowed([.creditPurse]) }
        guard identityGiven else { return .refused(.identityRequired) }
        if card.isPhysicalCard, rules.maxPhysicalCardsPerIdentity > 0,
            physicalCardsOfIdentity >= rules.maxPhysicalCardsPerIdentity
        {
            return .refused(.oneCardPerPerson)
        }
        return .allowed([.bindCard, .creditPurse])
    }

    /// Return a card: never needs identity, in every era.
    public static func returnCard(_ card: CardFacts) -> Verdict {
        guard card.key.medium == .transitCard || card.key.medium == .municipalCard else {
            return .refused(.wrongMedium)
        }
        return card.returned ? .refused(.cardReturned) : .allowed([.returnCard])
    }

    /// Sell a single-journey or welfare ticket at the station (the buyer's ID number where required;
    /// staff may help children and the elderly, but the ID number is still taken).
    public static func sellTicket(_ medium: Medium, idNumberGiven: Bool, rules: OfficeRules) -> Verdict {
        switch medium {
        case .singleJourneyTicket, .welfareTicket:
            if rules.identityForTicketSale {
                return idNumberGiven ? .allowed([.sellTicket, .recordBuyerIdentity]) : .refused(.identityRequired)
            }
            return .allowed([.sellTicket])
        case .electronicTicket:
            return rules.electronicTicketSales ? .allowed([.sellTicket]) : .refused(.salesSuspended)
        default:
            return .refused(.wrongMedium)
        }
    }

    /// Refund an unused electronic single-journey ticket through the channel it was bought on.
    public static func refundElectronicTicket(used: Bool, refunded: Bool, sameChannel: Bool, rules: OfficeRules)
        -> Verdict
    {
        if refunded { return .refused(.alreadyRefunded) }
        if used { return .refused(.ticketUsed) }
        if !sameChannel { return .refused(.wrongChannel) }
        return rules.refundUnusedElectronicTickets ? .allowed([.refundTicket]) : .refused(.salesSuspended)
    }

    /// Register a commemorative ticket by its number (name, phone, verification code as for a card).
    public static func registerCommemorativeTicket(
        number: String, alreadyRegistered: Bool, by identification: Identification, rules: OfficeRules
    ) -> Verdict {
        guard CardKey(medium: .commemorativeTicket, number: number) != nil else {
            return .refused(.invalidTicketNumber)
        }
        if alreadyRegistered { return .refused(.alreadyRegistered) }
        if let r = identificationRefusal(identification, rules: rules) { return .refused(r) }
        return .allowed([.registerTicket])
    }

    /// Authorise the health link of an app ride code: one tap ("read and agree") in the app,
    /// for an issuer the era accepts. Idempotent: authorising again is allowed.
    public static func authoriseRideCode(_ key: CardKey, consented: Bool, acceptedIssuers: UInt64) -> Verdict {
        guard key.medium == .rideCode else { return .refused(.wrongMedium) }
        guard let issuer = key.rideCodeIssuer, acceptedIssuers & issuer.bit != 0 else {
            return .refused(.issuerNotAccepted)
        }
        return consented ? .allowed([.authoriseRideCode]) : .refused(.consentRequired)
    }
}
