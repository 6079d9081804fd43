import FaregateCore
import Foundation
import XCTest

/// Policy files are validated on load with messages naming the file, the field and the problem;
/// a refused file leaves the policy in force untouched.
final class PolicyLoadingTests: XCTestCase {
    /// The 2022 seed file with `edit` applied to its text.
    func load2022(_ edit: (String) -> String) throws -> Result<PolicyBook, PolicyError> {
        let text = edit(try Seeds.text("2022-health-check.json"))
        do {
            return .success(try PolicyBook.load([("2022-health-check.json", Array(text.utf8))]))
        } catch {
            return .failure(error)
        }
    }

    func testMalformedPolicyFileIsRefusedWithPreciseMessage() throws {
        let cases: [(String, (String) -> String, field: String, problem: String)] = [
            (
                "misspelt outcome",
                { $0.replacingOccurrences(of: "\"health_red\": \"deny\"", with: "\"health_red\": \"dney\"") },
                "gate_rules.health-check.health_red", "must be open, deny or staff, not 'dney'"
            ),
            (
                "unknown field",
                {
                    $0.replacingOccurrences(
                        of:
                            "\"health_yellow\": \"staff\",\n      \"health_red\": \"deny\",\n      \"health_unknown\": \"staff\",\n      \"unknown_card\": \"staff\",\n      \"stale_data\": \"staff\",\n      \"minimum_balance_fen\": 1,\n      \"max_data_age_seconds\": 21600,\n      \"suspended_media\": [\"electronic-ticket\"]\n    },\n    \"manual-check\"",
                        with:
                            "\"health_yellow\": \"staff\",\n      \"health_rd\": \"deny\",\n      \"health_unknown\": \"staff\",\n      \"unknown_card\": \"staff\",\n      \"stale_data\": \"staff\",\n      \"minimum_balance_fen\": 1,\n      \"max_data_age_seconds\": 21600,\n      \"suspended_media\": [\"electronic-ticket\"]\n    },\n    \"manual-check\""
                    )
                },
                "gate_rules.health-check.health_rd", "is not a known setting"
            ),
            (
                "bad date", { $0.replacingOccurrences(of: "\"2022-05-23\"", with: "\"2022-02-30\"") },
                "effective_from", "must be a date (YYYY-MM-DD), not '2022-02-30'"
            ),
            (
                "wrong type",
                {
                    $0.replacingOccurrences(
                        of: "\"max_physical_cards_per_identity\": 1",
                        with: "\"max_physical_cards_per_identity\": \"one\"")
                },
                "office_rules.real-name.max_physical_cards_per_identity", "must be a number, not a string"
            ),
            (
                "negative number",
                {
                    $0.replacingOccurrences(
                        of:
                            "\"minimum_balance_fen\": 1,\n      \"max_data_age_seconds\": 21600,\n      \"suspended_media\": [\"electronic-ticket\"]\n    },\n    \"manual-check\"",
                        with:
                            "\"minimum_balance_fen\": -5,\n      \"max_data_age_seconds\": 21600,\n      \"suspended_media\": [\"electronic-ticket\"]\n    },\n    \"manual-check\""
                    )
                },
                "gate_rules.health-check.minimum_balance_fen", "must be between 0 and 2147483647, not -5"
            ),
            (
                "unknown medium",
                {
                    $0.replacingOccurrences(
                        of: "[\"electronic-ticket\"]\n    },\n    \"manual-check\"",
                        with: "[\"e-ticket\"]\n    },\n    \"manual-check\"")
                },
                "gate_rules.health-check.suspended_media[0]", "not 'e-ticket'"
            ),
            (
                "undefined rule set",
                {
                    $0.replacingOccurrences(
                        of: "{ \"line\": \"bus-6\", \"name\": \"6路\", \"enforce\": \"manual-check\"",
                        with: "{ \"line\": \"bus-6\", \"name\": \"6路\", \"enforce\": \"manual\"")
                },
                "lines[1].enforce", "must name a rule set of gate_rules (health-check or manual-check), not 'manual'"
            ),
            (
                "duplicate line", { $0.replacingOccurrences(of: "\"line\": \"bus-6\"", with: "\"line\": \"bus-2\"") },
                "lines[1].line", "'bus-2' is listed twice"
            ),
            (
                "missing field", { $0.replacingOccurrences(of: "\"health_check\": false,", with: "") },
                "gate_rules.manual-check.health_check", "is required"
            ),
            (
                "schema", { $0.replacingOccurrences(of: "\"schema\": 1", with: "\"schema\": 2") },
                "schema", "version 2 is not understood"
            ),
            ("not JSON", { String($0.dropLast(3)) }, "", "not valid JSON"),
        ]
        for (name, edit, field, problem) in cases {
            switch try load2022(edit) {
            case .success: XCTFail("\(name): accepted")
            case .failure(let e):
                XCTAssertEqual(e.file, "2022-health-check.json", name)
                XCTAssertEqual(e.field, field, "\(name): \(e)")
                XCTAssertTrue(e.problem.contains(problem), "\(name): \(e)")
                XCTAssertTrue(e.description.hasPrefix("policy 2022-health-check.json: "), "\(name): \(e)")
            }
        }
    }

