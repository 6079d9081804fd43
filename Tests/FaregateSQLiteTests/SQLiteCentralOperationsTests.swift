import FaregateCentralScenarios
import FaregateCore
import FaregateSQLite
import Foundation
import Synchronization
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
        XCTAssertGreaterThanOrEqual(SQLiteCentralStore.schemaVersion, 4, "the operation log came with migration 4")
        XCTAssertEqual(try store.operationLog(of: CardKey(rawValue: 1)).count, 0)
    }

    /// Two clerks (two connections to one file) binding two physical cards to one person at once,
    /// in 2022: the single-writer transaction lets exactly one through, every round.
    func testConcurrentBindingsToOneIdentityRespectTheLimit() throws {
        let path = dir + "/concurrent.sqlite"
        let store = try SQLiteCentralStore.create(at: path)
        let rounds = 8
        let keys: [(CardKey, CardKey)] = (0..<rounds).map { (r: Int) -> (CardKey, CardKey) in
            let n = UInt64(100 + 2 * r)
            return (CardKey(rawValue: n), CardKey(rawValue: n + 1))
        }
        try store.insertCards(
            keys.flatMap { [$0.0, $0.1] }.map {
                CentralCardRecord(key: $0, cardType: .normal, identityHash: nil, health: .unknown)
            }, wallMillis: 1)
        let rules = OfficeRules(maxPhysicalCardsPerIdentity: 1)
        let clerks = SQLiteClerks(
            try (0..<2).map { _ in CentralOperations(store: try SQLiteCentralStore(path: path), rules: rules) })
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
            XCTAssertEqual(try store.physicalCardsBound(identityHash: person), 1, "round \(r)")
        }
    }
}

/// Each clerk (its own connection) is used by exactly one thread of `concurrentPerform`.
private final class SQLiteClerks: @unchecked Sendable {
    let all: [CentralOperations]
    init(_ all: [CentralOperations]) { self.all = all }
}
