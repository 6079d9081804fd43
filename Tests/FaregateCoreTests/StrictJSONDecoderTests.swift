import FaregateCore
import Foundation
import XCTest

/// `StrictJSON.decode`: ordinary `Decodable` types, plus unknown keys refused and every error
/// located by line, column and field path.
final class StrictJSONDecoderTests: XCTestCase {
    struct Lane: Codable, Equatable {
        var name: String
        var readers: Int8
        var ends: [Named<GateEnd>]
        var speed: Double?

        enum CodingKeys: String, CodingKey, CaseIterable { case name, readers, ends, speed }
    }

    struct Station: Decodable, Equatable {
        var id: String
        var lanes: [Lane]
        var modes: [String: Named<GateMode>]
        var outcome: Decision.Outcome

        enum CodingKeys: String, CodingKey { case id, lanes, modes, outcome, unused }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = try c.decodeWord(forKey: .id)
            lanes = try c.decode([Lane].self, forKey: .lanes)
            modes = try c.decodeIfPresent([String: Named<GateMode>].self, forKey: .modes) ?? [:]
            outcome = try c.decodeNameIfPresent(Decision.Outcome.self, forKey: .outcome) ?? .staff
            // `unused` is a declared key this type never asks for: it is refused all the same.
        }
    }

    func decode<T: Decodable>(_ type: T.Type, _ text: String) throws(JSONDecodingError) -> T {
        try StrictJSON.decode(type, from: Array(text.utf8))
    }

    func testOrdinaryDecodableTypesDecode() throws {
        let s = try decode(
            Station.self,
            """
            {"id": "xidan", "outcome": "deny", "modes": {"E01": "emergency-open", "E02": "normal"},
             "lanes": [{"name": "E01", "readers": 2, "ends": ["unpaid", "paid"], "speed": 1.5},
                       {"name": "E02", "readers": 1, "ends": [], "speed": null}]}
            """)
        XCTAssertEqual(s.id, "xidan")
        XCTAssertEqual(s.outcome, .deny)
        XCTAssertEqual(s.modes.mapValues(\.value), ["E01": .emergencyOpen, "E02": .normal])
        XCTAssertEqual(
            s.lanes,
            [
                Lane(name: "E01", readers: 2, ends: [Named(.unpaid), Named(.paid)], speed: 1.5),
                Lane(name: "E02", readers: 1, ends: [], speed: nil),
            ])
        // What Foundation's encoder writes, the strict decoder reads back.
        let lane = Lane(name: "W", readers: -3, ends: [Named(.paid)], speed: 0.25)
        XCTAssertEqual(try StrictJSON.decode(Lane.self, from: Array(try JSONEncoder().encode(lane))), lane)
    }

    func testEveryErrorIsLocated() {
        let lanes = #""lanes": [{"name": "E01", "readers": 2, "ends": []}]"#
        let cases: [(String, String)] = [
            (#"{"id": "x", "lanes": [], "lnaes": 1}"#, "line 1, column 26: lnaes is not a known setting"),
            (
                #"{"id": "x", "lanes": [], "unused": 1}"#,
                "line 1, column 26: unused is not a known setting (known: id, lanes, modes, outcome)"
            ),
            (
                "{\"id\": \"x\",\n \"lanes\": [{\"name\": \"E01\", \"readers\": 2, \"ends\": [], \"sped\": 3}]}",
                "line 2, column 54: lanes[0].sped is not a known setting (known: name, readers, ends, speed)"
            ),
            (#"{"lanes": []}"#, "line 1, column 1: id is required"),
            (#"{"id": "", "lanes": []}"#, "line 1, column 8: id must not be empty"),
            (#"{"id": 7, "lanes": []}"#, "line 1, column 8: id must be a string, not a number"),
            (#"{"id": null, "lanes": []}"#, "line 1, column 8: id must be a string, not null"),
            (#"{"id": "x", "lanes": {}}"#, "line 1, column 22: lanes must be an array, not an object"),
            (
                #"{"id": "x", "lanes": [{"name": "E01", "ends": []}]}"#,
                "line 1, column 23: lanes[0].readers is required"
            ),
            (
                #"{"id": "x", "lanes": [{"name": "E01", "readers": 300, "ends": []}]}"#,
                "line 1, column 50: lanes[0].readers must be between -128 and 127, not 300"
            ),
            (
                #"{"id": "x", "lanes": [{"name": "E01", "readers": 1.5, "ends": []}]}"#,
                "line 1, column 50: lanes[0].readers must be a whole number, not 1.5"
            ),
            (
                #"{"id": "x", "lanes": [{"name": "E01", "readers": 1, "ends": ["paid", "middle"]}]}"#,
                "line 1, column 70: lanes[0].ends[1] must be unpaid or paid, not 'middle'"
            ),
            (
                #"{"id": "x", \#(lanes), "outcome": "dney"}"#,
                "line 1, column 78: outcome must be open, deny or staff, not 'dney'"
            ),
            (
                #"{"id": "x", \#(lanes), "modes": {"E01": "closed", "E02": "shut"}}"#,
                "line 1, column 101: modes.E02 must be normal, emergency-open, out-of-service or closed, not 'shut'"
            ),
            (#"[]"#, "line 1, column 1: top level must be an object, not an array"),
            (#"{"id": "x", "lanes": [],}"#, "line 1, column 24: not valid JSON: trailing comma before '}'"),
            (
                #"{"id": "x", "id": "y", "lanes": []}"#,
                "line 1, column 13: not valid JSON: duplicate key 'id' (first at line 1, column 2)"
            ),
        ]
        for (text, expected) in cases {
            do {
                let s = try decode(Station.self, text)
                XCTFail("accepted \(text) as \(s)")
            } catch {
                XCTAssertTrue("\(error)".hasPrefix(expected), "\(text):\n  \(error)\n  expected \(expected)")
            }
        }
    }

    func testRangeAndWordHelpersWorkWithAnyDecoder() throws {
        struct Budget: Decodable {
            var millis: Int
            enum CodingKeys: String, CodingKey { case millis }
            init(from decoder: any Decoder) throws {
                millis = try decoder.container(keyedBy: CodingKeys.self).decode(Int.self, forKey: .millis, in: 0...250)
            }
        }
        XCTAssertEqual(try decode(Budget.self, #"{"millis": 250}"#).millis, 250)
        XCTAssertThrowsError(try decode(Budget.self, "{\n\"millis\": 400}")) {
            XCTAssertEqual("\($0)", "line 2, column 11: millis must be between 0 and 250, not 400")
        }
        // Foundation's decoder runs the same checks (without positions).
        XCTAssertThrowsError(try JSONDecoder().decode(Budget.self, from: Data(#"{"millis": 400}"#.utf8)))
    }

    /// A `JSONSettings` type: absent keys keep the defaults, an unknown key is refused at its own
    /// position (before a required key is missed), and the table encodes what it decodes.
    func testSettingsTablesDecodeEncodeAndRefuseUnknownKeys() throws {
        let access = try decode(AccessRules.self, #"{"passback": "staff", "anti_passback_seconds": 60}"#)
        XCTAssertEqual(access, AccessRules(antiPassbackSeconds: 60, passback: .staff))
        XCTAssertEqual(
            try decode(AccessRules.self, String(decoding: try JSONEncoder().encode(access), as: UTF8.self)), access)
        XCTAssertThrowsError(try decode(AccessRules.self, "{\"passback\": \"staff\",\n  \"pasback\": \"deny\"}")) {
            XCTAssertEqual(
                "\($0)",
                "line 2, column 3: pasback is not a known setting (known: anti_passback_seconds, passback, "
                    + "require_entry_record, exit_without_entry, entry_lifetime_seconds)")
        }
        // Every office rule is required, but a misspelt one is reported as unknown, not as missing.
        XCTAssertThrowsError(try decode(OfficeRules.self, #"{"identity_for_isue": true}"#)) {
            XCTAssertTrue("\($0)".hasPrefix("line 1, column 2: identity_for_isue is not a known setting"), "\($0)")
        }
        XCTAssertThrowsError(try decode(OfficeRules.self, #"{"identity_for_issue": true}"#)) {
            XCTAssertEqual("\($0)", "line 1, column 1: identity_for_top_up is required")
        }
        // Foundation's decoder refuses the unknown key too (without a position).
        XCTAssertThrowsError(try JSONDecoder().decode(AccessRules.self, from: Data(#"{"pasback": "deny"}"#.utf8)))
    }
}
