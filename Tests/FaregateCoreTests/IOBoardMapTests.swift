import FaregateCore
import Foundation
import XCTest

/// The register map: the shipped files decode, every wrong map is refused at the setting that is
/// wrong, and inputs and outputs translate both ways (adapter and emulator sides).
final class IOBoardMapTests: XCTestCase {
    static let hardware = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("hardware")

    static func shipped(_ name: String) throws -> String {
        try String(contentsOf: hardware.appendingPathComponent(name), encoding: .utf8)
    }

    func parse(_ text: String) throws(JSONDecodingError) -> IOBoardMap { try IOBoardMap.parse(Array(text.utf8)) }

    func testShippedMapsDecode() throws {
        let small = try parse(try Self.shipped("modbus-8in8out.json"))
        XCTAssertEqual(small.inputSpan, 0...7)
        XCTAssertEqual(small.coilSpan, 0...7)
        XCTAssertEqual(small.heartbeat, .coil(3))
        XCTAssertNil(small.buzzer)
        XCTAssertEqual(small.watchdogMillis, 1000)
        let lane = try parse(try Self.shipped("modbus-lane-16in.json"))
        XCTAssertEqual(lane.inputSpan, 0...15)
        XCTAssertEqual(lane.heartbeat, .register(0))
        XCTAssertEqual(lane.buzzer, 7)
        XCTAssertEqual(lane.beams.filter { $0.zone == .unpaidMonitoring }.count, 4)
    }

    /// Each row changes the shipped 8-in / 8-out map and names the setting and the problem.
    func testWrongMapsAreRefusedNamingTheSetting() throws {
        let base = try Self.shipped("modbus-8in8out.json")
        let rows: [(change: (String, String), field: String, problem: String)] = [
            (
                ("\"flap_retract\": 2", "\"flap_retract\": 0"), "coils.flap_retract",
                "which coils.flap_open_entry already uses"
            ),
            (
                ("\"fire_alarm\": 6", "\"fire_alarm\": 5"), "discrete_inputs.fire_alarm",
                "which discrete_inputs.beams[5].input already uses"
            ),
            (
                (
                    "{\"input\": 3, \"zone\": \"buffer\", \"height\": \"low\"}",
                    "{\"input\": 3, \"zone\": \"buffer\", \"height\": \"high\"}"
                ),
                "discrete_inputs.beams", "no low beam in the buffer zone"
            ),
            (
                (
                    "{\"input\": 1, \"zone\": \"unpaid-monitoring\", \"height\": \"low\"}",
                    "{\"input\": 1, \"zone\": \"paid-detection\", \"height\": \"high\"}"
                ),
                "discrete_inputs.beams", "no low beam in the unpaid-monitoring zone"
            ),
            (
                ("\"power_fail\": 7", "\"power_fail\": 3"), "discrete_inputs.power_fail",
                "which discrete_inputs.beams[3].input already uses"
            ),
            ((",\n    \"power_fail\": 7", ""), "discrete_inputs.power_fail", "is required"),
            (("\"fire_alarm\": 6,", "\"fire_alarm\": 6, \"power_fail\": 7,"), "", "duplicate key 'power_fail'"),
            (("\"unpaid_red_cross\": 5,", ""), "coils.unpaid_red_cross", "is required"),
            (
                ("\"heartbeat\": {\"coil\": 3", "\"heartbeat\": {\"coil\": 7"), "heartbeat.coil",
                "which coils.paid_red_cross already uses"
            ),
            (("\"coil\": 3, ", ""), "heartbeat", "must name the coil or the holding register"),
            (("\"coil\": 3, ", "\"coil\": 3, \"register\": 1, "), "heartbeat.register", "both set"),
            (("\"interval_ms\": 100", "\"interval_ms\": 400"), "heartbeat.interval_ms", "at most a third"),
            (("\"watchdog_ms\": 1000", "\"watchdog_ms\": 50"), "heartbeat.watchdog_ms", "between 100 and 60000"),
            (("\"flap_open_exit\": 1", "\"flap_open_exit\": 70000"), "coils.flap_open_exit", "between 0 and 65535"),
            (("\"flap_open_exit\": 1", "\"flap_open_exit\": 4000"), "coils", "more than the 1968 coils"),
            (("\"fire_alarm\": 6", "\"fire_alarm\": 2600"), "discrete_inputs", "more than the 2000 inputs"),
            (
                ("\"height\": \"high\"}", "\"height\": \"tall\"}"), "discrete_inputs.beams[0].height",
                "must be high or low"
            ),
            (
                ("\"zone\": \"buffer\"", "\"zone\": \"lobby\""), "discrete_inputs.beams[2].zone",
                "must be unpaid-detection"
            ),
            (
                ("\"flap_retract\": 2", "\"flap_retract\": 2, \"flap_close\": 9"), "coils.flap_close",
                "not a known setting"
            ),
        ]
        for row in rows {
            XCTAssertTrue(base.contains(row.change.0), "row \(row.field): the base map has no \(row.change.0)")
            let text = base.replacingOccurrences(of: row.change.0, with: row.change.1)
            do {
                let m = try parse(text)
                XCTFail("\(row.change) was accepted: \(m)")
            } catch {
                XCTAssertEqual(error.field, row.field, "\(row.change): \(error)")
                XCTAssertTrue(error.problem.contains(row.problem), "\(row.change): \(error)")
                XCTAssertGreaterThan(error.position.line, 0)
            }
        }
    }

