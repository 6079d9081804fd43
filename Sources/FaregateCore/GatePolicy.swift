/// The rules one gate applies to a tap, as data.
///
/// This is the walking skeleton's policy: one set of rules for the whole gate. The policy-engine
/// issue turns it into eras, per-line and per-station rules and shadow mode; it stays a value
/// that the decision loop reads and never mutates.
public struct GatePolicy: Hashable, Sendable {
    /// Check the health status linked to the medium (the 2022 health-check era).
    public var healthCheck: Bool
    /// What to do with an unbound transit card while health checks are on.
    public var unboundCard: Decision.Outcome
    public var healthYellow: Decision.Outcome
    public var healthRed: Decision.Outcome
    public var healthUnknown: Decision.Outcome
    /// A medium whose key is not in the table at all.
    public var unknownCard: Decision.Outcome
    /// Lowest purse balance (fen) that still opens for a stored-value card.
    public var minimumBalanceFen: Int32
    /// Data older than this (seconds since the last verified sync) counts as stale.
    public var maxDataAgeSeconds: Int
    /// What a stale gate does with a tap that would otherwise depend on the table.
    public var staleData: Decision.Outcome
    /// What to do with an unregistered commemorative ticket while health checks are on.
    public var unregisteredTicket: Decision.Outcome
    /// What to do with a ride code whose account has not authorised the health link.
    public var unauthorisedRideCode: Decision.Outcome
    /// Media the gate accepts, one bit per `Medium.rawValue` (`GatePolicy.bit(of:)`).
    public var acceptedMedia: UInt64
    /// Media whose tickets are suspended (electronic tickets while health checks are on): denied
    /// with `ticketSuspended` rather than `unsupportedMedium`.
    public var suspendedMedia: UInt64
    /// Ride-code issuers accepted, one bit per `RideCodeIssuer.rawValue`.
    public var acceptedRideCodeIssuers: UInt64

    public init(
        healthCheck: Bool = true, unboundCard: Decision.Outcome = .deny, healthYellow: Decision.Outcome = .staff,
        healthRed: Decision.Outcome = .deny, healthUnknown: Decision.Outcome = .staff,
        unknownCard: Decision.Outcome = .staff, minimumBalanceFen: Int32 = 1, maxDataAgeSeconds: Int = 6 * 3600,
        staleData: Decision.Outcome = .staff, unregisteredTicket: Decision.Outcome = .deny,
        unauthorisedRideCode: Decision.Outcome = .deny, acceptedMedia: UInt64 = GatePolicy.allMedia,
        suspendedMedia: UInt64 = 0, acceptedRideCodeIssuers: UInt64 = GatePolicy.allIssuers
    ) {
        self.healthCheck = healthCheck
        self.unboundCard = unboundCard
        self.healthYellow = healthYellow
        self.healthRed = healthRed
        self.healthUnknown = healthUnknown
        self.unknownCard = unknownCard
        self.minimumBalanceFen = minimumBalanceFen
        self.maxDataAgeSeconds = maxDataAgeSeconds
        self.staleData = staleData
        self.unregisteredTicket = unregisteredTicket
        self.unauthorisedRideCode = unauthorisedRideCode
        self.acceptedMedia = acceptedMedia
        self.suspendedMedia = suspendedMedia
        self.acceptedRideCodeIssuers = acceptedRideCodeIssuers
    }

    /// Every medium's bit.
    public static let allMedia: UInt64 = Medium.allCases.reduce(0) { $0 | bit(of: $1) }
    /// Every issuer's bit.
    public static let allIssuers: UInt64 = RideCodeIssuer.allCases.reduce(0) { $0 | $1.bit }

    /// The bit of `medium` in `acceptedMedia` / `suspendedMedia`.
    @inlinable public static func bit(of medium: Medium) -> UInt64 { 1 << UInt64(medium.rawValue & 63) }

    /// The 2022 health-check era as the skeleton runs it.
    public static let healthCheckEra = GatePolicy()
}

/// What the decision needs to know besides the tap and the table entry.
public struct DecisionContext: Sendable, Hashable {
    /// Today in the gate's time zone, for validity dates.
    public var today: CalendarDate
    /// Seconds since the last verified sync of the table; nil when the table was never synced.
    public var dataAgeSeconds: Int?

    public init(today: CalendarDate, dataAgeSeconds: Int?) {
        self.today = today
        self.dataAgeSeconds = dataAgeSeconds
    }
}
