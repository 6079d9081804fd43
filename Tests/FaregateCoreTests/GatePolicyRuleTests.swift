import FaregateCore
import XCTest

/// One test per gate rule of DOMAIN.md, run against the seed policy files.
final class GatePolicyRuleTests: XCTestCase {
    var book: PolicyBook!

    override func setUpWithError() throws { book = try Seeds.book() }

    func engine(_ era: String? = nil, station: String? = nil, line: String? = nil) throws -> DecisionEngine {
        try book.engine(station: station, line: line, pinnedEra: era)
    }

    let card = key(.transitCard, 3_104_000_000_000_000_123)
    let june2022 = "2022-06-01"

    func testSeedPoliciesLoadInDateOrder() throws {
        XCTAssertEqual(book.eras.map(\.id), [Seeds.era2022, Seeds.era2023, Seeds.era2024])
    }

    // Health-check era: gates check the health status linked to the card or code automatically.
    func testHealthCheckEraChecksHealthOfEveryBoundMedium() throws {
        let e = try engine(Seeds.era2022)
        let media: [CardKey] = [
            card, key(.municipalCard, 12_345), key(.rideCode, 77), key(.commemorativeTicket, 9001),
            key(.singleJourneyTicket, 5), key(.welfareTicket, 6),
        ]
        let table: [(HealthStatus, Decision)] = [
            (.green, .open(.ok)), (.yellow, .staff(.healthYellow)), (.red, .deny(.healthRed)),
            (.unknown, .staff(.healthUnknown)),
        ]
        for k in media {
            for (health, expected) in table {
                let d = e.decide(
                    read(k), status: CardStatus(health: health, binding: .bound), context: context(june2022))
                XCTAssertEqual(d, expected, "\(k) \(health)")
            }
        }
        XCTAssertEqual(Reason.healthRed.messageZH, "健康码异常")
    }

    // An unbound card keeps working for rides until its balance runs out (with the upgrade prompt).
    func testUnboundCardKeepsRidingUntilBalanceRunsOut() throws {
        let e = try engine(Seeds.era2022)
        let unbound = CardStatus(health: .unknown, binding: .unbound)
        XCTAssertEqual(
            e.decide(read(card, balance: 300), status: unbound, context: context(june2022)), .open(.unboundCard))
        XCTAssertEqual(Reason.unboundCard.messageZH, "未发现健康码信息，请尽快授权升级")
        XCTAssertEqual(
            e.decide(read(card, balance: 0), status: unbound, context: context(june2022)), .deny(.insufficientBalance))
    }

    // Phone NFC card: same card application, same number, same decision as the physical card.
    func testPhoneCardIsDecidedLikeThePhysicalCard() throws {
        let e = try engine(Seeds.era2022)
        for health in HealthStatus.allCases {
            let s = CardStatus(health: health, binding: .bound)
            let physical = CardRead(key: card, application: .tUnion, balanceFen: 100)
            let phone = CardRead(key: card, application: .tUnion, balanceFen: 100)  // emulated by a phone
            XCTAssertEqual(
                e.decide(physical, status: s, context: context(june2022)),
                e.decide(phone, status: s, context: context(june2022)))
        }
    }

    // Commemorative ticket: must be registered by ticket number before use.
    func testCommemorativeTicketMustBeRegisteredBeforeUse() throws {
        let e = try engine(Seeds.era2022)
        let t = key(.commemorativeTicket, 20_220_519)
        XCTAssertEqual(
            e.decide(
                read(t, balance: nil), status: CardStatus(health: .unknown, binding: .unbound),
                context: context(june2022)),
            .deny(.unregisteredTicket))
        XCTAssertEqual(
            e.decide(
                read(t, balance: nil), status: CardStatus(health: .green, binding: .bound), context: context(june2022)),
            .open(.ok))
    }

    // App ride codes from the transit app, wallets, a bank and the interoperating cities: the link is
    // authorised in the app; an unauthorised code is told to authorise.
    func testRideCodeOfEveryListedAppNeedsAuthorisation() throws {
        let e = try engine(Seeds.era2022)
        for issuer in RideCodeIssuer.allCases {
            guard let k = CardKey(rideCodeIssuer: issuer, account: 4242) else { return XCTFail("key") }
            XCTAssertEqual(k.rideCodeIssuer, issuer)
            XCTAssertEqual(
                e.decide(
                    read(k, balance: nil), status: CardStatus(health: .green, binding: .bound),
                    context: context(june2022)),
                .open(.ok), "\(issuer)")
            XCTAssertEqual(
                e.decide(
                    read(k, balance: nil), status: CardStatus(health: .unknown, binding: .unbound),
                    context: context(june2022)),
                .deny(.rideCodeNotAuthorised), "\(issuer)")
        }
        XCTAssertTrue(RideCodeIssuer.shanghai.isOtherCity && RideCodeIssuer.hohhot.isOtherCity)
        XCTAssertFalse(RideCodeIssuer.alipay.isOtherCity)
    }

