import FaregateCore
import XCTest

/// One test per central-operation rule of DOMAIN.md, with the office rules of the seed eras.
final class RegistrationRuleTests: XCTestCase {
    var book: PolicyBook!

    override func setUpWithError() throws { book = try Seeds.book() }

    func rules(_ era: String, station: String? = nil) throws -> OfficeRules {
        try book.officeRules(station: station, on: day("2000-01-01"), pinnedEra: era).office
    }

    typealias R = RegistrationRules
    let card = key(.transitCard, 3_104_000_000_000_000_777)
    var unbound: R.CardFacts { R.CardFacts(key: card, bound: false) }
    let verified = R.Identification.verificationCode(name: true, phone: true, verified: true, onBehalf: false)

    // Upgrade: name, phone and the verification code sent to that phone, as explicit steps.
    func testBindingNeedsNamePhoneAndVerificationCode() throws {
        let r = try rules(Seeds.era2022)
        let table: [(R.Identification, R.Verdict)] = [
            (.verificationCode(name: false, phone: true, verified: true, onBehalf: false), .refused(.nameRequired)),
            (.verificationCode(name: true, phone: false, verified: true, onBehalf: false), .refused(.phoneRequired)),
            (
                .verificationCode(name: true, phone: true, verified: false, onBehalf: false),
                .refused(.verificationCodeRequired)
            ),
            (verified, .allowed([.bindCard])),
        ]
        for (identification, expected) in table {
            XCTAssertEqual(
                R.bind(unbound, by: identification, physicalCardsOfIdentity: 0, rules: r), expected, "\(identification)"
            )
        }
    }

    // Binding may be done for someone else if their verification code is available.
    func testBindingOnBehalfNeedsTheirVerificationCode() throws {
        for era in [Seeds.era2022, Seeds.era2023, Seeds.era2024] {
            let r = try rules(era)
            XCTAssertEqual(
                R.bind(
                    unbound, by: .verificationCode(name: true, phone: true, verified: true, onBehalf: true),
                    physicalCardsOfIdentity: 0, rules: r),
                .allowed([.bindCard]), era)
            XCTAssertEqual(
                R.bind(
                    unbound, by: .verificationCode(name: true, phone: true, verified: false, onBehalf: true),
                    physicalCardsOfIdentity: 0, rules: r),
                .refused(.verificationCodeRequired), era)
        }
        var noProxy = try rules(Seeds.era2022)
        noProxy.bindOnBehalfWithCode = false
        XCTAssertEqual(
            R.bind(
                unbound, by: .verificationCode(name: true, phone: true, verified: true, onBehalf: true),
                physicalCardsOfIdentity: 0, rules: noProxy),
            .refused(.onBehalfNotAllowed))
    }

    // Binding is permanent once made, in every era.
    func testBindingIsPermanentOnceMade() throws {
        for era in [Seeds.era2022, Seeds.era2023, Seeds.era2024] {
            let bound = R.CardFacts(key: card, bound: true)
            XCTAssertEqual(
                R.bind(bound, by: verified, physicalCardsOfIdentity: 0, rules: try rules(era)), .refused(.alreadyBound),
                era)
        }
    }

    // One person may bind only one physical card (eras 1 and 2); a phone card does not count.
    func testOnePersonMayBindOnlyOnePhysicalCardInFirstTwoEras() throws {
        for era in [Seeds.era2022, Seeds.era2023] {
            let r = try rules(era)
            XCTAssertEqual(
                R.bind(unbound, by: verified, physicalCardsOfIdentity: 0, rules: r), .allowed([.bindCard]), era)
            XCTAssertEqual(
                R.bind(unbound, by: verified, physicalCardsOfIdentity: 1, rules: r), .refused(.oneCardPerPerson), era)
            let phone = R.CardFacts(key: card, isPhoneCard: true, bound: false)
            XCTAssertEqual(
                R.bind(phone, by: verified, physicalCardsOfIdentity: 1, rules: r), .allowed([.bindCard]), era)
            XCTAssertEqual(
                R.issueCard(identityGiven: true, physicalCardsOfIdentity: 1, rules: r), .refused(.oneCardPerPerson), era
            )
        }
    }

    // 2024: one identity may bind several cards.
    func testOneIdentityMayBindSeveralCardsIn2024() throws {
        let r = try rules(Seeds.era2024)
        for n in [0, 1, 2, 5] {
            XCTAssertEqual(R.bind(unbound, by: verified, physicalCardsOfIdentity: n, rules: r), .allowed([.bindCard]))
            XCTAssertEqual(
                R.issueCard(identityGiven: true, physicalCardsOfIdentity: n, rules: r),
                .allowed([.issueCard, .bindCard]))
        }
    }

