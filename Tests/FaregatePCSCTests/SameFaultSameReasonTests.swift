import FaregateCore
import FaregatePCSC
import FaregateRuntime
import FaregateSQLite
import FaregateSimulation
import FaregateVirtualCard
import Foundation
import Synchronization
import XCTest

/// One fault vocabulary, one procedure: the same `CardFault` on a card shown to a simulated
/// reader and on a virtual card played through the real pcscd + vpcd gives the same journal
/// entry (kind, decision and reason, card key) through the whole gate — `GateRuntime` and a
/// `FileJournal` — because both readers are `TransportCardReader`s running `CardApplicationReader`.
final class SameFaultSameReasonTests: XCTestCase {
    static let seeds = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "../../seeds/cards")

    /// What the journal says of a tap, without the timings (real and simulated time differ).
    struct Journalled: Equatable, CustomStringConvertible {
        var kind: JournalEntry.Kind
        var reason: String
        var key: CardKey
        var description: String { "\(kind) \(reason) \(key)" }
    }

    /// `nil` is the unfaulted control tap.
    static let faults: [CardFault?] = [
        nil, .removedMidRead, .malformedResponse, .noApplication, .truncate(apdu: 3), .removeAfter(3),
        .wrongStatus(apdu: 5, status: .noPreciseDiagnosis), .slow(apdu: 2, millis: 50),
    ]

    final class Answers: Sendable {
        let signal = DispatchSemaphore(value: 0)
    }

    var dir = ""
    var card: CompiledCard!
    var central = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-same-fault-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let (profile, compiled) = try CardProfile.load(
            path: Self.seeds.appendingPathComponent("tunion-normal.json").path)
        card = compiled
        let key = try XCTUnwrap(CardKey(medium: .transitCard, number: try XCTUnwrap(profile.number)))
        central = dir + "/central.sqlite"
        try SQLiteCentralStore.create(at: central).insertCards(
            [.init(key: key, cardType: .normal, identityHash: [UInt8](repeating: 4, count: 32), health: .green)],
            wallMillis: 1)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// Runs a gate on `reader`, makes one tap per fault with `tap` (which returns once the gate
    /// answered), and reads back what the journal file holds.
    func journal(
        _ name: String, reader: any CardReader, tap: (CardFault?, Answers) throws -> Void
    ) throws -> [Journalled] {
        let answers = Answers()
        var options = GateRuntime.Options(gateID: "SAME-\(name)")
        options.sync.intervalSeconds = 3600
        let journal = try FileJournal(directory: dir + "/\(name)")
        let central = central
        let gate = GateRuntime(
            options: options, journal: journal, readers: [reader], barrier: SimulatedBarrier(), clock: SystemClock(),
            storeFactory: { () throws(CentralStoreError) -> any CentralStore in try SQLiteCentralStore(path: central) },
            observer: { _ in answers.signal.signal() })
        gate.start()
        for fault in Self.faults { try tap(fault, answers) }
        gate.stop()
        return try FileJournal(directory: dir + "/\(name)").tail(Self.faults.count).map {
            Journalled(kind: $0.kind, reason: $0.decision.reason.code, key: $0.key)
        }
    }

    func testTheSameFaultGivesTheSameJournalReasonOnASimulatedAndAVirtualCard() throws {
        let port = try vpcdPortOrSkip()
        let card: CompiledCard = try XCTUnwrap(self.card)
        let simulatedReader = SimulatedCardReader(name: "sim", index: 0, clock: SystemClock())
        let simulated = try journal("simulated", reader: simulatedReader) { fault, answers in
            simulatedReader.present(SimulatedSmartCard(card: card, faults: fault.map { [$0] } ?? []))
            XCTAssertEqual(answers.signal.wait(timeout: .now() + 15), .success, "the simulated gate answered")
        }

        let pcscReader = PCSCCardReader(
            configuration: .init(
                readerName: ProcessInfo.processInfo.environment["FAREGATE_PCSC_READER"] ?? "Virtual PCD"),
            clock: SystemClock())
        let emulator = VirtualCardEmulator(port: port)
        let virtual = try journal("pcsc", reader: pcscReader) { fault, answers in
            // Held in the field until the gate answered, then out for longer than pcscd's 400 ms
            // presence poll (a card back within it would look as if it never left).
            let answered = Flag()
            let left = DispatchSemaphore(value: 0)
            Thread {
                var chip = SimulatedSmartCard(card: card, faults: fault.map { [$0] } ?? [])
                _ = try? emulator.tap(&chip, holdMillis: 10_000) { answered.value.load(ordering: .acquiring) }
                left.signal()
            }.start()
            XCTAssertEqual(answers.signal.wait(timeout: .now() + 15), .success, "the PC/SC gate answered")
            answered.value.store(true, ordering: .releasing)
            XCTAssertEqual(left.wait(timeout: .now() + 15), .success)
            usleep(1_000_000)
        }

        XCTAssertEqual(simulated, virtual, "faults \(Self.faults.map { $0?.description ?? "none" })")
        let key = try XCTUnwrap(CardKey(medium: .transitCard, number: "3104100075100000017"))
        let none = CardKey(rawValue: 0)
        XCTAssertEqual(
            simulated,
            [
                Journalled(kind: .decision, reason: "ok", key: key),
                Journalled(kind: .aborted, reason: "card_removed", key: none),
                Journalled(kind: .readFailed, reason: "read_error", key: none),
                Journalled(kind: .readFailed, reason: "read_error", key: none),
                Journalled(kind: .readFailed, reason: "read_error", key: none),
                Journalled(kind: .aborted, reason: "card_removed", key: key),
                Journalled(kind: .readFailed, reason: "read_error", key: key),
                Journalled(kind: .decision, reason: "ok", key: key),
            ])
    }
}
