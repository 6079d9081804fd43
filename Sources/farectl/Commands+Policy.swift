import Dispatch
import FaregateCore
import FaregateRuntime
import FaregateSQLite
import Foundation

// farectl policy …: check policy files, explain a gate decision, rehearse an office operation,
// and compare shadow decisions in a journal.
let policyCommands: [Command] = [
    Command(
        ["policy", "check"], usage: "policy check FILE|DIR… [--json]",
        "validate policy files together; print their eras, rule sets, lines and stations"
    ) { args in
        let json = args.flag("--json")
        var paths: [String] = []
        while let p = args.positional() { paths.append(p) }
        try args.finish()
        guard !paths.isEmpty else { throw CLIError("give at least one policy file or directory") }
        let book = try loadPolicyBook(paths)
        struct EraSummary: Encodable {
            var era: String, title: String, effectiveFrom: String, file: String
            var gateRules: [String], officeRules: [String], lines: [String], stations: [String]
        }
        let eras = book.eras.map {
            EraSummary(
                era: $0.id, title: $0.title, effectiveFrom: $0.effectiveFrom.description, file: $0.file,
                gateRules: $0.gateRules.keys.sorted(), officeRules: $0.officeRules.keys.sorted(),
                lines: $0.lines.keys.sorted(), stations: $0.stations.keys.sorted())
        }
        // One object, as every --json report is (an array would be the one exception).
        struct CheckReport: Encodable { var ok: Bool, eras: [EraSummary] }
        try report(CheckReport(ok: true, eras: eras), json: json) {
            eras.map {
                "\($0.era) from \($0.effectiveFrom) (\($0.file)): \($0.title)\n  gate rules: \($0.gateRules.joined(separator: ", "))"
                    + "\n  office rules: \($0.officeRules.joined(separator: ", "))"
                    + "\n  lines: \($0.lines.isEmpty ? "-" : $0.lines.joined(separator: ", "))"
                    + "\n  stations: \($0.stations.isEmpty ? "-" : $0.stations.joined(separator: ", "))"
            }.joined(separator: "\n") + "\nok: \(eras.count) era(s)"
        }
        return 0
    },
    Command(
        ["policy", "explain"],
        usage:
            "policy explain --card N [--medium M --issuer APP --bound|--unbound|--unknown --health H --balance FEN "
            + "--blacklisted --returned --suspended --station S --line L --at DATE --era E --data-age S "
            + "--central FILE --policies DIR --json]",
        "the decision a gate would take for a card, and the chain of rules that produced it"
    ) { args in
        let json = args.flag("--json")
        let setup = try GateSetup(&args)
        let card = try CardDescription(&args)
        try args.finish()
        setup.warnUnknownScopes()
        let engine = try setup.book.engine(station: setup.station, line: setup.line, pinnedEra: setup.era)
        let status = try card.status()
        let ctx = DecisionContext(today: setup.date, dataAgeSeconds: setup.dataAge)
        let why = engine.explain(.card(card.read), status: status, context: ctx)
        struct Out: Encodable {
            var card: String, status: String, date: String, era: String, decision: String, messageZH: String
            var messageEN: String, shadow: String?, rulesFrom: [String], steps: [String], shadowSteps: [String]
        }
        func render(_ steps: [DecisionExplanation.Step]) -> [String] {
            steps.map { "\($0.rule): " + ($0.verdict.map { "\($0)" } ?? "passed") }
        }
        let out = Out(
            card: card.key.description, status: status.map { "\($0)" } ?? "not in table", date: setup.date.description,
            era: why.era, decision: "\(why.decision)", messageZH: why.decision.reason.messageZH,
            messageEN: why.decision.reason.messageEN, shadow: why.shadow.map { "\($0)" }, rulesFrom: why.provenance,
            steps: render(why.steps), shadowSteps: render(why.shadowSteps))
        try report(out, json: json) {
            "card \(out.card) (\(out.status)) on \(out.date)" + (setup.station.map { " at \($0)" } ?? "")
                + (setup.line.map { " on \($0)" } ?? "") + "\n" + why.description
        }
        return 0
    },
    Command(
        ["policy", "office"],
        usage:
            "policy office OPERATION [--card N --medium M --bound --returned --phone-card --identity "
            + "--cards-of-identity N --name --phone --code-verified --on-behalf --relative-id --used --refunded "
            + "--other-channel --registered --consent --station S --at DATE --era E --policies DIR --json]",
        "rehearse a central operation (bind, issue, top-up, return, sell, refund, register, authorise) under the era's rules"
    ) { args in
        let json = args.flag("--json")
        guard let op = args.positional() else {
            throw CLIError("give an operation: bind, issue, top-up, return, sell, refund, register, authorise")
        }
        let setup = try GateSetup(&args)
        setup.warnUnknownScopes()
        let verdict = try officeVerdict(op, &args, setup: setup)
        try args.finish()
        struct Out: Encodable {
            var operation: String, allowed: Bool, effects: [String], refusal: String?, messageZH: String?
            var messageEN: String?, office: String, era: String
        }
        let office = try setup.book.officeRules(station: setup.station, on: setup.date, pinnedEra: setup.era)
        var out = Out(
            operation: op, allowed: verdict.isAllowed, effects: [], refusal: nil, messageZH: nil, messageEN: nil,
            office: office.officeName, era: office.era)
        if case .allowed(let e) = verdict { out.effects = e.map(\.rawValue) }
        if let r = verdict.refusal {
            out.refusal = r.rawValue
            out.messageZH = r.messageZH
            out.messageEN = r.messageEN
        }
        try report(out, json: json) {
            "\(op) under \(out.era) / office rules \(out.office): "
                + (out.allowed
                    ? "allowed (\(out.effects.joined(separator: ", ")))"
                    : "refused: \(out.refusal ?? "") — \(out.messageZH ?? "") / \(out.messageEN ?? "")")
        }
        return verdict.isAllowed ? 0 : 1
    },
    Command(
        ["policy", "shadow-report"], usage: "policy shadow-report JOURNAL_FILE… [--json]",
        "compare enforced and shadow decisions recorded in journal files"
    ) { args in
        let json = args.flag("--json")
        var paths: [String] = []
        while let p = args.positional() { paths.append(p) }
        try args.finish()
        guard !paths.isEmpty else { throw CLIError("give at least one journal file") }
        var entries: [JournalEntry] = []
        var damaged = 0
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CLIError.failed("cannot read \(path)")
            }
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                if let e = try? JournalCodec.decode(line) { entries.append(e) } else { damaged += 1 }
            }
        }
        if damaged > 0 { warn("farectl policy shadow-report: skipped \(damaged) damaged line(s)") }
        let r = ShadowReport(entries)
        try report(r, json: json) { r.text }
        return 0
    },
]

