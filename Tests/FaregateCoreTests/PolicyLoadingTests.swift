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
                { $0.replacingOccurrences(of: "\"healthRed\": \"deny\"", with: "\"healthRed\": \"dney\"") },
                "gateRules.health-check.healthRed", "'dney' is not an outcome (open, deny, staff)"
            ),
            (
                "unknown field",
                {
                    $0.replacingOccurrences(
                        of:
                            "\"healthYellow\": \"staff\",\n      \"healthRed\": \"deny\",\n      \"healthUnknown\": \"staff\",\n      \"unknownCard\": \"staff\",\n      \"staleData\": \"staff\",\n      \"minimumBalanceFen\": 1,\n      \"maxDataAgeSeconds\": 21600,\n      \"suspendedMedia\": [\"electronic-ticket\"]\n    },\n    \"manual-check\"",
                        with:
                            "\"healthYellow\": \"staff\",\n      \"healthRd\": \"deny\",\n      \"healthUnknown\": \"staff\",\n      \"unknownCard\": \"staff\",\n      \"staleData\": \"staff\",\n      \"minimumBalanceFen\": 1,\n      \"maxDataAgeSeconds\": 21600,\n      \"suspendedMedia\": [\"electronic-ticket\"]\n    },\n    \"manual-check\""
                    )
                },
                "gateRules.health-check.healthRd", "unknown field"
            ),
            (
                "bad date", { $0.replacingOccurrences(of: "\"2022-05-23\"", with: "\"2022-02-30\"") },
                "effectiveFrom", "'2022-02-30' is not a date (YYYY-MM-DD)"
            ),
            (
                "wrong type",
                {
                    $0.replacingOccurrences(
                        of: "\"maxPhysicalCardsPerIdentity\": 1", with: "\"maxPhysicalCardsPerIdentity\": \"one\"")
                },
                "officeRules.real-name.maxPhysicalCardsPerIdentity", "expected a whole number, found a string"
            ),
            (
                "negative number",
                {
                    $0.replacingOccurrences(
                        of:
                            "\"minimumBalanceFen\": 1,\n      \"maxDataAgeSeconds\": 21600,\n      \"suspendedMedia\": [\"electronic-ticket\"]\n    },\n    \"manual-check\"",
                        with:
                            "\"minimumBalanceFen\": -5,\n      \"maxDataAgeSeconds\": 21600,\n      \"suspendedMedia\": [\"electronic-ticket\"]\n    },\n    \"manual-check\""
                    )
                },
                "gateRules.health-check.minimumBalanceFen", "-5 is out of range"
            ),
            (
                "unknown medium",
                {
                    $0.replacingOccurrences(
                        of: "[\"electronic-ticket\"]\n    },\n    \"manual-check\"",
                        with: "[\"e-ticket\"]\n    },\n    \"manual-check\"")
                },
                "gateRules.health-check.suspendedMedia[0]", "found 'e-ticket'"
            ),
            (
                "undefined rule set",
                {
                    $0.replacingOccurrences(
                        of: "{ \"line\": \"bus-6\", \"name\": \"6路\", \"enforce\": \"manual-check\"",
                        with: "{ \"line\": \"bus-6\", \"name\": \"6路\", \"enforce\": \"manual\"")
                },
                "lines[1].enforce", "'manual' is not defined in gateRules (defined: health-check, manual-check)"
            ),
            (
                "duplicate line", { $0.replacingOccurrences(of: "\"line\": \"bus-6\"", with: "\"line\": \"bus-2\"") },
                "lines[1].line", "'bus-2' is listed twice"
            ),
            (
                "missing field", { $0.replacingOccurrences(of: "\"healthCheck\": false,", with: "") },
                "gateRules.manual-check.healthCheck", "missing"
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

    func testSkeletonGatePolicyJSONStillDecodes() throws {
        let json = """
            {"healthCheck":true,"unboundCard":1,"healthYellow":2,"healthRed":1,"healthUnknown":2,
             "unknownCard":2,"minimumBalanceFen":1,"maxDataAgeSeconds":21600,"staleData":2}
            """
        let p = try JSONDecoder().decode(GatePolicy.self, from: Data(json.utf8))
        XCTAssertEqual(p, GatePolicy.healthCheckEra)
        let roundTrip = try JSONDecoder().decode(
            GatePolicy.self, from: try JSONEncoder().encode(GatePolicy(suspendedMedia: 3)))
        XCTAssertEqual(roundTrip, GatePolicy(suspendedMedia: 3))
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
