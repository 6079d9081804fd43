import FaregateCentralScenarios
import FaregateCore
import FaregateSQLite
import Foundation
import XCTest

/// The central operations' rules against a real SQLite file (one fresh store per era in a scenario).
final class SQLiteCentralOperationsTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-ops-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func scenarios() throws -> CentralOperationScenarios {
        let dir = self.dir ?? NSTemporaryDirectory()
        return try CentralOperationScenarios {
            try SQLiteCentralStore.create(at: dir + "/\(UUID().uuidString).sqlite")
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

    func testCurrentSchemaHasTheOperationLog() throws {
        let store = try SQLiteCentralStore.create(at: dir + "/m.sqlite")
        XCTAssertEqual(SQLiteCentralStore.schemaVersion, 4)
        XCTAssertEqual(try store.operationLog(of: CardKey(rawValue: 1)).count, 0)
    }
}