    /// Line and column (1-based, in characters) of the `occurrence`th `needle` in `text`.
    func position(of needle: String, in text: String, occurrence: Int = 1) -> JSONPosition {
        var from = text.startIndex
        var found = text.endIndex
        for _ in 0..<occurrence {
            guard let r = text.range(of: needle, range: from..<text.endIndex) else { break }
            found = r.lowerBound
            from = r.upperBound
        }
        let lines = text[..<found].split(separator: "\n", omittingEmptySubsequences: false)
        return JSONPosition(line: lines.count, column: (lines.last?.count ?? 0) + 1)
    }

    /// The first `target` of `text` replaced by `replacement`.
    func replacingFirst(_ target: String, with replacement: String, in text: String) -> String {
        guard let r = text.range(of: target) else { return text }
        return text.replacingCharacters(in: r, with: replacement)
    }

    /// Unknown keys, duplicate keys and trailing commas are refused with the line and column.
    func testPolicyFileMistakesAreRefusedWithLineAndColumn() throws {
        let text = try Seeds.text("2022-health-check.json")
        let red = "\"health_red\": \"deny\","
        let cases: [(String, edited: String, at: String, occurrence: Int, field: String, problem: String)] = [
            (
                "unknown key", replacingFirst("\"unbound_card\"", with: "\"unbond_card\"", in: text), "\"unbond_card\"",
                1, "gate_rules.health-check.unbond_card", "is not a known setting (known: health_check, unbound_card"
            ),
            (
                "duplicate key", replacingFirst(red, with: red + " " + red, in: text), "\"health_red\"", 2, "",
                "not valid JSON: duplicate key 'health_red' (first at line"
            ),
            (
                "trailing comma", replacingFirst("\"electronic-ticket\"]", with: "\"electronic-ticket\",]", in: text),
                ",]", 1, "", "not valid JSON: trailing comma before ']'"
            ),
            (
                "key of another list",
                replacingFirst("{ \"line\": \"bus-6\",", with: "{ \"line\": \"bus-6\", \"station\": \"x\",", in: text),
                "\"station\"", 1, "lines[1].station",
                "is not a known setting (known: enforce, line, name, office, shadow)"
            ),
        ]
        for (name, edited, needle, occurrence, field, problem) in cases {
            XCTAssertNotEqual(edited, text, name)
            XCTAssertThrowsError(try PolicyBook.load([("2022-health-check.json", Array(edited.utf8))]), name) { error in
                guard let e = error as? PolicyError else { return XCTFail("\(name): \(error)") }
                let expected = self.position(of: needle, in: edited, occurrence: occurrence)
                XCTAssertEqual(e.position, expected, "\(name): \(e)")
                XCTAssertEqual(e.field, field, "\(name): \(e)")
                XCTAssertTrue(e.problem.hasPrefix(problem), "\(name): \(e)")
                let prefix = "policy 2022-health-check.json: line \(expected.line), column \(expected.column): "
                XCTAssertTrue(e.description.hasPrefix(prefix), "\(name): \(e)")
            }
        }
    }

