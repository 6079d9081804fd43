import FaregateCore

/// A medium a simulated reader can be shown, described by what a successful read yields, with
/// the faults (`CardFault`, the same vocabulary as virtual cards) its tap is to produce.
///
/// A transit or municipal card becomes a chip (`smartCard`) that `CardApplicationReader` reads
/// APDU by APDU, faults applied by `SimulatedSmartCard`. Media without an APDU application (QR
/// ride codes, ticket tokens) are read by a code scanner in one step (`scannedResult`).
public struct SimulatedCard: Hashable, Sendable {
    public var read: CardRead
    public var faults: [CardFault]

    public init(read: CardRead, faults: [CardFault] = []) {
        self.read = read
        self.faults = faults
    }

    /// A T-Union card with the given 19-digit number, a purse and a validity window.
    public static func transit(
        _ number: UInt64, balanceFen: Int32 = 10_000, cardType: CardType = .normal,
        validFrom: CalendarDate? = CalendarDate(year: 2020, month: 1, day: 1),
        validUntil: CalendarDate? = CalendarDate(year: 2030, month: 12, day: 31)
    ) -> SimulatedCard {
        let key = CardKey(medium: .transitCard, identifier: number) ?? CardKey(rawValue: 0)
        return SimulatedCard(
            read: CardRead(
                key: key, application: .tUnion, cardType: cardType, balanceFen: balanceFen, validFrom: validFrom,
                validUntil: validUntil))
    }

    /// A medium identified by key alone (ride code, ticket token, or a card with a default purse).
    public static func medium(_ key: CardKey) -> SimulatedCard {
        let app: CardApplication
        switch key.medium {
        case .transitCard: app = .tUnion
        case .municipalCard: app = .beijingMunicipal
        case .rideCode, .electronicTicket: app = .rideCode
        default: app = .ticketToken
        }
        let hasPurse = app == .tUnion || app == .beijingMunicipal
        return SimulatedCard(read: CardRead(key: key, application: app, balanceFen: hasPurse ? 10_000 : nil))
    }

    /// The chip a card medium compiles to (T-Union or municipal files holding `read`, with the
    /// faults); nil for media without an APDU application, and for reads no chip can hold (a
    /// municipal serial that does not begin with 1000, a negative purse).
    public var smartCard: SimulatedSmartCard? {
        let profile: CardProfile
        func date(_ d: CalendarDate?) -> String? { d?.description }
        switch read.application {
        case .tUnion:
            profile = CardProfile(
                atr: CardProfile.defaultATR, application: .tUnion, number: read.key.number,
                cardType: String(read.cardType.rawValue), balanceFen: read.balanceFen.map(Int.init),
                validFrom: date(read.validFrom), validUntil: date(read.validUntil), blocked: read.applicationBlocked)
        case .beijingMunicipal:
            profile = CardProfile(
                atr: CardProfile.defaultATR, application: .beijingMunicipal, number: read.key.number,
                balanceFen: read.balanceFen.map(Int.init), validFrom: date(read.validFrom),
                validUntil: date(read.validUntil), blocked: read.applicationBlocked, enabled: !read.disabled,
                blacklisted: read.blacklistedOnCard)
        case .rideCode, .ticketToken:
            return nil
        }
        guard let compiled = try? profile.compile(source: "simulated \(read.key)") else { return nil }
        return SimulatedSmartCard(card: compiled, faults: faults)
    }

    /// What a code scanner makes of this medium: the read, or the failure its first fault stands
    /// for. A scan is one step, so every fault interrupts it: a removal is `cardRemoved`, a chip
    /// with no application `unknownApplication`, a wrong or short answer `malformedResponse`; a
    /// slow answer only delays it.
    public var scannedResult: Tap.Result {
        for fault in faults {
            switch fault {
            case .removeAfter: return .failed(.cardRemoved, nil)
            case .noApplication: return .failed(.unknownApplication, nil)
            case .wrongStatus, .truncate: return .failed(.malformedResponse, nil)
            case .slow: continue
            }
        }
        return .card(read)
    }

    /// What the gate gets from reading this medium: for a card, what `CardApplicationReader`
    /// reads from its chip (so the simulated fast path and the APDU path agree, faults included);
    /// for other media the scanned result. Runs the APDU procedure for faulted cards only: an
    /// unfaulted chip gives back `read`, apart from what its application does not carry (a
    /// municipal card has no card type, T-Union no enable or blacklist flag).
    public var result: Tap.Result {
        guard !faults.isEmpty else { return .card(read) }
        guard var chip = smartCard else { return scannedResult }
        chip.powerOn()
        return CardApplicationReader().read { (c: CommandAPDU) throws(CardIOError) in try chip.transmit(c) }.tapResult
    }
}
