import FaregateCore
import FaregateRuntime
import Foundation
import XCTest

final class GateConfigTests: XCTestCase {
    func parse(_ json: String) throws -> GateConfig {
        try GateConfig.parse(Data(json.utf8), path: "/etc/faregate/gate.json", baseDirectory: "/etc/faregate")
    }

    func testFullConfigParses() throws {
        let c = try parse(
            """
            {"gate_id": "BJ-L1-XIDAN-E01", "station": "xidan", "line": "1", "journal_dir": "/var/lib/faregate/journal",
             "journal_fsync": true, "ring_capacity": 256, "utc_offset_hours": 8,
             "central": {"sqlite": "central.sqlite"},
             "sync": {"interval_seconds": 30, "jitter_seconds": 5, "max_backoff_seconds": 300, "upload_batch": 100},
             "readers": {"backend": "simulated", "count": 2, "script": "taps.txt", "busy_budget_ms": 80},
             "policy": {"health_check": true, "health_yellow": "deny", "max_data_age_seconds": 3600}}
            """)
        XCTAssertEqual(c.gateID, "BJ-L1-XIDAN-E01")
        XCTAssertEqual(
            c.central, .sqlite(path: "/etc/faregate/central.sqlite"), "relative paths resolve against the file")
        XCTAssertEqual(c.readers.script, "/etc/faregate/taps.txt")
        XCTAssertEqual(c.readers.busyBudgetMillis, 80)
        XCTAssertEqual(c.ringCapacity, 256)
        XCTAssertEqual(c.sync.intervalSeconds, 30)
        XCTAssertEqual(c.policy.healthYellow, .deny)
        XCTAssertEqual(c.policy.maxDataAgeSeconds, 3600)
        XCTAssertEqual(
            c.policy.healthRed, GatePolicy.healthCheckEra.healthRed, "unset policy fields keep the era's defaults")
    }

    func testEveryMistakeNamesTheSetting() {
        let cases: [(String, String)] = [
            (#"{"journal_dir": "j"}"#, "gate_id is required"),
            (#"{"gate_id": "G", "journal_dir": "j", "ring_capacty": 8}"#, "ring_capacty is not a known setting"),
            (#"{"gate_id": "G", "journal_dir": "j", "ring_capacity": 100}"#, "power of two"),
            (#"{"gate_id": "G", "journal_dir": "j", "ring_capacity": "big"}"#, "ring_capacity must be a number"),
            (#"{"gate_id": "G", "journal_dir": "j", "journal_fsync": 1}"#, "journal_fsync must be true or false"),
            (#"{"gate_id": "G", "journal_dir": "j", "readers": {"backend": "usb"}}"#, "readers.backend"),
            (#"{"gate_id": "G", "journal_dir": "j", "readers": {"busy_budget_ms": 400}}"#, "readers.busy_budget_ms"),
            (#"{"gate_id": "G", "journal_dir": "j", "sync": {"interval": 5}}"#, "sync.interval is not a known setting"),
            (#"{"gate_id": "G", "journal_dir": "j", "policy": {"health_red": "maybe"}}"#, "policy.health_red must be"),
            (#"{"gate_id": "bad id!", "journal_dir": "j"}"#, "gate_id must be"),
            (#"[1, 2]"#, "top level must be an object"),
            (#"{"gate_id": "G", "#, "not valid JSON"),
        ]
        for (json, expected) in cases {
            XCTAssertThrowsError(try parse(json), json) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains(expected), "\(json): \(text)")
                XCTAssertTrue(text.contains("/etc/faregate/gate.json"), "names the file: \(text)")
            }
        }
    }

    func testMissingFileIsNamed() {
        XCTAssertThrowsError(try GateConfig.load(path: "/nonexistent/gate.json")) {
            XCTAssertEqual("\($0)", "config /nonexistent/gate.json: does not exist")
        }
    }
}
