/// The one JSON form of a gate's rules, used by the rule sets of policy files (`gate_rules`) and by
/// the inline `policy` of a gate configuration:
/// ```json
/// { "health_check": true, "unbound_card": "open", "health_yellow": "staff", "health_red": "deny",
///   "health_unknown": "staff", "unknown_card": "staff", "stale_data": "staff",
///   "minimum_balance_fen": 1, "max_data_age_seconds": 21600,
///   "unregistered_ticket": "deny", "unauthorised_ride_code": "deny",
///   "accepted_media": ["transit-card", …], "suspended_media": ["electronic-ticket"],
///   "accepted_ride_code_issuers": ["transit-app", …], "note": "why these rules" }
/// ```
/// Outcomes are `open`, `deny` or `staff`; media and issuers are their `NamedCase` names.
extension GatePolicy: JSONSettings {
    public static var defaults: GatePolicy { GatePolicy() }

    public static var fields: [JSONField<GatePolicy>] {
        [
            .value("health_check", \.healthCheck), .name("unbound_card", \.unboundCard),
            .name("health_yellow", \.healthYellow), .name("health_red", \.healthRed),
            .name("health_unknown", \.healthUnknown), .name("unknown_card", \.unknownCard),
            .name("stale_data", \.staleData), .value("minimum_balance_fen", \.minimumBalanceFen, in: 0...Int32.max),
            .value("max_data_age_seconds", \.maxDataAgeSeconds, in: 1...(366 * 86400)),
            .name("unregistered_ticket", \.unregisteredTicket), .name("unauthorised_ride_code", \.unauthorisedRideCode),
            .bits("accepted_media", \.acceptedMedia, of: Medium.self, bit: GatePolicy.bit(of:)),
            .bits("suspended_media", \.suspendedMedia, of: Medium.self, bit: GatePolicy.bit(of:)),
            .bits("accepted_ride_code_issuers", \.acceptedRideCodeIssuers, of: RideCodeIssuer.self, bit: \.bit),
            .comment("note"),
        ]
    }

    /// A rule set of a policy file: see `init(from:defaults:)`.
    public init(from decoder: any Decoder) throws { try self.init(from: decoder, defaults: nil) }

    /// - Parameter defaults: nil for a rule set of a policy file, where every rule is required but
    ///   the media and issuer lists (absent: all accepted, none suspended). The inline policy of a
    ///   configuration passes the era it adjusts: then every key is optional and an absent one
    ///   keeps its value.
    public init(from decoder: any Decoder, defaults: GatePolicy?) throws {
        try self.init(from: decoder, base: defaults ?? GatePolicy(), required: defaults == nil)
    }
}

/// The office rule sets of a policy file (`office_rules`); every rule is required.
extension OfficeRules: JSONSettings {
    public static var defaults: OfficeRules { OfficeRules() }

    public static var fields: [JSONField<OfficeRules>] {
        [
            .value("identity_for_issue", \.identityForIssue), .value("identity_for_top_up", \.identityForTopUp),
            .value("identity_for_ticket_sale", \.identityForTicketSale),
            .value("max_physical_cards_per_identity", \.maxPhysicalCardsPerIdentity, in: 0...1000),
            .value("bind_on_behalf_with_code", \.bindOnBehalfWithCode),
            .value("staff_bind_for_relative", \.staffBindForRelative),
            .value("electronic_ticket_sales", \.electronicTicketSales),
            .value("refund_unused_electronic_tickets", \.refundUnusedElectronicTickets), .comment("note"),
        ]
    }

    public init(from decoder: any Decoder) throws { try self.init(from: decoder, base: OfficeRules(), required: true) }
}
