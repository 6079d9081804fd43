import FaregateCore
import FaregateRuntime
import FaregateSQLite
import FaregateSimulation
import FaregateStationSimulation
import Foundation

let simulateCommands: [Command] = [
    Command(
        ["simulate"],
        usage:
            "simulate [--gates N] [--readers N] [--taps N] [--seed S] [--central FILE | --demo-cards N] [--journal-dir DIR] [--mix FILE] [--policies DIR [--era E] [--station S] [--line L]] [--no-fsync] [--signed-journal] [--json]",
        "run gates in-process on simulated taps and print a summary"
    ) { args in
        let json = args.flag("--json")
        let noFsync = args.flag("--no-fsync")
        // J2 lines MAC'd with a gate journal key, as the daemon writes them (bench: the MAC's cost).
        let signedJournal = args.flag("--signed-journal")
        let gates = try args.int("--gates", default: 1, in: 1...256)
        let readers = try args.int("--readers", default: 2, in: 1...16)
        let taps = try args.int("--taps", default: 10_000, in: 1...100_000_000)
        let seed = UInt64(try args.int("--seed", default: 1))
        let central = try args.value("--central")
        let demoCards = try args.int("--demo-cards", default: 100_000, in: 1...50_000_000)
        let journalDir = try args.value("--journal-dir")
        let mix = try loadMix(try args.value("--mix"))
        let engine = try loadEngine(
            policies: try args.value("--policies"), era: try args.value("--era"), station: try args.value("--station"),
            line: try args.value("--line"))
        try args.finish()

        let workDir = NSTemporaryDirectory() + "faregate-sim-\(getpid())"
        let journalRoot = journalDir ?? workDir + "/journals"
        let centralPath: String
        var populationSize = demoCards
        if let central {
            centralPath = central
            // The generator draws from the demo population this store was made with.
            let store = try SQLiteCentralStore(path: central)
            populationSize = max(1, try store.stats().cards)
        } else {
            try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
            centralPath = workDir + "/central.sqlite"
            if !json { warn("simulate: creating a demo central store with \(demoCards) cards at \(centralPath)") }
            try createDemoStore(at: centralPath, cards: demoCards, seed: 1, mix: mix)
        }
        var options = GateSimulation.Options(journalRoot: journalRoot)
        options.gates = gates
        options.readersPerGate = readers
        options.taps = taps
        options.seed = seed
        options.populationSize = populationSize
        options.fsync = !noFsync
        if signedJournal { options.journalKeying = .gateJournalKey }
        options.mix = mix
        options.engine = engine
        let simulation = GateSimulation(options: options) { () throws(CentralStoreError) -> any CentralStore in
            try SQLiteCentralStore(path: centralPath)
        }
        let summary = try simulation.run()
        if journalDir == nil { try? FileManager.default.removeItem(atPath: journalRoot) }
        if central == nil { try? FileManager.default.removeItem(atPath: workDir) }
        try report(summary, json: json) { summary.text }
        return summary.decisionsAddUp ? 0 : 1
    }
]

/// Creates a central store at `path` holding the demo population of `cards` cards.
func createDemoStore(at path: String, cards: Int, seed: UInt64, mix: DemoPopulation.Mix) throws {
    let store = try SQLiteCentralStore.create(at: path)
    let now = Int64(Date().timeIntervalSince1970 * 1000)
    var i = 0
    while i < cards {
        let batch = DemoPopulation.centralRecords(i..<min(cards, i + 50_000), seed: seed, mix: mix)
        try store.insertCards(batch, wallMillis: now)
        i += 50_000
    }
}

/// The population mix in `path` (see `seeds/populations/`), or the built-in Beijing 2022 mix.
func loadMix(_ path: String?) throws -> DemoPopulation.Mix {
    guard let path else { return .beijing2022 }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw CLIError.failed("cannot read population mix \(path)")
    }
    let mix: DemoPopulation.Mix
    do { mix = try JSONDecoder().decode(DemoPopulation.Mix.self, from: data) } catch {
        throw CLIError.failed("population mix \(path) is not valid: \(error)")
    }
    do { try mix.validate() } catch { throw CLIError.failed("population mix \(path): \(error)") }
    return mix
}

/// The decision engine of policy files for a station and line, or nil (the built-in 2022 rules).
func loadEngine(policies: String?, era: String?, station: String?, line: String?) throws -> DecisionEngine? {
    guard let policies else {
        if era != nil || station != nil || line != nil {
            throw CLIError("--era, --station and --line need --policies DIR")
        }
        return nil
    }
    return try PolicyFiles.loadBook(directory: policies).engine(station: station, line: line, pinnedEra: era)
}