    // 2024: staff may bind a card for a relative who gives that relative's ID number; not before.
    func testStaffMayBindForRelativeByTheirIdNumberIn2024() throws {
        XCTAssertEqual(
            R.bind(
                unbound, by: .staffForRelative(idNumberGiven: true), physicalCardsOfIdentity: 3,
                rules: try rules(Seeds.era2024)), .allowed([.bindCard]))
        XCTAssertEqual(
            R.bind(
                unbound, by: .staffForRelative(idNumberGiven: false), physicalCardsOfIdentity: 0,
                rules: try rules(Seeds.era2024)), .refused(.idNumberRequired))
        for era in [Seeds.era2022, Seeds.era2023] {
            XCTAssertEqual(
                R.bind(
                    unbound, by: .staffForRelative(idNumberGiven: true), physicalCardsOfIdentity: 0,
                    rules: try rules(era)), .refused(.relativeBindingNotAllowed))
        }
    }

    // Only cards are upgraded this way (tickets are registered, ride codes authorised).
    func testOnlyCardsAreBound() throws {
        let r = try rules(Seeds.era2022)
        for m in [Medium.rideCode, .commemorativeTicket, .singleJourneyTicket, .welfareTicket, .electronicTicket] {
            XCTAssertEqual(
                R.bind(R.CardFacts(key: key(m, 1), bound: false), by: verified, physicalCardsOfIdentity: 0, rules: r),
                .refused(.notBindable))
        }
        XCTAssertEqual(
            R.bind(
                R.CardFacts(key: key(.municipalCard, 1), bound: false), by: verified, physicalCardsOfIdentity: 0,
                rules: r), .allowed([.bindCard]))
    }

    // 2022: an unbound card cannot be topped up without identity, and no new card without identity.
    func testUnboundCardCannotBeToppedUpAndNoNewCardWithoutIdentityIn2022() throws {
        let r = try rules(Seeds.era2022, station: "beijing-west")
        XCTAssertEqual(
            R.topUp(unbound, identityGiven: false, physicalCardsOfIdentity: 0, rules: r), .refused(.identityRequired))
        XCTAssertEqual(
            R.topUp(R.CardFacts(key: card, bound: true), identityGiven: false, physicalCardsOfIdentity: 0, rules: r),
            .allowed([.creditPurse]))
        XCTAssertEqual(
            R.issueCard(identityGiven: false, physicalCardsOfIdentity: 0, rules: r), .refused(.identityRequired))
        XCTAssertEqual(
            R.issueCard(identityGiven: true, physicalCardsOfIdentity: 0, rules: r), .allowed([.issueCard, .bindCard]))
    }

    // Returning a card needs no identity, in every era, bound or not.
    func testReturningACardNeedsNoIdentity() throws {
        for bound in [false, true] {
            XCTAssertEqual(R.returnCard(R.CardFacts(key: card, bound: bound)), .allowed([.returnCard]))
        }
        XCTAssertEqual(R.returnCard(R.CardFacts(key: card, bound: false, returned: true)), .refused(.cardReturned))
        XCTAssertEqual(
            R.topUp(
                R.CardFacts(key: card, bound: true, returned: true), identityGiven: true, physicalCardsOfIdentity: 0,
                rules: try rules(Seeds.era2024)), .refused(.cardReturned))
    }

    // 2023: anonymous stations sell, issue and top up without identity; the named others require it.
    func testAnonymousStationsNeedNoIdentityIn2023() throws {
        for station in Seeds.anonymousStations {
            let r = try rules(Seeds.era2023, station: station)
            XCTAssertTrue(r.isAnonymous, station)
            XCTAssertEqual(
                R.issueCard(identityGiven: false, physicalCardsOfIdentity: 0, rules: r), .allowed([.issueCard]), station
            )
            XCTAssertEqual(
                R.topUp(unbound, identityGiven: false, physicalCardsOfIdentity: 0, rules: r), .allowed([.creditPurse]),
                station)
            XCTAssertEqual(
                R.sellTicket(.singleJourneyTicket, idNumberGiven: false, rules: r), .allowed([.sellTicket]), station)
        }
        for station in Seeds.identityStations + ["tiantongyuan"] {
            let r = try rules(Seeds.era2023, station: station)
            XCTAssertFalse(r.isAnonymous, station)
            XCTAssertEqual(
                R.issueCard(identityGiven: false, physicalCardsOfIdentity: 0, rules: r), .refused(.identityRequired),
                station)
            XCTAssertEqual(
                R.sellTicket(.singleJourneyTicket, idNumberGiven: false, rules: r), .refused(.identityRequired), station
            )
        }
    }

