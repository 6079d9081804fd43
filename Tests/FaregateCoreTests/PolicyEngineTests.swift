import FaregateCore
import FaregateSimulation
import XCTest

/// The era-aware engine inside `GateCore`: hot era switching, shadow decisions in the journal,
/// the shadow report, and `explain` agreeing with what the gate decided.
final class PolicyEngineTests: XCTestCase {
    var book: PolicyBook!

    override func setUpWithError() throws { book = try Seeds.book() }

    static let june2022Millis: Int64 = 1_654_041_600_000  // 2022-06-01 08:00 Beijing

    func tap(_ r: CardRead) -> Tap { Tap(reader: 0, result: .card(r), detectedAt: 1, readAt: 2) }

    // The lead hot-swaps a new engine into the running gate: the next tap follows it, the journal
    // sequence continues, nothing restarts.
    func testSwitchingTheEraOfARunningGate() throws {
        let card = key(.transitCard, 3_104_000_000_000_000_001)
        let table = DictionaryStatusTable(dataVersion: 7, entries: [card: CardStatus(health: .red, binding: .bound)])
        let clock = ManualClock(wallMillis: Self.june2022Millis)
        var core = GateCore(
            nextSequence: 1, engine: try book.engine(station: "bagou", line: nil, pinnedEra: Seeds.era2022))
        let first = core.handle(tap(read(card)), dequeuedAt: 3, table: table, dataAgeSeconds: 10, clock: clock)
        XCTAssertEqual(first.entry.decision, .deny(.healthRed))
        XCTAssertEqual(first.entry.decision, .deny(.healthRed))

        core.engine = try book.engine(station: "bagou", line: nil, pinnedEra: Seeds.era2024)
        let second = core.handle(tap(read(card)), dequeuedAt: 4, table: table, dataAgeSeconds: 10, clock: clock)
        XCTAssertEqual(second.entry.decision, .open(.ok))
        XCTAssertEqual(second.entry.sequence, first.entry.sequence + 1)

        // Back to date-driven eras: 2022-06-01 is the health-check era again.
        core.engine = try book.engine(station: "bagou", line: nil)
        XCTAssertEqual(
            core.handle(tap(read(card)), dequeuedAt: 5, table: table, dataAgeSeconds: 10, clock: clock).entry.decision,
            .deny(.healthRed))
        clock.setWall(millis: Self.june2022Millis + 400 * 86_400_000)  // 2023-07: anonymous-stations era
        XCTAssertEqual(
            core.handle(tap(read(card)), dequeuedAt: 6, table: table, dataAgeSeconds: 10, clock: clock).entry.decision,
            .open(.ok))
    }

    // Shadow mode on a bus test line: the barrier follows the old rule, the journal records what
    // the new rule would have done, and the report compares the two.
    func testShadowDecisionIsJournalledAndReported() throws {
        let green = key(.transitCard, 1), red = key(.transitCard, 2), unbound = key(.transitCard, 3)
        let table = DictionaryStatusTable(
            dataVersion: 1,
            entries: [
                green: CardStatus(health: .green, binding: .bound), red: CardStatus(health: .red, binding: .bound),
                unbound: CardStatus(health: .unknown, binding: .unbound),
            ])
        let clock = ManualClock(wallMillis: Self.june2022Millis)
        var core = GateCore(nextSequence: 1, engine: try book.engine(station: nil, line: "bus-38"))
        var entries: [JournalEntry] = []
        for k in [green, red, red, unbound, green] {
            let out = core.handle(tap(read(k)), dequeuedAt: 3, table: table, dataAgeSeconds: 10, clock: clock)
            XCTAssertEqual(out.entry.decision, .open(out.entry.decision.reason))
            XCTAssertEqual(out.shadow, out.entry.shadowDecision)
            entries.append(out.entry)
        }
        XCTAssertEqual(
            entries.map(\.decision), [.open(.ok), .open(.okShadow), .open(.okShadow), .open(.ok), .open(.ok)])
        XCTAssertEqual(
            entries.map(\.shadowDecision),
            [.open(.ok), .deny(.healthRed), .deny(.healthRed), .open(.unboundCard), .open(.ok)])

        // The shadow survives the journal line; lines without it keep the old 16-field format.
        for e in entries {
            let line = JournalCodec.encode(e)
            XCTAssertEqual(line.split(separator: "\t").count, 18)
            XCTAssertEqual(try JournalCodec.decode(Substring(line)), e)
        }
        var plain = entries[0]
        plain.shadowDecision = nil
        XCTAssertEqual(JournalCodec.encode(plain).split(separator: "\t").count, 16)
        XCTAssertEqual(try JournalCodec.decode(Substring(JournalCodec.encode(plain))), plain)

        let report = ShadowReport(entries + [plain])
        XCTAssertEqual(report.entries, 6)
        XCTAssertEqual(report.shadowed, 5)
        XCTAssertEqual(report.sameOutcome, 3)
        XCTAssertEqual(report.wouldHaveStopped, 2)
        XCTAssertEqual(report.wouldHaveOpened, 0)
        XCTAssertEqual(report.differences, [.init(enforced: "open(ok_shadow)", shadow: "deny(health_red)", count: 2)])
        XCTAssertTrue(report.text.contains("2× enforced open(ok_shadow), shadow deny(health_red)"))
    }

