import FaregateCore
import XCTest

/// Every outcome the skeleton's engine can produce, table-driven.
final class DecisionEngineTests: XCTestCase {
    let today = CalendarDate(year: 2022, month: 6, day: 1)!
    let card = CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001)!

    func read(
        balance: Int32? = 500, from: CalendarDate? = CalendarDate(year: 2020, month: 1, day: 1),
        until: CalendarDate? = CalendarDate(year: 2030, month: 1, day: 1), blocked: Bool = false,
        disabled: Bool = false,
        onCardBlacklist: Bool = false, key: CardKey? = nil
    ) -> CardRead {
        CardRead(
            key: key ?? card, application: .tUnion, balanceFen: balance, validFrom: from, validUntil: until,
            applicationBlocked: blocked, disabled: disabled, blacklistedOnCard: onCardBlacklist)
    }

    func testEveryOutcome() {
        let green = CardStatus(health: .green, binding: .bound)
        let engine = DecisionEngine(policy: .healthCheckEra)
        let fresh = DecisionContext(today: today, dataAgeSeconds: 10)
        let cases: [(String, Tap.Result, CardStatus?, DecisionContext, Decision)] = [
            ("bound green opens", .card(read()), green, fresh, .open(.ok)),
            (
                "unbound card denied", .card(read()), CardStatus(health: .unknown, binding: .unbound), fresh,
                .deny(.unboundCard)
            ),
            (
                "yellow goes to staff", .card(read()), CardStatus(health: .yellow, binding: .bound), fresh,
                .staff(.healthYellow)
            ),
            ("red denied", .card(read()), CardStatus(health: .red, binding: .bound), fresh, .deny(.healthRed)),
            (
                "unknown health to staff", .card(read()), CardStatus(health: .unknown, binding: .bound), fresh,
                .staff(.healthUnknown)
            ),
            ("unknown key to staff", .card(read()), nil, fresh, .staff(.unknownCard)),
            (
                "central blacklist", .card(read()), CardStatus(health: .green, binding: .bound, blacklisted: true),
                fresh, .deny(.blacklisted)
            ),
            (
                "returned card", .card(read()), CardStatus(health: .green, binding: .bound, returned: true), fresh,
                .deny(.returnedCard)
            ),
            (
                "suspended ticket", .card(read()), CardStatus(health: .green, binding: .bound, suspended: true), fresh,
                .deny(.ticketSuspended)
            ),
            ("blocked application", .card(read(blocked: true)), green, fresh, .deny(.applicationBlocked)),
            ("never enabled", .card(read(disabled: true)), green, fresh, .deny(.disabled)),
            ("on-card blacklist", .card(read(onCardBlacklist: true)), green, fresh, .deny(.blacklisted)),
            (
                "expired yesterday", .card(read(until: CalendarDate(year: 2022, month: 5, day: 31))), green, fresh,
                .deny(.expired)
            ),
            ("valid through today", .card(read(until: today)), green, fresh, .open(.ok)),
            (
                "not yet valid", .card(read(from: CalendarDate(year: 2022, month: 6, day: 2))), green, fresh,
                .deny(.notYetValid)
            ),
            ("empty purse", .card(read(balance: 0)), green, fresh, .deny(.insufficientBalance)),
            ("no purse needed", .card(read(balance: nil)), green, fresh, .open(.ok)),
            ("removed mid-read", .failed(.cardRemoved, nil), nil, fresh, .deny(.cardRemoved)),
            ("malformed response", .failed(.malformedResponse, nil), nil, fresh, .deny(.readError)),
            ("unknown application", .failed(.unknownApplication, nil), nil, fresh, .deny(.readError)),
            (
                "stale data to staff", .card(read()), green, DecisionContext(today: today, dataAgeSeconds: 7 * 3600),
                .staff(.staleData)
            ),
            (
                "never synced to staff", .card(read()), nil, DecisionContext(today: today, dataAgeSeconds: nil),
                .staff(.staleData)
            ),
            (
                "stale but blacklisted still denied", .card(read()),
                CardStatus(health: .green, binding: .bound, blacklisted: true),
                DecisionContext(today: today, dataAgeSeconds: nil), .deny(.blacklisted)
            ),
            (
                "unregistered commemorative ticket",
                .card(read(balance: nil, key: CardKey(medium: .commemorativeTicket, identifier: 5))),
                CardStatus(health: .unknown, binding: .unbound), fresh, .deny(.unregisteredTicket)
            ),
        ]
        for (name, result, status, context, expected) in cases {
            XCTAssertEqual(engine.decide(result, status: status, context: context), expected, name)
        }
    }

    func testPolicyOutcomesAreData() {
        var policy = GatePolicy.healthCheckEra
        policy.healthCheck = false
        let fresh = DecisionContext(today: today, dataAgeSeconds: 0)
        let unbound = CardStatus(health: .unknown, binding: .unbound)
        XCTAssertEqual(DecisionEngine(policy: policy).decide(read(), status: unbound, context: fresh), .open(.ok))
        policy.healthCheck = true
        policy.healthYellow = .deny
        policy.unknownCard = .deny
        policy.staleData = .open
        let e = DecisionEngine(policy: policy)
        XCTAssertEqual(
            e.decide(read(), status: CardStatus(health: .yellow, binding: .bound), context: fresh), .deny(.healthYellow)
        )
        XCTAssertEqual(e.decide(read(), status: nil, context: fresh), .deny(.unknownCard))
        XCTAssertEqual(
            e.decide(
                read(), status: CardStatus(health: .green, binding: .bound),
                context: DecisionContext(today: today, dataAgeSeconds: nil)),
            .open(.ok), "a policy that opens on stale data decides on the cached status")
    }
}