    // 2023: a top-up at a non-anonymous station asks for identity, and identity given once binds
    // the card for good (and counts against one card per person).
    func testTopUpAtNonAnonymousStationAsksForIdentityAndBindsForGood() throws {
        let r = try rules(Seeds.era2023, station: "zhongguancun")
        XCTAssertEqual(
            R.topUp(unbound, identityGiven: false, physicalCardsOfIdentity: 0, rules: r), .refused(.identityRequired))
        XCTAssertEqual(
            R.topUp(unbound, identityGiven: true, physicalCardsOfIdentity: 0, rules: r),
            .allowed([.bindCard, .creditPurse]))
        XCTAssertEqual(
            R.topUp(unbound, identityGiven: true, physicalCardsOfIdentity: 1, rules: r), .refused(.oneCardPerPerson))
        // Now bound: back at an anonymous station it tops up, and can never be re-bound.
        let nowBound = R.CardFacts(key: card, bound: true)
        XCTAssertEqual(
            R.topUp(
                nowBound, identityGiven: false, physicalCardsOfIdentity: 1,
                rules: try rules(Seeds.era2023, station: "bagou")), .allowed([.creditPurse]))
        XCTAssertEqual(R.bind(nowBound, by: verified, physicalCardsOfIdentity: 0, rules: r), .refused(.alreadyBound))
    }

    // 2024: every station, including the former anonymous ones, asks for identity.
    func testRealNameEverywhereIn2024() throws {
        for station in Seeds.anonymousStations + Seeds.identityStations + ["tiantongyuan"] {
            let r = try rules(Seeds.era2024, station: station)
            XCTAssertEqual(
                R.issueCard(identityGiven: false, physicalCardsOfIdentity: 0, rules: r), .refused(.identityRequired),
                station)
            XCTAssertEqual(
                R.topUp(unbound, identityGiven: false, physicalCardsOfIdentity: 0, rules: r),
                .refused(.identityRequired), station)
            XCTAssertEqual(
                R.sellTicket(.singleJourneyTicket, idNumberGiven: false, rules: r), .refused(.identityRequired), station
            )
        }
    }

    // Single-journey and welfare tickets: the buyer's ID number is taken at sale.
    func testSingleJourneyAndWelfareTicketsNeedIdNumberAtSale() throws {
        let r = try rules(Seeds.era2022)
        for m in [Medium.singleJourneyTicket, .welfareTicket] {
            XCTAssertEqual(R.sellTicket(m, idNumberGiven: false, rules: r), .refused(.identityRequired))
            XCTAssertEqual(
                R.sellTicket(m, idNumberGiven: true, rules: r), .allowed([.sellTicket, .recordBuyerIdentity]))
        }
        XCTAssertEqual(R.sellTicket(.transitCard, idNumberGiven: true, rules: r), .refused(.wrongMedium))
    }

    // Electronic single-journey tickets: sale suspended while the health check is on; unused
    // ones refunded through the channel they were bought on.
    func testElectronicTicketSalesSuspendedAndUnusedOnesRefunded() throws {
        let r = try rules(Seeds.era2022)
        XCTAssertEqual(R.sellTicket(.electronicTicket, idNumberGiven: true, rules: r), .refused(.salesSuspended))
        XCTAssertEqual(
            R.sellTicket(.electronicTicket, idNumberGiven: true, rules: try rules(Seeds.era2023)),
            .allowed([.sellTicket]))
        let table: [(used: Bool, refunded: Bool, same: Bool, R.Verdict)] = [
            (false, false, true, .allowed([.refundTicket])), (true, false, true, .refused(.ticketUsed)),
            (false, true, true, .refused(.alreadyRefunded)), (false, false, false, .refused(.wrongChannel)),
        ]
        for row in table {
            XCTAssertEqual(
                R.refundElectronicTicket(used: row.used, refunded: row.refunded, sameChannel: row.same, rules: r), row.3
            )
        }
    }

