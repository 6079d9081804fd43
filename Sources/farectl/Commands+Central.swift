import FaregateCore
import FaregateSQLite
import Foundation

let centralCommands: [Command] = [
    Command(
        ["central", "init"], usage: "central init --db FILE [--demo N] [--seed S] [--mix FILE] [--json]",
        "create (or migrate) the embedded SQLite central store, optionally with N synthetic cards"
    ) { args in
        let json = args.flag("--json")
        guard let db = try args.value("--db") else { throw CLIError("--db FILE is required") }
        let demo = try args.int("--demo", default: 0, in: 0...50_000_000)
        let seed = UInt64(try args.int("--seed", default: 1))
        let mix = try loadMix(try args.value("--mix"))
        try args.finish()
        if demo > 0 {
            if FileManager.default.fileExists(atPath: db) {
                throw CLIError.failed("\(db) already exists; --demo fills a new store only")
            }
            try createDemoStore(at: db, cards: demo, seed: seed, mix: mix)
        } else {
            try SQLiteCentralStore.create(at: db)
        }
        let stats = try SQLiteCentralStore(path: db).stats()
        try report(stats, json: json) { "central store \(db): \(stats.cards) cards, data version \(stats.dataVersion)" }
        return 0
    },
    Command(
        ["central", "stats"], usage: "central stats --db FILE [--json]", "counts of cards, identities, health, journal"
    ) {
        args in
        let json = args.flag("--json")
        guard let db = try args.value("--db") else { throw CLIError("--db FILE is required") }
        try args.finish()
        let s = try SQLiteCentralStore(path: db).stats()
        try report(s, json: json) {
            """
            central store \(db)
              data version   \(s.dataVersion)
              cards          \(s.cards) (\(s.cardsByMedium.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))
              bound cards    \(s.boundCards)
              identities     \(s.identities) (\(s.identitiesByHealth.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))
              journal        \(s.journalRecords) records from \(s.gates) gate(s)
            """
        }
        return 0
    },
]