    func testTwoFilesWithTheSameEraAreRefused() throws {
        let bytes = Array(try Seeds.text("2023-anonymous-stations.json").utf8)
        XCTAssertThrowsError(try PolicyBook.load([("a.json", bytes), ("b.json", bytes)])) { error in
            XCTAssertEqual(
                "\(error)", "policy b.json: field era: era '2023-anonymous-stations' is also defined in a.json")
        }
    }

    func testRefusedFileLeavesThePolicyInForce() throws {
        var core = GateCore(
            nextSequence: 1, engine: try Seeds.book().engine(station: nil, line: nil, pinnedEra: Seeds.era2022))
        let before = core.engine.policy
        // The operator ships a broken file: loading fails, nothing is swapped.
        if case .success = try load2022({ $0.replacingOccurrences(of: "\"deny\"", with: "\"nope\"") }) {
            return XCTFail("accepted")
        }
        XCTAssertEqual(core.engine.policy, before)
        XCTAssertTrue(core.engine.policy.healthCheck)
        _ = core.rejectedTap(reader: 0, wallMillis: 0, dataVersion: 0)
        XCTAssertEqual(core.nextSequence, 2)
    }

    /// The inline policy of a configuration: the fields the skeleton knew decode as before (now in
    /// the one snake_case form), the fields added with the policy engine keep the era's values; and
    /// a `GatePolicy` survives a round trip through `JSONEncoder` and the strict decoder.
    func testSkeletonGatePolicyJSONStillDecodes() throws {
        struct Inline: Decodable {
            var policy: GatePolicy
            init(from decoder: any Decoder) throws { policy = try GatePolicy(from: decoder, defaults: .healthCheckEra) }
        }
        let json = """
            {"health_check":true,"unbound_card":"deny","health_yellow":"staff","health_red":"deny",
             "health_unknown":"staff","unknown_card":"staff","minimum_balance_fen":1,"max_data_age_seconds":21600,
             "stale_data":"staff"}
            """
        let p = try StrictJSON.decode(Inline.self, from: Array(json.utf8)).policy
        XCTAssertEqual(p, GatePolicy.healthCheckEra)
        let policy = GatePolicy(
            unboundCard: .open, suspendedMedia: GatePolicy.bit(of: .electronicTicket),
            acceptedRideCodeIssuers: RideCodeIssuer.alipay.bit | RideCodeIssuer.shanghai.bit)
        let roundTrip = try StrictJSON.decode(GatePolicy.self, from: Array(try JSONEncoder().encode(policy)))
        XCTAssertEqual(roundTrip, policy)
    }
}

/// The station and line ids the policy files use are the ones `seeds/stations.json` lists.
final class SeedConsistencyTests: XCTestCase {
    func testEveryStationAndLineOfThePoliciesIsInStationsJSON() throws {
        struct Registry: Decodable {
            struct Item: Decodable { var id: String }
            var stations: [Item]
            var lines: [Item]
        }
        let data = try Data(contentsOf: Seeds.root.appendingPathComponent("seeds/stations.json"))
        let registry = try JSONDecoder().decode(Registry.self, from: data)
        let book = try Seeds.book()
        XCTAssertTrue(book.knownStations.isSubset(of: Set(registry.stations.map(\.id))), "\(book.knownStations)")
        XCTAssertTrue(book.knownLines.isSubset(of: Set(registry.lines.map(\.id))), "\(book.knownLines)")
        XCTAssertEqual(book.knownLines, Set(Seeds.busTestLines))
        XCTAssertEqual(
            book.knownStations, Set(Seeds.anonymousStations + Seeds.identityStations))
    }
}
