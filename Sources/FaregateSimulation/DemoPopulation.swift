import FaregateCore

/// A synthetic card population in a realistic mix (`Mix`), reproducible from a seed.
///
/// The default mix (`seeds/populations/beijing-2022.json`): T-Union cards 62 % (85 % bound),
/// municipal cards 8 % (85 % bound), app ride codes 18 % (real-name: always bound),
/// single-journey 7 % and welfare 2 % tickets (identity taken at sale), commemorative tickets 2 %
/// (70 % registered), electronic tickets 1 %. Bound identities are green 95 %, yellow 3 %,
/// red 0.5 %, unknown 1.5 %. Centrally 0.3 % of keys are blacklisted and 0.5 % of cards returned.
/// No names or ID numbers: identities are indices.
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

    /// The shares a population is drawn with, in permille. `seeds/populations/*.json` hold them
    /// as data (`farectl central init --demo N --mix FILE`); `.beijing2022` is the default.
    public struct Mix: Codable, Equatable, Sendable {
        public var name: String
        /// Share of keys per medium (`Medium.description` → permille); must add up to 1000.
        public var mediaPermille: [String: Int]
        /// Share of bound keys per medium; media not listed are always bound (real-name media).
        public var boundPermille: [String: Int]
        /// Health of bound identities (`HealthStatus.description` → permille); adds up to 1000.
        public var healthPermille: [String: Int]
        public var blacklistedPermille: Int
        /// Returned cards, among transit and municipal cards.
        public var returnedPermille: Int

        enum CodingKeys: String, CodingKey {
            case name, mediaPermille = "media_permille", boundPermille = "bound_permille"
            case healthPermille = "health_permille", blacklistedPermille = "blacklisted_permille"
            case returnedPermille = "returned_permille"
        }

        public static let beijing2022 = Mix(
            name: "beijing-2022",
            mediaPermille: [
                "transit-card": 620, "municipal-card": 80, "ride-code": 180, "single-journey-ticket": 70,
                "welfare-ticket": 20, "commemorative-ticket": 20, "electronic-ticket": 10,
            ],
            boundPermille: ["transit-card": 850, "municipal-card": 850, "commemorative-ticket": 700],
            healthPermille: ["green": 950, "yellow": 30, "red": 5, "unknown": 15],
            blacklistedPermille: 3, returnedPermille: 5)

        /// Checks names and sums; the message names the field.
        public func validate() throws(MixError) {
            for name in mediaPermille.keys where Medium(name: name) == nil {
                throw MixError("media_permille: unknown medium '\(name)'")
            }
            for name in boundPermille.keys where Medium(name: name) == nil {
                throw MixError("bound_permille: unknown medium '\(name)'")
            }
            for name in healthPermille.keys where HealthStatus(name: name) == nil {
                throw MixError("health_permille: unknown health '\(name)'")
            }
            guard mediaPermille.values.reduce(0, +) == 1000 else {
                throw MixError("media_permille must add up to 1000")
            }
            guard healthPermille.values.reduce(0, +) == 1000 else {
                throw MixError("health_permille must add up to 1000")
            }
            let all = Array(mediaPermille.values) + Array(boundPermille.values) + Array(healthPermille.values)
            guard (all + [blacklistedPermille, returnedPermille]).allSatisfy({ (0...1000).contains($0) }) else {
                throw MixError("every share must be between 0 and 1000 permille")
            }
        }

        /// Cumulative thresholds in `Medium.allCases` order, for drawing.
        var mediaThresholds: [(Medium, Int)] {
            var acc = 0
            return Medium.allCases.compactMap { m in
                guard let p = mediaPermille[m.description], p > 0 else { return nil }
                acc += p
                return (m, acc)
            }
        }
    }

    public struct MixError: Error, CustomStringConvertible, Sendable {
        public var description: String
        init(_ d: String) { description = d }
    }

    /// Generates card `i` of a population built from `seed`: the same (seed, i) always gives the
    /// same card, so a simulation can re-derive card-side data without storing the population.
    public static func card(_ i: Int, seed: UInt64, mix: Mix = .beijing2022) -> Card {
        var rng = SplitMix64(seed: seed ^ (UInt64(i) &* 0x9E37_79B9_7F4A_7C15))
        let roll = Int(rng.next() % 1000)
        let medium = mix.mediaThresholds.first { roll < $0.1 }?.0 ?? .transitCard
        let bindRate = mix.boundPermille[medium.description] ?? 1000
        let id: UInt64 =
            switch medium {
            case .transitCard: transitBase + UInt64(i)
            case .municipalCard: municipalBase + UInt64(i)
            default: 10_000_000 + UInt64(i)
            }
        let key = CardKey(medium: medium, identifier: id) ?? CardKey(rawValue: 0)
        let bound = Int(rng.next() % 1000) < bindRate
        let h = Int(rng.next() % 1000)
        var acc = 0
        var health = HealthStatus.unknown
        for candidate in [HealthStatus.green, .yellow, .red, .unknown] {
            acc += mix.healthPermille[candidate.description] ?? 0
            if h < acc {
                health = candidate
                break
            }
        }
        let flag = Int(rng.next() % 1000)
        let typeRoll = Int(rng.next() % 100)
        let cardType: CardType = typeRoll < 85 ? .normal : typeRoll < 93 ? .student : typeRoll < 99 ? .senior : .test
        let isCard = medium == .transitCard || medium == .municipalCard
        return Card(
            key: key, cardType: cardType, identity: bound ? i : nil, health: health,
            blacklisted: flag < mix.blacklistedPermille,
            returned: isCard && flag >= mix.blacklistedPermille
                && flag < mix.blacklistedPermille + mix.returnedPermille,
            suspended: false)
    }

    /// All `count` cards of the population built from `seed`.
    public static func generate(count: Int, seed: UInt64, mix: Mix = .beijing2022) -> [Card] {
        (0..<count).map { card($0, seed: seed, mix: mix) }
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

extension DemoPopulation.Card {
    /// The card as the central store records it (identity as its stand-in keyed hash).
    public func centralRecord(seed: UInt64) -> CentralCardRecord {
        CentralCardRecord(
            key: key, cardType: cardType, blacklisted: blacklisted, suspended: suspended, returned: returned,
            identityHash: identity.map { DemoPopulation.identityHash($0, seed: seed) }, health: health)
    }
}

extension DemoPopulation {
    /// Cards `range` of the population built from `seed`, as central-store records.
    public static func centralRecords(_ range: Range<Int>, seed: UInt64, mix: Mix = .beijing2022) -> [CentralCardRecord]
    {
        range.map { card($0, seed: seed, mix: mix).centralRecord(seed: seed) }
    }
}
