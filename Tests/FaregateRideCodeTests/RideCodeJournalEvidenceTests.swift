import FaregateCore
import FaregateSodium
import XCTest

/// Issue 17.6 in the core: a scan checked on the scanner's side carries the evidence to the
/// decision, and the entry of a passage keeps it (certificate hash, whole dynamic part, clearing
/// mark); a refused code's entry carries its reason only. Both algorithm pairs at both levels.
final class RideCodeJournalEvidenceTests: XCTestCase {
    /// Wall clock fixed at the fixture's now; monotonic time fixed too (nothing here waits).
    struct FixedClock: GateClock {
        func monotonicNanos() -> UInt64 { 1_000 }
        func wallMillis() -> Int64 { RideCodeFixture.now * 1000 }
    }

    func testAPassageKeepsTheDynamicPartAndARefusalItsReason() throws {
        let clock = FixedClock()
        for (certAlg, userAlg) in RideCodeFixture.algorithmPairs {
            let f = try RideCodeFixture(cert: certAlg, user: userAlg, account: 4242)
            let key = try XCTUnwrap(f.certificate.cardKey)
            let table = DictionaryStatusTable(
                dataVersion: 3, entries: [key: CardStatus(health: .green, binding: .bound)])
            var core = GateCore(nextSequence: 1, policy: .healthCheckEra)
            var replay = RideCodeReplayCache(capacity: 64)
            func decide(_ code: RideCode) -> JournalEntry {
                let scan = RideCodeScan.check(
                    Array(code.text.utf8), reader: 1, verifier: RideCodeFixture.verifier, keys: f.keys,
                    now: RideCodeFixture.now, freshness: .init(), detectedAt: 1, clock: clock)
                return core.handle(
                    scan, replay: &replay, freshness: .init(), dequeuedAt: 2, table: table, dataAgeSeconds: 1,
                    clock: clock
                ).entry
            }
            let code = f.code(counter: 7, flags: RideCodeDynamicPart.offlineFlag)
            let accepted = decide(code)
            XCTAssertEqual(accepted.decision, .open(.ok), "\(certAlg)/\(userAlg)")
            let ev = try XCTUnwrap(accepted.rideCode)
            XCTAssertEqual(ev.certificateHash, SodiumSHA256().sha256(code.certificate.bytes))
            XCTAssertEqual(ev.userSignature, code.dynamicPart.signature)
            XCTAssertEqual(ev.generatedAt, code.dynamicPart.generatedAt)
            XCTAssertEqual(ev.counter, 7)
            XCTAssertEqual(ev.flags, 1)
            XCTAssertEqual(ev.issuerKeyID, 7)
            XCTAssertEqual(ev.cardKey, key)
            XCTAssertFalse(ev.clearing, "Alipay is a Beijing issuer")
            XCTAssertEqual(try JournalCodec.decode(Substring(JournalCodec.encode(accepted))), accepted)

            let again = decide(code)
            XCTAssertEqual(again.decision, .deny(.rideCodeReused))
            XCTAssertNil(again.rideCode, "a refusal carries its reason only")
            let stale = decide(f.code(generatedAt: RideCodeFixture.now - 600, counter: 8))
            XCTAssertEqual(stale.decision, .deny(.rideCodeExpired))
            XCTAssertNil(stale.rideCode)
        }
    }
}
