import FaregateCore

/// Generates the media riders present, from a population and a seed.
///
/// Most taps are of known cards with healthy purses and validity; a few are of unknown keys,
/// expired or empty cards, blocked applications, or faulty reads, so that every decision path
/// shows up in a simulation. Deterministic for a given seed.
public struct TapGenerator: Sendable {
    public var populationSize: Int
    public var populationSeed: UInt64
    public var mix: DemoPopulation.Mix
    private var rng: SplitMix64

    public init(populationSize: Int, populationSeed: UInt64, seed: UInt64, mix: DemoPopulation.Mix = .beijing2022) {
        precondition(populationSize > 0)
        self.populationSize = populationSize
        self.populationSeed = populationSeed
        self.mix = mix
        rng = SplitMix64(seed: seed)
    }

    public mutating func next() -> SimulatedCard {
        let i = Int(rng.next() % UInt64(populationSize))
        let card = DemoPopulation.card(i, seed: populationSeed, mix: mix)
        var sim = SimulatedCard.medium(card.key)
        sim.read.cardType = card.cardType
        let roll = Int(rng.next() % 10_000)
        switch roll {
        case 0..<80:  // a card this gate's table does not know
            let unknown = DemoPopulation.transitBase + UInt64(populationSize) + rng.next() % 1_000_000
            sim = SimulatedCard.transit(unknown)
        case 80..<120: sim.faults = [.removedMidRead]
        case 120..<140: sim.faults = [.malformedResponse]
        case 140..<150: sim.faults = [.noApplication]
        case 150..<200 where sim.read.balanceFen != nil: sim.read.balanceFen = 0
        case 200..<240 where sim.read.balanceFen != nil:
            sim.read.validUntil = CalendarDate(year: 2021, month: 12, day: 31)
        case 240..<250 where sim.read.application == .tUnion: sim.read.applicationBlocked = true
        default:
            if sim.read.balanceFen != nil {
                sim.read.balanceFen = Int32(200 + rng.next() % 20_000)
                sim.read.validFrom = CalendarDate(year: 2019, month: 1, day: 1)
                sim.read.validUntil = CalendarDate(year: 2035, month: 12, day: 31)
            }
        }
        return sim
    }
}