/// Loads files and directories (every `*.json` inside) as one book.
func loadPolicyBook(_ paths: [String]) throws -> PolicyBook {
    var files: [String] = []
    for p in paths {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir) else {
            throw CLIError.failed("no such file \(p)")
        }
        if isDir.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: p)) ?? []
            files += names.filter { $0.hasSuffix(".json") }.sorted().map { p + "/" + $0 }
        } else {
            files.append(p)
        }
    }
    return try PolicyFiles.loadBook(files: files)
}

/// Where and when a decision or operation happens: policies, station, line, date, era.
struct GateSetup {
    var book: PolicyBook
    var station: String?
    var line: String?
    var date: CalendarDate
    var era: String?
    var dataAge: Int?

    init(_ args: inout Arguments) throws {
        book = try loadPolicyBook([try args.value("--policies") ?? "seeds/policies"])
        station = try args.value("--station")
        line = try args.value("--line")
        era = try args.value("--era")
        if let at = try args.value("--at") {
            guard let d = CalendarDate(at) else { throw CLIError("--at takes a date YYYY-MM-DD, not '\(at)'") }
            date = d
        } else {
            date = CalendarDate(wallMillis: Int64(Date().timeIntervalSince1970 * 1000))
        }
        let age = try args.int("--data-age", default: -1)
        dataAge = age < 0 ? 60 : age
    }

    /// A station or line no era names gets the default rules: say so, it may be a typo.
    func warnUnknownScopes() {
        if let station, !book.knownStations.contains(station) {
            warn("note: no era has rules for station '\(station)'; the default rules of each era apply")
        }
        if let line, !book.knownLines.contains(line) {
            warn("note: no era has rules for line '\(line)'; the default rules of each era apply")
        }
    }
}

