import FaregateCentralScenarios
import FaregateCore
import FaregatePostgres
import Foundation
import Synchronization
import XCTest

/// The central operations' rules against a real PostgreSQL server (`scripts/services/postgres`);
/// every store a scenario opens lives in a schema of its own, dropped afterwards.
final class PostgresCentralOperationsTests: XCTestCase {
    var base = ""
    var schemas: [String] = []

    override func setUpWithError() throws {
        guard let b = ProcessInfo.processInfo.environment["FAREGATE_TEST_PG"], !b.isEmpty else {
            if ProcessInfo.processInfo.environment["FAREGATE_REQUIRE_SERVICES"] == "1" {
                XCTFail("FAREGATE_TEST_PG is not set but services are required (scripts/services/postgres)")
            }
            throw XCTSkip("FAREGATE_TEST_PG not set: start scripts/services/postgres")
        }
        base = b
    }

    override func tearDownWithError() throws {
        guard !schemas.isEmpty else { return }
        let admin = try PostgresConnection(base)
        for s in schemas { try admin.execute("DROP SCHEMA \(s) CASCADE") }
    }

    /// A new schema of this test's own (dropped afterwards); returns its connection string.
    func newSchema() throws -> String {
        let schema = "o_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try PostgresConnection(base).execute("CREATE SCHEMA \(schema)")
        schemas.append(schema)
        return base + " options='-c search_path=\(schema)'"
    }

    func scenarios() throws -> CentralOperationScenarios {
        try CentralOperationScenarios { [self] in try PostgresCentralStore.create(connecting: try newSchema()) }
    }

    func testIssueCardNeedsIdentityAndBindsIt() throws { try scenarios().issueCardNeedsIdentityAndBindsIt() }
    func testIssueCardAtAnonymousStationNeedsNoIdentity() throws {
        try scenarios().issueCardAtAnonymousStationNeedsNoIdentity()
    }
    func testIssueCardOneCardPerPersonUntil2024() throws { try scenarios().issueCardOneCardPerPersonUntil2024() }
    func testBindNeedsNamePhoneAndVerificationCode() throws { try scenarios().bindNeedsNamePhoneAndVerificationCode() }
    func testBindOnBehalfWithTheirCode() throws { try scenarios().bindOnBehalfWithTheirCode() }
    func testBindIsPermanent() throws { try scenarios().bindIsPermanent() }
    func testBindOneCardPerPersonUntil2024() throws { try scenarios().bindOneCardPerPersonUntil2024() }
    func testBindForRelativeByStaffOnlyIn2024() throws { try scenarios().bindForRelativeByStaffOnlyIn2024() }
    func testBindPhoneCardIsNotAPhysicalCard() throws { try scenarios().bindPhoneCardIsNotAPhysicalCard() }
    func testStoreRechecksBindingInItsTransaction() throws { try scenarios().storeRechecksBindingInItsTransaction() }
    func testTopUpUnboundCardNeedsIdentity() throws { try scenarios().topUpUnboundCardNeedsIdentity() }
    func testTopUpWithIdentityBindsTheCard() throws { try scenarios().topUpWithIdentityBindsTheCard() }
    func testTopUpAtAnonymousStationNeedsNoIdentity() throws {
        try scenarios().topUpAtAnonymousStationNeedsNoIdentity()
    }
    func testTopUpAtAnonymousStationWithIdentityBindsForGood() throws {
        try scenarios().topUpAtAnonymousStationWithIdentityBindsForGood()
    }
    func testTopUpBoundCardAndNotAReturnedOne() throws { try scenarios().topUpBoundCardAndNotAReturnedOne() }
    func testReturnCardNeedsNoIdentity() throws { try scenarios().returnCardNeedsNoIdentity() }
    func testSellTicketTakesIdentity() throws { try scenarios().sellTicketTakesIdentity() }
    func testSellTicketAtAnonymousStationNeedsNoIdentity() throws {
        try scenarios().sellTicketAtAnonymousStationNeedsNoIdentity()
    }
    func testSellElectronicTicketSuspendedIn2022() throws { try scenarios().sellElectronicTicketSuspendedIn2022() }
    func testRefundUnusedElectronicTicket() throws { try scenarios().refundUnusedElectronicTicket() }
    func testRefundUsedElectronicTicketRefused() throws { try scenarios().refundUsedElectronicTicketRefused() }
    func testRefundThroughTheSaleChannel() throws { try scenarios().refundThroughTheSaleChannel() }
    func testRegisterCommemorativeTicketByNumber() throws { try scenarios().registerCommemorativeTicketByNumber() }
    func testAuthoriseRideCodeBindsTheAccount() throws { try scenarios().authoriseRideCodeBindsTheAccount() }

    /// Two clerks binding two different physical cards to one person at the same moment, in 2022:
    /// the store's lock on the identity lets exactly one of them through, every round.
    func testConcurrentBindingsToOneIdentityRespectTheLimit() throws {
        let conn = try newSchema()
        let setup = (store: try PostgresCentralStore.create(connecting: conn), conninfo: conn)
        let rounds = 8
        var keys: [(CardKey, CardKey)] = []
        for r in 0..<rounds {
            guard let a = CardKey(medium: .transitCard, identifier: UInt64(100 + 2 * r)),
                let b = CardKey(medium: .transitCard, identifier: UInt64(101 + 2 * r))
            else { return XCTFail("no keys") }
            keys.append((a, b))
        }
        try setup.store.insertCards(
            keys.flatMap { [$0.0, $0.1] }.map {
                CentralCardRecord(key: $0, cardType: .normal, identityHash: nil, health: .unknown)
            }, wallMillis: 1)
        let rules = OfficeRules(maxPhysicalCardsPerIdentity: 1)
        let clerks = Clerks(
            try (0..<2).map { _ in CentralOperations(store: try PostgresCentralStore(connecting: conn), rules: rules) })
        let how = RegistrationRules.Identification.verificationCode(
            name: true, phone: true, verified: true, onBehalf: false)
        for (r, pair) in keys.enumerated() {
            let person = [UInt8](repeating: UInt8(r + 1), count: 32)
            let results = Mutex<[RegistrationRules.Verdict?]>([nil, nil])
            DispatchQueue.concurrentPerform(iterations: 2) { i in
                let v = try? clerks.all[i].bind(i == 0 ? pair.0 : pair.1, identityHash: person, by: how, wallMillis: 2)
                results.withLock { $0[i] = v }
            }
            let verdicts = results.withLock { $0 }
            XCTAssertEqual(verdicts.filter { $0?.isAllowed == true }.count, 1, "round \(r): \(verdicts)")
            XCTAssertEqual(verdicts.filter { $0?.refusal == .oneCardPerPerson }.count, 1, "round \(r): \(verdicts)")
            XCTAssertEqual(try setup.store.physicalCardsBound(identityHash: person), 1, "round \(r)")
        }
    }
}

/// Each clerk (its own connection) is used by exactly one thread of `concurrentPerform`.
private final class Clerks: @unchecked Sendable {
    let all: [CentralOperations]
    init(_ all: [CentralOperations]) { self.all = all }
}