    func testRideCodeIssuerNotInPolicyIsRefused() throws {
        var p = GatePolicy(acceptedRideCodeIssuers: RideCodeIssuer.transitApp.bit | RideCodeIssuer.alipay.bit)
        p.healthCheck = false
        let e = DecisionEngine(policy: p)
        guard let sh = CardKey(rideCodeIssuer: .shanghai, account: 1),
            let ali = CardKey(rideCodeIssuer: .alipay, account: 1)
        else { return XCTFail("key") }
        let s = CardStatus(health: .green, binding: .bound)
        XCTAssertEqual(
            e.decide(read(sh, balance: nil), status: s, context: context(june2022)), .deny(.rideCodeIssuerNotAccepted))
        XCTAssertEqual(e.decide(read(ali, balance: nil), status: s, context: context(june2022)), .open(.ok))
    }

    // Single-journey and welfare tickets: the buyer's identity is taken at sale, so the health of
    // that identity is checked like a card's.
    func testSingleJourneyAndWelfareTicketsAreCheckedAgainstTheBuyer() throws {
        let e = try engine(Seeds.era2022)
        for m in [Medium.singleJourneyTicket, .welfareTicket] {
            let k = key(m, 31)
            XCTAssertEqual(
                e.decide(
                    read(k, balance: nil), status: CardStatus(health: .red, binding: .bound), context: context(june2022)
                ), .deny(.healthRed))
            XCTAssertEqual(
                e.decide(
                    read(k, balance: nil), status: CardStatus(health: .green, binding: .bound),
                    context: context(june2022)), .open(.ok))
        }
    }

    // Electronic single-journey ticket: suspended while the health check is on.
    func testElectronicTicketSuspendedWhileHealthChecksAreOn() throws {
        let k = key(.electronicTicket, 88)
        let s = CardStatus(health: .green, binding: .bound)
        XCTAssertEqual(
            try engine(Seeds.era2022).decide(read(k, balance: nil), status: s, context: context(june2022)),
            .deny(.ticketSuspended))
        XCTAssertEqual(
            try engine(Seeds.era2023).decide(read(k, balance: nil), status: s, context: context("2023-06-01")),
            .open(.ok))
        // A refunded ticket is marked suspended in the table and never opens.
        let refunded = CardStatus(health: .green, binding: .bound, suspended: true)
        XCTAssertEqual(
            try engine(Seeds.era2023).decide(read(k, balance: nil), status: refunded, context: context("2023-06-01")),
            .deny(.ticketSuspended))
    }

    // Stale data: the gate follows the policy's stale rule (staff) rather than trusting old health.
    func testStaleDataSendsRiderToStaff() throws {
        let e = try engine(Seeds.era2022)
        let s = CardStatus(health: .green, binding: .bound)
        XCTAssertEqual(e.decide(read(card), status: s, context: context(june2022, age: 6 * 3600)), .open(.ok))
        XCTAssertEqual(
            e.decide(read(card), status: s, context: context(june2022, age: 6 * 3600 + 1)), .staff(.staleData))
        XCTAssertEqual(e.decide(read(card), status: nil, context: context(june2022)), .staff(.unknownCard))
    }

    // Bus test lines 2, 6, 10, 14, 15, 17, 19, 20, 24, 38: decisions computed but staff still check
    // by hand (shadow mode); other lines enforce the automatic check.
    func testBusTestLinesRunHealthCheckInShadowMode() throws {
        let red = CardStatus(health: .red, binding: .bound)
        for line in Seeds.busTestLines {
            let pair = try engine(line: line).decideWithShadow(
                .card(read(card)), status: red, context: context(june2022))
            XCTAssertEqual(pair.enforced, .open(.okShadow), line)
            XCTAssertEqual(pair.shadow, .deny(.healthRed), line)
        }
        let other = try engine(line: "bus-1").decideWithShadow(
            .card(read(card)), status: red, context: context(june2022))
        XCTAssertEqual(other, DecisionPair(enforced: .deny(.healthRed), shadow: nil))
    }

    // After the health-check era, no health check at the gate.
    func testNoHealthCheckAfterTheHealthCheckEra() throws {
        for (era, date) in [(Seeds.era2023, "2023-06-01"), (Seeds.era2024, "2024-06-01")] {
            let e = try engine(era)
            for health in HealthStatus.allCases {
                for binding in BindingState.allCases {
                    XCTAssertEqual(
                        e.decide(
                            read(card), status: CardStatus(health: health, binding: binding), context: context(date)),
                        .open(.ok))
                }
            }
        }
    }

    // An era applies from its date: one engine follows the calendar without being rebuilt.
    func testEraAppliesFromItsDate() throws {
        let e = try engine(station: "beijing-west")
        let red = CardStatus(health: .red, binding: .bound)
        let table: [(String, Decision)] = [
            ("2022-05-23", .deny(.healthRed)), ("2022-12-31", .deny(.healthRed)), ("2023-01-01", .open(.ok)),
            ("2024-03-01", .open(.ok)),
        ]
        for (date, expected) in table {
            XCTAssertEqual(e.decide(read(card), status: red, context: context(date)), expected, date)
        }
        XCTAssertEqual(e.explain(.card(read(card)), status: red, context: context("2023-03-01")).era, Seeds.era2023)
    }

    // An era applies by explicit choice, whatever the date.
    func testEraAppliesByExplicitChoice() throws {
        let e = try engine(Seeds.era2022)
        let red = CardStatus(health: .red, binding: .bound)
        XCTAssertEqual(e.decide(read(card), status: red, context: context("2025-01-01")), .deny(.healthRed))
        XCTAssertThrowsError(try engine("2021-nothing")) { error in
            XCTAssertTrue("\(error)".contains("no era '2021-nothing'"), "\(error)")
        }
    }
}
