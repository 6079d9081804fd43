import FaregateCentralScenarios
import FaregateCore
import FaregatePostgres
import Foundation
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

    func scenarios() throws -> CentralOperationScenarios {
        try CentralOperationScenarios { [self] in
            let schema = "o_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
            try PostgresConnection(base).execute("CREATE SCHEMA \(schema)")
            schemas.append(schema)
            return try PostgresCentralStore.create(connecting: base + " options='-c search_path=\(schema)'")
        }
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
}
