/// The rules of the ticket office, registration and apps in one era at one station, as data.
///
/// The gate never sees these; `RegistrationRules` applies them to central operations.
public struct OfficeRules: Hashable, Sendable {
    /// A new card is issued only to someone who gives an identity.
    public var identityForIssue: Bool
    /// A top-up asks for an identity when the card is not yet bound (an unbound card cannot be
    /// topped up without giving one; giving one binds the card for good).
    public var identityForTopUp: Bool
    /// Single-journey and welfare tickets are sold only against the buyer's ID number.
    public var identityForTicketSale: Bool
    /// Most physical cards one identity may have bound; 0 means no limit.
    public var maxPhysicalCardsPerIdentity: Int
    /// A card may be bound on behalf of someone who passes on the code sent to their phone.
    public var bindOnBehalfWithCode: Bool
    /// Staff may bind a card for a relative who gives that relative's ID number.
    public var staffBindForRelative: Bool
    /// Electronic single-journey tickets are on sale.
    public var electronicTicketSales: Bool
    /// Unused electronic single-journey tickets are refunded through the channel they were bought on.
    public var refundUnusedElectronicTickets: Bool

    public init(
        identityForIssue: Bool = true, identityForTopUp: Bool = true, identityForTicketSale: Bool = true,
        maxPhysicalCardsPerIdentity: Int = 1, bindOnBehalfWithCode: Bool = true, staffBindForRelative: Bool = false,
        electronicTicketSales: Bool = false, refundUnusedElectronicTickets: Bool = true
    ) {
        self.identityForIssue = identityForIssue
        self.identityForTopUp = identityForTopUp
        self.identityForTicketSale = identityForTicketSale
        self.maxPhysicalCardsPerIdentity = maxPhysicalCardsPerIdentity
        self.bindOnBehalfWithCode = bindOnBehalfWithCode
        self.staffBindForRelative = staffBindForRelative
        self.electronicTicketSales = electronicTicketSales
        self.refundUnusedElectronicTickets = refundUnusedElectronicTickets
    }

    /// True when this station sells, issues and tops up without identity (a 2023 "anonymous station").
    public var isAnonymous: Bool { !identityForIssue && !identityForTopUp && !identityForTicketSale }
}
