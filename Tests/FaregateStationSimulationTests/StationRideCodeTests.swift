import FaregateCore
import FaregateRuntime
import FaregateSM2
import FaregateSQLite
import FaregateSimulation
import FaregateSodium
import FaregateStationSimulation
import Foundation
import XCTest

/// Issue 17.7: ride-code riders at a station, their codes made by simulated issuers on both
/// algorithms and checked by the real gates; every fraud tried is refused with its reason, every
/// valid code is accepted, and the counts are the same for the same seed.
final class StationRideCodeTests: XCTestCase {
    static func issuers() throws -> [SimulatedRideCodeIssuer] {
        func key(_ a: RideCodeAlgorithm) throws -> ([UInt8], SimulatedRideCodeIssuer.Sign) {
            if a == .ed25519 {
                let k = try Ed25519KeyPair()
                return (k.publicKey, { k.signature(of: $0) })
            }
            let k = try SM2KeyPair()
            return (k.publicKey, { (try? k.signature(of: $0)) ?? [] })
        }
        let plan: [(RideCodeIssuer, RideCodeAlgorithm, RideCodeAlgorithm)] = [
            (.transitApp, .ed25519, .ed25519), (.alipay, .sm2, .sm2), (.shanghai, .sm2, .ed25519),
        ]
        return try plan.map { issuer, certAlg, phoneAlg in
            let (pub, sign) = try key(certAlg)
            let (phonePub, phoneSign) = try key(phoneAlg)
            return SimulatedRideCodeIssuer(
                key: RideCodeIssuerKey(
                    issuer: issuer, keyID: 1, algorithm: certAlg, publicKey: pub, validFrom: 0, validUntil: .max),
                sign: sign, phoneAlgorithm: phoneAlg, phonePublicKey: phonePub, phoneSign: phoneSign)
        }
    }

    func run(seed: UInt64, dir: String, issuers: [SimulatedRideCodeIssuer]) throws -> StationReport {
        var rc = StationRideCodes(
            issuers: issuers,
            verifier: RideCodeVerifier(
                signatures: RideCodeSignatureSuite(ed25519: Ed25519Verifier.verify, sm2: SM2.verify),
                digest: SodiumSHA256()))
        rc.accountsPerIssuer = 50
        rc.fraudChance = [.screenshot: 0.05, .stale: 0.05, .expiredCertificate: 0.05, .forgedSignature: 0.05]
        let central = dir + "/central-\(seed)-\(UUID().uuidString.prefix(6)).sqlite"
        let store = try SQLiteCentralStore.create(at: central)
        try store.insertCards(DemoPopulation.centralRecords(0..<500, seed: 1), wallMillis: 1)
        try store.insertCards(rc.centralRecords(), wallMillis: 1)
        var o = StationSimulation.Options(journalRoot: dir + "/journals-\(seed)-\(UUID().uuidString.prefix(6))")
        o.entryGates = 2
        o.exitGates = 1
        o.riders = 600
        o.seed = seed
        o.populationSize = 500
        o.fsync = false
        o.faults = []
        o.rideCodes = rc
        return try StationSimulation(options: o) { () throws(CentralStoreError) -> any CentralStore in
            try SQLiteCentralStore(path: central)
        }.run()
    }

    func testFraudsAreRefusedWithTheirReasonsAndValidCodesAccepted() throws {
        let dir = NSTemporaryDirectory() + "faregate-station-rc-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let issuers = try Self.issuers()
        let report = try run(seed: 11, dir: dir, issuers: issuers)
        let rc = try XCTUnwrap(report.rideCodes)
        XCTAssertEqual(report.unanswered, 0)
        XCTAssertGreaterThan(Double(rc.shown) / Double(report.taps), 0.5, "about 60 % show a code")
        XCTAssertLessThan(Double(rc.shown) / Double(report.taps), 0.7)
        for kind in RideCodeFraud.allCases {
            XCTAssertGreaterThan(rc.injected[kind.rawValue] ?? 0, 0, "\(kind) tried")
            XCTAssertEqual(
                rc.refusedAsExpected[kind.rawValue], rc.injected[kind.rawValue],
                "every \(kind) refused as \(kind.expectedReason.code)")
            XCTAssertEqual(
                rc.reasons[kind.expectedReason.code] ?? 0,
                RideCodeFraud.allCases.filter { $0.expectedReason == kind.expectedReason }
                    .reduce(0) { $0 + (rc.injected[$1.rawValue] ?? 0) }, "no valid code refused as \(kind)")
        }
        XCTAssertGreaterThan(rc.valid, 0)
        XCTAssertEqual(rc.validAccepted, rc.valid, "every valid code accepted: \(rc.reasons)")
        XCTAssertTrue(rc.allAsExpected)
        XCTAssertEqual(rc.shown, rc.valid + rc.injected.values.reduce(0, +))
        XCTAssertTrue(report.totalsAgree, "\(report.decisions) vs journals \(report.journalDecisions)")
        XCTAssertTrue(report.text.contains("ride codes shown \(rc.shown)"), report.text)
        let json = try XCTUnwrap(report.jsonObject["ride_codes"] as? [String: Any])
        XCTAssertEqual(json["all_as_expected"] as? Bool, true)
        XCTAssertEqual(json["shown"] as? Int, rc.shown)

        // The same seed: the same riders show the same codes and frauds.
        let again = try XCTUnwrap(try run(seed: 11, dir: dir, issuers: issuers).rideCodes)
        XCTAssertEqual(again.injected, rc.injected)
        XCTAssertEqual(again.shown, rc.shown)
        XCTAssertEqual(again.valid, rc.valid)
    }
}
