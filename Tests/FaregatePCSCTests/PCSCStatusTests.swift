import FaregatePCSC
import XCTest

final class PCSCStatusTests: XCTestCase {
    func testNamedStatusesAndClassification() {
        XCTAssertEqual(PCSCStatus.removedCard.rawValue, 0x8010_0069)
        XCTAssertEqual(PCSCStatus.noService.description, "pcscd not running (0x8010001D)")
        XCTAssertTrue(PCSCStatus.noService.meansServiceLost)
        XCTAssertTrue(PCSCStatus.serviceStopped.meansServiceLost)
        XCTAssertTrue(PCSCStatus.invalidHandle.meansServiceLost)
        XCTAssertFalse(PCSCStatus.removedCard.meansServiceLost)
        XCTAssertTrue(PCSCStatus.removedCard.meansCardGone)
        XCTAssertTrue(PCSCStatus.noSmartcard.meansCardGone)
        XCTAssertFalse(PCSCStatus.sharingViolation.meansCardGone)
        XCTAssertEqual(PCSCStatus(rawValue: 0x8010_0099).description, "PC/SC error (0x80100099)")
        XCTAssertEqual(
            PCSCError(status: .resetCard, call: "SCardTransmit").description, "SCardTransmit: card reset (0x80100068)")
    }
}