/// A card described by flags (or looked up in a central store with `--central`).
struct CardDescription {
    var key: CardKey
    var read: CardRead
    var bound: Bool
    var unknown: Bool
    var health: HealthStatus
    var blacklisted: Bool, returned: Bool, suspended: Bool
    var central: String?

    init(_ args: inout Arguments) throws {
        let mediumName = try args.value("--medium") ?? "transit-card"
        guard let medium = Medium(name: mediumName) else {
            throw CLIError("--medium takes one of \(Medium.allCases.map(\.description).joined(separator: ", "))")
        }
        guard let number = try args.value("--card") else { throw CLIError("--card N is required") }
        if let issuerName = try args.value("--issuer") {
            guard medium == .rideCode, let issuer = RideCodeIssuer(name: issuerName) else {
                throw CLIError(
                    "--issuer goes with --medium ride-code and takes one of "
                        + RideCodeIssuer.allCases.map(\.description).joined(separator: ", "))
            }
            guard let account = UInt64(number), let k = CardKey(rideCodeIssuer: issuer, account: account) else {
                throw CLIError("'\(number)' is not a ride-code account number")
            }
            key = k
        } else {
            guard let k = CardKey(medium: medium, number: number) else {
                throw CLIError("'\(number)' is not a \(medium) number")
            }
            key = k
        }
        let balance = try args.int("--balance", default: -1, in: -1...Int(Int32.max))
        read = CardRead(
            key: key, application: Self.application(of: medium),
            balanceFen: balance < 0 ? nil : Int32(balance))
        let boundFlag = args.flag("--bound")
        bound = boundFlag || !args.flag("--unbound")
        unknown = args.flag("--unknown")
        let h = try args.value("--health") ?? "green"
        guard let hs = HealthStatus(name: h) else { throw CLIError("--health takes green, yellow, red or unknown") }
        health = hs
        blacklisted = args.flag("--blacklisted")
        returned = args.flag("--returned")
        suspended = args.flag("--suspended")
        central = try args.value("--central")
    }

    static func application(of medium: Medium) -> CardApplication {
        switch medium {
        case .transitCard: .tUnion
        case .municipalCard: .beijingMunicipal
        case .rideCode, .electronicTicket: .rideCode
        case .commemorativeTicket, .singleJourneyTicket, .welfareTicket: .ticketToken
        }
    }

    /// The table entry: from the central store when `--central` is given, else from the flags.
    func status() throws -> CardStatus? {
        if let central {
            let store = try SQLiteCentralStore(path: central)
            var found: CardStatus?
            _ = try store.forEachStatus { k, s in if k == key { found = s } }
            return found
        }
        if unknown { return nil }
        return CardStatus(
            health: health, binding: bound ? .bound : .unbound, blacklisted: blacklisted, returned: returned,
            suspended: suspended)
    }
}

