import FaregateCore
import Foundation
import XCTest

/// The seed policies of `seeds/policies/`, loaded once for all policy tests.
enum Seeds {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let policyDirectory = root.appendingPathComponent("seeds/policies")

    static func files() throws -> [(name: String, bytes: [UInt8])] {
        let names = try FileManager.default.contentsOfDirectory(atPath: policyDirectory.path)
            .filter { $0.hasSuffix(".json") }.sorted()
        return try names.map { name in
            (name, [UInt8](try Data(contentsOf: policyDirectory.appendingPathComponent(name))))
        }
    }

    static func book() throws -> PolicyBook { try PolicyBook.load(try files()) }

    static func text(_ name: String) throws -> String {
        String(decoding: try Data(contentsOf: policyDirectory.appendingPathComponent(name)), as: UTF8.self)
    }

    static let era2022 = "2022-health-check"
    static let era2023 = "2023-anonymous-stations"
    static let era2024 = "2024-real-name"
    static let anonymousStations = ["beijing-west", "olympic-park", "forest-park-south-gate", "bagou", "cueb"]
    static let identityStations = ["jinanqiao", "haidian-huangzhuang", "zhongguancun", "national-library"]
    static let busTestLines = [
        "bus-2", "bus-6", "bus-10", "bus-14", "bus-15", "bus-17", "bus-19", "bus-20", "bus-24", "bus-38",
    ]
}

func day(_ s: String) -> CalendarDate {
    guard let d = CalendarDate(s) else {
        XCTFail("bad date \(s)")
        return CalendarDate(daysSinceEpoch: 0)
    }
    return d
}

func key(_ medium: Medium, _ id: UInt64) -> CardKey {
    guard let k = CardKey(medium: medium, identifier: id) else {
        XCTFail("no key \(medium) \(id)")
        return CardKey(rawValue: 0)
    }
    return k
}

func read(_ k: CardKey, balance: Int32? = 500) -> CardRead {
    let app: CardApplication
    switch k.medium {
    case .transitCard: app = .tUnion
    case .municipalCard: app = .beijingMunicipal
    case .rideCode, .electronicTicket: app = .rideCode
    default: app = .ticketToken
    }
    return CardRead(key: k, application: app, balanceFen: balance)
}

func context(_ date: String, age: Int? = 60) -> DecisionContext {
    DecisionContext(today: day(date), dataAgeSeconds: age)
}
