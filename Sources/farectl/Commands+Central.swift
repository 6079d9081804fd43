import FaregateCore
import FaregateSQLite
import Foundation

/// Parses `medium:number`, e.g. `transit-card:1000751000000000001`.
func parseCard(_ text: String) throws(CLIError) -> CardKey {
    let parts = text.split(separator: ":")
    guard parts.count == 2, let medium = Medium(name: String(parts[0])) else {
        throw CLIError(
            "card must be medium:number (media: \(Medium.allCases.map(\.description).joined(separator: ", ")))")
    }
    guard let key = CardKey(medium: medium, number: parts[1]) else {
        throw CLIError("'\(parts[1])' is not a valid \(medium) number")
    }
    return key
}

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
                throw CLIError("\(db) already exists; --demo fills a new store only")
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
    Command(
        ["central", "set-health"],
        usage: "central set-health --db FILE --card MEDIUM:NUMBER --health green|yellow|red|unknown",
        "set the health of the identity a card is bound to (all its cards change)"
    ) { args in
        let json = args.flag("--json")
        guard let db = try args.value("--db") else { throw CLIError("--db FILE is required") }
        guard let cardText = try args.value("--card") else { throw CLIError("--card MEDIUM:NUMBER is required") }
        guard let healthText = try args.value("--health"), let health = HealthStatus(name: healthText) else {
            throw CLIError("--health must be green, yellow, red or unknown")
        }
        try args.finish()
        let key = try parseCard(cardText)
        let store = try SQLiteCentralStore(path: db)
        let n = try store.setHealth(of: key, to: health, wallMillis: Int64(Date().timeIntervalSince1970 * 1000))
        struct Result: Encodable {
            var card: String
            var health: String
            var identities_changed: Int
            var data_version: UInt64
        }
        let r = Result(
            card: key.description, health: health.description, identities_changed: n,
            data_version: try store.dataVersion())
        try report(r, json: json) { "\(key): identity health set to \(health); data version \(r.data_version)" }
        return 0
    },
]