    // `explain` runs the same rules as the gate: on many generated taps across eras, stations,
    // lines, media, statuses, balances and data ages it reports exactly the gate's decisions, and
    // its chain ends in the rule that decided.
    func testExplainAgreesWithTheGateOnManyCases() throws {
        var rng = SplitMix64(seed: 0x6A7E)
        let stations: [String?] = [nil] + Seeds.anonymousStations + Seeds.identityStations
        let lines: [String?] = [nil, "metro-1"] + Seeds.busTestLines
        let eras: [String?] = [nil, Seeds.era2022, Seeds.era2023, Seeds.era2024]
        let dates: [Int64] = [
            Self.june2022Millis, Self.june2022Millis + 400 * 86_400_000, Self.june2022Millis + 800 * 86_400_000,
        ]
        var checked = 0, shadowed = 0
        var outcomes: Set<Decision> = []
        var decidingRules: Set<DecisionRule> = []
        for _ in 0..<3000 {
            var engine = try book.engine(
                station: stations.randomElement(using: &rng) ?? nil, line: lines.randomElement(using: &rng) ?? nil,
                pinnedEra: eras.randomElement(using: &rng) ?? nil)
            if rng.next() % 8 == 0 {
                // A gate that takes only cards and two apps' codes, shadowing the health-check rules.
                let restricted = GatePolicy(
                    acceptedMedia: GatePolicy.bit(of: .transitCard) | GatePolicy.bit(of: .rideCode),
                    acceptedRideCodeIssuers: RideCodeIssuer.transitApp.bit | RideCodeIssuer.alipay.bit)
                engine = DecisionEngine(policy: restricted, shadowPolicy: .healthCheckEra)
            }
            let medium = Medium.allCases.randomElement(using: &rng) ?? .transitCard
            let k =
                medium == .rideCode
                ? CardKey(
                    rideCodeIssuer: RideCodeIssuer.allCases.randomElement(using: &rng) ?? .alipay,
                    account: rng.next() % 1000)
                : CardKey(medium: medium, identifier: rng.next() % 1_000_000)
            guard let k else { return XCTFail("key") }
            var r = read(k, balance: [nil, 0, 1, 500].randomElement(using: &rng) ?? nil)
            r.applicationBlocked = rng.next() % 20 == 0
            r.blacklistedOnCard = rng.next() % 20 == 0
            r.disabled = rng.next() % 30 == 0
            if rng.next() % 15 == 0 { r.validUntil = day("2022-01-01") }
            if rng.next() % 15 == 0 { r.validFrom = day("2030-01-01") }
            let result: Tap.Result = rng.next() % 15 == 0 ? .failed(.malformedResponse, k) : .card(r)
            let status: CardStatus? = rng.next() % 10 == 0 ? nil : CardStatus(rawValue: UInt8(rng.next() % 64))
            let table = DictionaryStatusTable(dataVersion: 1, entries: status.map { [k: $0] } ?? [:])
            let clock = ManualClock(wallMillis: dates.randomElement(using: &rng) ?? Self.june2022Millis)
            let age = [nil, 5, 30_000].randomElement(using: &rng) ?? nil
            var core = GateCore(nextSequence: 1, engine: engine)
            let out = core.handle(
                Tap(reader: 0, result: result, detectedAt: 1, readAt: 2), dequeuedAt: 3, table: table,
                dataAgeSeconds: age, clock: clock)
            let ctx = DecisionContext(today: CalendarDate(wallMillis: clock.wallMillis()), dataAgeSeconds: age)
            let why = engine.explain(result, status: status, context: ctx)
            XCTAssertEqual(why.decision, out.entry.decision)
            XCTAssertEqual(why.shadow, out.entry.shadowDecision)
            XCTAssertEqual(why.decision, engine.decide(result, status: status, context: ctx))
            // Every rule but the last passed; the last decided (okShadow is the enforced open(ok)
            // relabelled because the shadow would not open).
            XCTAssertTrue(why.steps.dropLast().allSatisfy { $0.verdict == nil })
            let last = why.steps.last?.verdict
            XCTAssertTrue(last == why.decision || (why.decision == .open(.okShadow) && last == .open(.ok)), "\(why)")
            if let shadow = why.shadow { XCTAssertEqual(why.shadowSteps.last?.verdict, shadow); shadowed += 1 }
            outcomes.insert(why.decision)
            if let rule = why.steps.last?.rule { decidingRules.insert(rule) }
            checked += 1
        }
        XCTAssertEqual(checked, 3000)
        XCTAssertGreaterThan(shadowed, 50)
        XCTAssertGreaterThanOrEqual(outcomes.count, 15, "the generated cases must reach many different decisions")
        XCTAssertEqual(decidingRules, Set(DecisionRule.allCases), "every rule must decide some generated case")
    }

    func testExplanationNamesEraRulesAndMessages() throws {
        let engine = try book.engine(station: nil, line: "bus-2")
        let why = engine.explain(
            .card(read(key(.transitCard, 5))), status: CardStatus(health: .red, binding: .bound),
            context: context("2022-06-01"))
        XCTAssertEqual(why.era, Seeds.era2022)
        XCTAssertEqual(why.decision, .open(.okShadow))
        XCTAssertEqual(why.shadow, .deny(.healthRed))
        let text = why.description
        XCTAssertTrue(text.contains("line bus-2 (2路): enforce manual-check, shadow health-check"), text)
        XCTAssertTrue(text.contains("shadow decision: deny(health_red) — 健康码异常 / Health code abnormal"), text)
        XCTAssertTrue(text.contains("era: no health check: → open(ok)"), text)
    }
}
