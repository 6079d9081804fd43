import FaregateCore
import FaregateSimulation
import Foundation
import XCTest

final class DemoPopulationTests: XCTestCase {
    func testSeedFileIsTheBuiltInDefault() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../seeds/populations/beijing-2022.json")
        let mix = try JSONDecoder().decode(DemoPopulation.Mix.self, from: Data(contentsOf: url))
        XCTAssertEqual(mix, .beijing2022)
        XCTAssertNoThrow(try mix.validate())
    }

    func testSharesFollowTheMix() {
        let cards = DemoPopulation.generate(count: 20_000, seed: 3)
        let transit = cards.filter { $0.key.medium == .transitCard }
        XCTAssertEqual(Double(transit.count) / 20_000, 0.62, accuracy: 0.02)
        XCTAssertEqual(
            Double(transit.filter { $0.identity != nil }.count) / Double(transit.count), 0.85, accuracy: 0.02)
        XCTAssertTrue(
            cards.filter { $0.key.medium == .rideCode }.allSatisfy { $0.identity != nil }, "ride codes are real-name")
        XCTAssertEqual(Set(cards.map(\.key)).count, cards.count, "keys are unique")
        XCTAssertEqual(DemoPopulation.card(123, seed: 3), cards[123], "a card re-derives from (seed, index)")
    }

    func testInvalidMixesAreRefusedWithTheField() {
        var m = DemoPopulation.Mix.beijing2022
        m.mediaPermille["bus-card"] = 0
        XCTAssertThrowsError(try m.validate()) { XCTAssertTrue("\($0)".contains("bus-card")) }
        m = .beijing2022
        m.healthPermille["green"] = 10
        XCTAssertThrowsError(try m.validate()) { XCTAssertTrue("\($0)".contains("health_permille")) }
    }
}
