import Foundation
import XCTest

/// The vpcd port of the pcscd that `scripts/services/pcscd` started. Skips the test when the
/// service is not running, and fails it instead when `FAREGATE_REQUIRE_SERVICES=1` (CI), so a
/// missing pcscd can never pass as skipped tests there.
func vpcdPortOrSkip() throws -> UInt16 {
    let env = ProcessInfo.processInfo.environment
    guard let port = env["FAREGATE_VPCD_PORT"].flatMap(UInt16.init) else {
        if env["FAREGATE_REQUIRE_SERVICES"] == "1" {
            XCTFail("FAREGATE_VPCD_PORT is not set: scripts/services/pcscd did not start")
        }
        throw XCTSkip("pcscd with vpcd not running (scripts/services/pcscd start)")
    }
    return port
}
