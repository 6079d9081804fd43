import FaregateCore

/// A synthetic card population in a realistic mix, reproducible from a seed.
///
/// Mix (by share of keys): T-Union cards 62 % (85 % bound), municipal cards 8 % (85 % bound),
/// app ride codes 18 % (real-name: always bound), single-journey 7 % and welfare 2 % tickets
/// (identity taken at sale), commemorative tickets 2 % (70 % registered), electronic tickets 1 %.
/// Bound identities are green 95 %, yellow 3 %, red 0.5 %, unknown 1.5 %. Centrally 0.3 % of keys
/// are blacklisted and 0.5 % of cards returned. No names or ID numbers: identities are indices.
public struct DemoPopulation: Sendable {
    public struct Card: Hashable, Sendable {
        public var key: CardKey
        public var cardType: CardType
        /// Index of the synthetic identity the card is bound to, nil when unbound.
        public var identity: Int?
        public var health: HealthStatus
        public var blacklisted: Bool
        public var returned: Bool
        public var suspended: Bool

        public var status: CardStatus {
            CardStatus(
                health: identity == nil ? .unknown : health, binding: identity == nil ? .unbound : .bound,
                blacklisted: blacklisted, returned: returned, suspended: suspended)
        }
    }

    /// First T-Union number used (19 digits; issuer city code 1000, Beijing).
    public static let transitBase: UInt64 = 1_000_751_000_000_000_000
    /// First municipal card serial used (16 digits beginning 1000).
    public static let municipalBase: UInt64 = 1_000_000_000_000_000

    /// Generates card `i` of a population built from `seed`: the same (seed, i) always gives the
    /// same card, so a simulation can re-derive card-side data without storing the population.
    public static func card(_ i: Int, seed: UInt64) -> Card {
        var rng = SplitMix64(seed: seed ^ (UInt64(i) &* 0x9E37_79B9_7F4A_7C15))
        let roll = Int(rng.next() % 1000)
        let medium: Medium
        var bindRate = 1000
        switch roll {
        case 0..<620: medium = .transitCard; bindRate = 850
        case 620..<700: medium = .municipalCard; bindRate = 850
        case 700..<880: medium = .rideCode
        case 880..<950: medium = .singleJourneyTicket
        case 950..<970: medium = .welfareTicket
        case 970..<990: medium = .commemorativeTicket; bindRate = 700
        default: medium = .electronicTicket
        }
        let id: UInt64 =
            switch medium {
            case .transitCard: transitBase + UInt64(i)
            case .municipalCard: municipalBase + UInt64(i)
            default: 10_000_000 + UInt64(i)
            }
        let key = CardKey(medium: medium, identifier: id) ?? CardKey(rawValue: 0)
        let bound = Int(rng.next() % 1000) < bindRate
        let h = Int(rng.next() % 1000)
        let health: HealthStatus = h < 950 ? .green : h < 980 ? .yellow : h < 985 ? .red : .unknown
        let flag = Int(rng.next() % 1000)
        let typeRoll = Int(rng.next() % 100)
        let cardType: CardType = typeRoll < 85 ? .normal : typeRoll < 93 ? .student : typeRoll < 99 ? .senior : .test
        return Card(
            key: key, cardType: cardType, identity: bound ? i : nil, health: health, blacklisted: flag < 3,
            returned: (medium == .transitCard || medium == .municipalCard) && flag >= 3 && flag < 8,
            suspended: false)
    }

    /// All `count` cards of the population built from `seed`.
    public static func generate(count: Int, seed: UInt64) -> [Card] {
        (0..<count).map { card($0, seed: seed) }
    }
}

extension DemoPopulation {
    /// A stand-in for the keyed hash of synthetic identity `i`'s ID number: 32 bytes derived
    /// from the seed. Demo identities have no ID number at all, so nothing personal exists.
    public static func identityHash(_ i: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(seed: seed ^ 0x1D_1D1D ^ UInt64(i) &* 0xA24B_AED4_963E_E407)
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for _ in 0..<4 { withUnsafeBytes(of: rng.next().bigEndian) { out.append(contentsOf: $0) } }
        return out
    }
}