func officeVerdict(_ op: String, _ args: inout Arguments, setup: GateSetup) throws -> RegistrationRules.Verdict {
    let rules = try setup.book.officeRules(station: setup.station, on: setup.date, pinnedEra: setup.era).office
    let mediumName = try args.value("--medium") ?? "transit-card"
    guard let medium = Medium(name: mediumName) else { throw CLIError("unknown --medium \(mediumName)") }
    let number = try args.value("--card") ?? "1"
    let issuer = try args.value("--issuer").map { name throws -> RideCodeIssuer in
        guard let i = RideCodeIssuer(name: name) else { throw CLIError("unknown --issuer \(name)") }
        return i
    }
    let key: CardKey? =
        issuer.map { i in UInt64(number).flatMap { CardKey(rideCodeIssuer: i, account: $0) } }
        ?? CardKey(medium: medium, number: number)
    let facts = key.map {
        RegistrationRules.CardFacts(
            key: $0, isPhoneCard: args.flag("--phone-card"), bound: args.flag("--bound"),
            returned: args.flag("--returned"))
    }
    let identity = args.flag("--identity")
    let cards = try args.int("--cards-of-identity", default: 0)
    let identification: RegistrationRules.Identification =
        args.flag("--relative-id")
        ? .staffForRelative(idNumberGiven: true)
        : .verificationCode(
            name: args.flag("--name"), phone: args.flag("--phone"), verified: args.flag("--code-verified"),
            onBehalf: args.flag("--on-behalf"))
    switch op {
    case "bind":
        guard let facts else { throw CLIError("'\(number)' is not a \(medium) number") }
        return RegistrationRules.bind(facts, by: identification, physicalCardsOfIdentity: cards, rules: rules)
    case "issue":
        return RegistrationRules.issueCard(identityGiven: identity, physicalCardsOfIdentity: cards, rules: rules)
    case "top-up":
        guard let facts else { throw CLIError("'\(number)' is not a \(medium) number") }
        return RegistrationRules.topUp(facts, identityGiven: identity, physicalCardsOfIdentity: cards, rules: rules)
    case "return":
        guard let facts else { throw CLIError("'\(number)' is not a \(medium) number") }
        return RegistrationRules.returnCard(facts)
    case "sell":
        return RegistrationRules.sellTicket(medium, idNumberGiven: identity, rules: rules)
    case "refund":
        return RegistrationRules.refundElectronicTicket(
            used: args.flag("--used"), refunded: args.flag("--refunded"), sameChannel: !args.flag("--other-channel"),
            rules: rules)
    case "register":
        return RegistrationRules.registerCommemorativeTicket(
            number: number, alreadyRegistered: args.flag("--registered"), by: identification, rules: rules)
    case "authorise":
        guard let key else { throw CLIError("'\(number)' is not a ride-code account") }
        let era = try setup.book.engine(station: setup.station, line: setup.line, pinnedEra: setup.era)
        return RegistrationRules.authoriseRideCode(
            key, consented: args.flag("--consent"),
            acceptedIssuers: era.rules(on: setup.date).enforced.acceptedRideCodeIssuers)
    default:
        throw CLIError("unknown operation '\(op)': bind, issue, top-up, return, sell, refund, register, authorise")
    }
}

/// `farectl policy bench`: decisions per second of the era engine (for scripts/bench; build with
/// `-c release`). Generates taps up front so the timed loop does only the decisions.
let policyBenchCommands: [Command] = [
    Command(
        ["policy", "bench"], usage: "policy bench [--taps N --line L --station S --policies DIR --json]",
        "time the policy engine's decide() over generated taps (shadow rules included on a test line)"
    ) { args in
        let json = args.flag("--json")
        let n = try args.int("--taps", default: 1_000_000, in: 1...100_000_000)
        let setup = try GateSetup(&args)
        try args.finish()
        let engine = try setup.book.engine(station: setup.station, line: setup.line ?? "bus-2", pinnedEra: setup.era)
        var state: UInt64 = 0x9E37_79B9
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let count = min(n, 4096)
        var taps: [(Tap.Result, CardStatus?)] = []
        for _ in 0..<count {
            let medium = Medium.allCases[Int(next() % UInt64(Medium.allCases.count))]
            guard let k = CardKey(medium: medium, identifier: next() % 1_000_000) else { continue }
            let read = CardRead(key: k, application: CardDescription.application(of: medium), balanceFen: 500)
            taps.append((.card(read), CardStatus(rawValue: UInt8(next() % 8))))
        }
        let days = [setup.date, CalendarDate(daysSinceEpoch: setup.date.daysSinceEpoch + 400)]
        var opened = 0
        let start = DispatchTime.now().uptimeNanoseconds
        for i in 0..<n {
            let (result, status) = taps[i % taps.count]
            let ctx = DecisionContext(today: days[i & 1], dataAgeSeconds: 60)
            if engine.decideWithShadow(result, status: status, context: ctx).enforced.outcome == .open { opened += 1 }
        }
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        struct Out: Encodable { var taps: Int, nanosPerDecision: Double, opened: Int }
        let out = Out(taps: n, nanosPerDecision: Double(elapsed) / Double(n), opened: opened)
        try report(out, json: json) {
            "\(n) decisions (enforced + shadow), \(String(format: "%.1f", out.nanosPerDecision)) ns each, \(opened) opened"
        }
        return 0
    }
]