    func testDetectionZonesNeedALowBeamWhenPresent() throws {
        let base = try Self.shipped("modbus-8in8out.json")
        let text = base.replacingOccurrences(
            of: "{\"input\": 0, \"zone\": \"unpaid-monitoring\", \"height\": \"high\"},",
            with:
                "{\"input\": 0, \"zone\": \"unpaid-monitoring\", \"height\": \"high\"}, {\"input\": 9, \"zone\": \"unpaid-detection\", \"height\": \"high\"},"
        )
        XCTAssertThrowsError(try parse(text)) { e in
            XCTAssertTrue("\(e)".contains("only high beams in the unpaid-detection zone"), "\(e)")
        }
    }

    /// Adult, child and clear per zone, both contacts: what the adapter reads back is what the
    /// emulator shows, and a child is told from an adult by the high beams.
    func testLevelsRoundTripThroughTheInputBits() throws {
        for name in ["modbus-8in8out.json", "modbus-lane-16in.json"] {
            let map = try parse(try Self.shipped(name))
            let zones = SensorZone.allCases.filter { z in map.beams.contains { $0.zone == z } }
            for reading in SensorReading.allCases {
                for zone in zones {
                    for (fire, power) in [(false, false), (true, false), (false, true)] {
                        var l = IOBoardLevels()
                        l.zones[zone] = reading
                        l.fireAlarm = fire
                        l.powerFailure = power
                        let bits = Dictionary(
                            uniqueKeysWithValues: map.inputBits(for: l).map { ($0.address, $0.value) })
                        XCTAssertEqual(map.levels { bits[$0] ?? false }, l, "\(name) \(zone) \(reading)")
                    }
                }
            }
            // A cut wire (every input 0) is fire and power lost; every beam made, nobody there.
            let cut = map.levels { _ in false }
            XCTAssertTrue(cut.fireAlarm && cut.powerFailure && cut.allClear, name)
        }
    }

    func testEdgesListWhatChanged() {
        var a = IOBoardLevels()
        var b = a
        b.zones[.buffer] = .child
        b.fireAlarm = true
        XCTAssertEqual(a.edges(to: b), [.sensor(.buffer, .child), .fireAlarm(active: true)])
        a = b
        b.zones[.buffer] = .adult
        b.zones[.paidMonitoring] = .adult
        XCTAssertEqual(a.edges(to: b), [.sensor(.buffer, .adult), .sensor(.paidMonitoring, .adult)])
        XCTAssertEqual(b.edges(to: b), [])
    }

    func testOutputsRoundTripThroughTheCoils() throws {
        let map = try parse(try Self.shipped("modbus-lane-16in.json"))
        for flaps in [FlapCommand.close, .open(.entry), .open(.exit), .retract] {
            for unpaid in [Indicator.off, .greenArrow, .redCross] {
                for paid in [Indicator.off, .greenArrow, .redCross] {
                    for buzzer in [false, true] {
                        var o = IOBoardOutputs()
                        o.flaps = flaps
                        o.unpaid = unpaid
                        o.paid = paid
                        o.buzzer = buzzer
                        let coils = Dictionary(
                            uniqueKeysWithValues: map.coilValues(for: o).map { ($0.address, $0.value) })
                        XCTAssertEqual(map.outputs { coils[$0] ?? false }, o)
                    }
                }
            }
        }
        // Both opens at once is no side at all: a board closes.
        XCTAssertEqual(map.outputs { $0 == map.flapOpenEntry || $0 == map.flapOpenExit }.flaps, .close)
    }

    func testBuzzerTimeline() {
        let rows: [(BuzzerPattern, [(UInt64, Bool)], next: UInt64?)] = [
            (.off, [(0, false), (50, false)], nil),
            (.accept, [(0, true), (99, true), (100, false), (500, false)], 100),
            (.deny, [(0, true), (150, false), (250, true), (300, false)], 100),
            (.alarm, [(0, true), (1_000_000, true)], nil),
        ]
        for (pattern, levels, next) in rows {
            let t = BuzzerTimeline(pattern, start: 1_000_000_000)
            for (ms, on) in levels {
                XCTAssertEqual(t.level(at: 1_000_000_000 + ms * 1_000_000), on, "\(pattern) at \(ms) ms")
            }
            XCTAssertEqual(
                t.nextChange(after: 1_000_000_000).map { ($0 - 1_000_000_000) / 1_000_000 }, next, "\(pattern)")
            XCTAssertFalse(t.level(at: 0), "before it started")
        }
    }
}
