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
extension GatePolicy: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case healthCheck = "health_check"
        case unboundCard = "unbound_card"
        case healthYellow = "health_yellow"
        case healthRed = "health_red"
        case healthUnknown = "health_unknown"
        case unknownCard = "unknown_card"
        case staleData = "stale_data"
        case minimumBalanceFen = "minimum_balance_fen"
        case maxDataAgeSeconds = "max_data_age_seconds"
        case unregisteredTicket = "unregistered_ticket"
        case unauthorisedRideCode = "unauthorised_ride_code"
        case acceptedMedia = "accepted_media"
        case suspendedMedia = "suspended_media"
        case acceptedRideCodeIssuers = "accepted_ride_code_issuers"
        case note
    }

    /// A rule set of a policy file: see `init(from:defaults:)`.
    public init(from decoder: any Decoder) throws { try self.init(from: decoder, defaults: nil) }

    /// - Parameter defaults: nil for a rule set of a policy file, where the rules every era must
    ///   state (the health check, every outcome, balance, data age) are required and the media and
    ///   issuer lists default to all (none suspended). The inline policy of a configuration
    ///   passes the era it adjusts: then every field is optional and an absent one keeps its value.
    public init(from decoder: any Decoder, defaults: GatePolicy?) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let base = defaults ?? GatePolicy()
        func value<T: Decodable & Comparable>(_ key: CodingKeys, in range: ClosedRange<T>, _ fallback: T) throws -> T {
            defaults == nil
                ? try c.decode(T.self, forKey: key, in: range)
                : try c.decodeIfPresent(T.self, forKey: key, in: range) ?? fallback
        }
        func outcome(_ key: CodingKeys, _ fallback: Decision.Outcome) throws -> Decision.Outcome {
            defaults == nil
                ? try c.decodeName(Decision.Outcome.self, forKey: key)
                : try c.decodeNameIfPresent(Decision.Outcome.self, forKey: key) ?? fallback
        }
        func mask<T: NamedCase>(_ type: T.Type, _ key: CodingKeys, _ fallback: UInt64, bit: (T) -> UInt64) throws
            -> UInt64
        {
            try c.decodeNamesIfPresent(type, forKey: key)?.reduce(0) { $0 | bit($1) } ?? fallback
        }
        _ = try c.decodeIfPresent(String.self, forKey: .note)
        self.init(
            healthCheck: defaults == nil
                ? try c.decode(Bool.self, forKey: .healthCheck)
                : try c.decodeIfPresent(Bool.self, forKey: .healthCheck) ?? base.healthCheck,
            unboundCard: try outcome(.unboundCard, base.unboundCard),
            healthYellow: try outcome(.healthYellow, base.healthYellow),
            healthRed: try outcome(.healthRed, base.healthRed),
            healthUnknown: try outcome(.healthUnknown, base.healthUnknown),
            unknownCard: try outcome(.unknownCard, base.unknownCard),
            minimumBalanceFen: try value(.minimumBalanceFen, in: 0...Int32.max, base.minimumBalanceFen),
            maxDataAgeSeconds: try value(.maxDataAgeSeconds, in: 1...(366 * 86400), base.maxDataAgeSeconds),
            staleData: try outcome(.staleData, base.staleData),
            unregisteredTicket: try outcome(.unregisteredTicket, base.unregisteredTicket),
            unauthorisedRideCode: try outcome(.unauthorisedRideCode, base.unauthorisedRideCode),
            acceptedMedia: try mask(Medium.self, .acceptedMedia, base.acceptedMedia, bit: GatePolicy.bit(of:)),
            suspendedMedia: try mask(Medium.self, .suspendedMedia, base.suspendedMedia, bit: GatePolicy.bit(of:)),
            acceptedRideCodeIssuers: try mask(
                RideCodeIssuer.self, .acceptedRideCodeIssuers, base.acceptedRideCodeIssuers, bit: \.bit))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(healthCheck, forKey: .healthCheck)
        for (key, outcome) in [
            (CodingKeys.unboundCard, unboundCard), (.healthYellow, healthYellow), (.healthRed, healthRed),
            (.healthUnknown, healthUnknown), (.unknownCard, unknownCard), (.staleData, staleData),
            (.unregisteredTicket, unregisteredTicket), (.unauthorisedRideCode, unauthorisedRideCode),
        ] {
            try c.encodeName(outcome, forKey: key)
        }
        try c.encode(minimumBalanceFen, forKey: .minimumBalanceFen)
        try c.encode(maxDataAgeSeconds, forKey: .maxDataAgeSeconds)
        try c.encodeNames(
            Medium.allCases.filter { acceptedMedia & GatePolicy.bit(of: $0) != 0 }, forKey: .acceptedMedia)
        try c.encodeNames(
            Medium.allCases.filter { suspendedMedia & GatePolicy.bit(of: $0) != 0 }, forKey: .suspendedMedia)
        try c.encodeNames(
            RideCodeIssuer.allCases.filter { acceptedRideCodeIssuers & $0.bit != 0 }, forKey: .acceptedRideCodeIssuers)
    }
}

/// The office rule sets of a policy file (`office_rules`); every rule is required.
extension OfficeRules: Decodable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case identityForIssue = "identity_for_issue"
        case identityForTopUp = "identity_for_top_up"
        case identityForTicketSale = "identity_for_ticket_sale"
        case maxPhysicalCardsPerIdentity = "max_physical_cards_per_identity"
        case bindOnBehalfWithCode = "bind_on_behalf_with_code"
        case staffBindForRelative = "staff_bind_for_relative"
        case electronicTicketSales = "electronic_ticket_sales"
        case refundUnusedElectronicTickets = "refund_unused_electronic_tickets"
        case note
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        _ = try c.decodeIfPresent(String.self, forKey: .note)
        self.init(
            identityForIssue: try c.decode(Bool.self, forKey: .identityForIssue),
            identityForTopUp: try c.decode(Bool.self, forKey: .identityForTopUp),
            identityForTicketSale: try c.decode(Bool.self, forKey: .identityForTicketSale),
            maxPhysicalCardsPerIdentity: try c.decode(Int.self, forKey: .maxPhysicalCardsPerIdentity, in: 0...1000),
            bindOnBehalfWithCode: try c.decode(Bool.self, forKey: .bindOnBehalfWithCode),
            staffBindForRelative: try c.decode(Bool.self, forKey: .staffBindForRelative),
            electronicTicketSales: try c.decode(Bool.self, forKey: .electronicTicketSales),
            refundUnusedElectronicTickets: try c.decode(Bool.self, forKey: .refundUnusedElectronicTickets))
    }
}
