import FaregateCore

/// A medium a simulated reader can be shown: what a successful read yields, or a fault.
public struct SimulatedCard: Hashable, Sendable {
    /// Faults a simulated read can be told to produce.
    public enum Fault: Hashable, Sendable {
        /// The card leaves the field mid-read.
        case removedMidRead
        /// The card answers with a malformed or truncated response.
        case malformedResponse
        /// The medium carries no application the gate knows.
        case unknownApplication
    }

    public var read: CardRead
    public var fault: Fault?

    public init(read: CardRead, fault: Fault? = nil) {
        self.read = read
        self.fault = fault
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

    /// A medium identified by key alone (ride code, ticket token).
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

    /// What the gate gets from reading this medium.
    public var result: Tap.Result {
        switch fault {
        case nil: .card(read)
        case .removedMidRead: .failed(.cardRemoved, nil)
        case .malformedResponse: .failed(.malformedResponse, nil)
        case .unknownApplication: .failed(.unknownApplication, nil)
        }
    }
}