    // Commemorative ticket: registered by its ticket number before use.
    func testCommemorativeTicketIsRegisteredByItsNumber() throws {
        let r = try rules(Seeds.era2022)
        XCTAssertEqual(
            R.registerCommemorativeTicket(number: "20220519", alreadyRegistered: false, by: verified, rules: r),
            .allowed([.registerTicket]))
        XCTAssertEqual(
            R.registerCommemorativeTicket(number: "2022-0519", alreadyRegistered: false, by: verified, rules: r),
            .refused(.invalidTicketNumber))
        XCTAssertEqual(
            R.registerCommemorativeTicket(number: "20220519", alreadyRegistered: true, by: verified, rules: r),
            .refused(.alreadyRegistered))
        XCTAssertEqual(
            R.registerCommemorativeTicket(
                number: "20220519", alreadyRegistered: false,
                by: .verificationCode(name: true, phone: true, verified: false, onBehalf: false), rules: r),
            .refused(.verificationCodeRequired))
    }

    // App ride code: authorising the link is one tap ("read and agree") in the app.
    func testRideCodeAuthorisationIsOneTapInTheApp() throws {
        for issuer in RideCodeIssuer.allCases {
            guard let k = CardKey(rideCodeIssuer: issuer, account: 9) else { return XCTFail("key") }
            XCTAssertEqual(
                R.authoriseRideCode(k, consented: true, acceptedIssuers: GatePolicy.allIssuers),
                .allowed([.authoriseRideCode]))
            XCTAssertEqual(
                R.authoriseRideCode(k, consented: false, acceptedIssuers: GatePolicy.allIssuers),
                .refused(.consentRequired))
        }
        guard let sh = CardKey(rideCodeIssuer: .shanghai, account: 9) else { return XCTFail("key") }
        XCTAssertEqual(
            R.authoriseRideCode(sh, consented: true, acceptedIssuers: RideCodeIssuer.transitApp.bit),
            .refused(.issuerNotAccepted))
        XCTAssertEqual(
            R.authoriseRideCode(card, consented: true, acceptedIssuers: GatePolicy.allIssuers), .refused(.wrongMedium))
    }

    func testEveryRefusalHasMessagesInBothLanguages() {
        for r in R.Refusal.allCases {
            XCTAssertFalse(r.messageZH.isEmpty || r.messageEN.isEmpty, r.rawValue)
        }
    }
}

extension RegistrationRuleTests {
    // Children and the elderly are helped by staff at the station: staff walk them through the same
    // steps (the code still goes to the rider's phone; the ID number is still taken at ticket sale).
    func testChildrenAndElderlyAreHelpedByStaffThroughTheSameSteps() throws {
        let r = try rules(Seeds.era2022, station: "national-library")
        let staffHelped = R.Identification.verificationCode(name: true, phone: true, verified: true, onBehalf: true)
        XCTAssertEqual(R.bind(unbound, by: staffHelped, physicalCardsOfIdentity: 0, rules: r), .allowed([.bindCard]))
        XCTAssertEqual(
            R.bind(
                unbound, by: .verificationCode(name: true, phone: true, verified: false, onBehalf: true),
                physicalCardsOfIdentity: 0, rules: r), .refused(.verificationCodeRequired))
        XCTAssertEqual(
            R.sellTicket(.welfareTicket, idNumberGiven: true, rules: r), .allowed([.sellTicket, .recordBuyerIdentity]))
        XCTAssertEqual(R.sellTicket(.welfareTicket, idNumberGiven: false, rules: r), .refused(.identityRequired))
    }
}

extension RegistrationRuleTests {
    // Office rules follow the era by date, or the era chosen explicitly; an unknown era is refused.
    func testOfficeRulesFollowTheEraByDateOrChoice() throws {
        let byDate: [(String, String)] = [
            ("2022-06-01", Seeds.era2022), ("2023-06-01", Seeds.era2023), ("2024-06-01", Seeds.era2024),
        ]
        for (date, era) in byDate {
            XCTAssertEqual(try book.officeRules(station: "bagou", on: day(date)).era, era, date)
        }
        XCTAssertEqual(try book.officeRules(station: "bagou", on: day("2023-06-01")).officeName, "anonymous")
        XCTAssertEqual(
            try book.officeRules(station: "bagou", on: day("2023-06-01"), pinnedEra: Seeds.era2024).officeName,
            "real-name-everywhere")
        XCTAssertThrowsError(try book.officeRules(station: nil, on: day("2023-06-01"), pinnedEra: "1999")) {
            XCTAssertTrue("\($0)".contains("no era '1999'"), "\($0)")
        }
    }
}
