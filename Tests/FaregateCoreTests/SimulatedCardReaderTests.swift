import FaregateCore
import FaregateSimulation
import Foundation
import Synchronization
import XCTest

/// The simulated reader is a `TransportCardReader`: it reads every card APDU by APDU through
/// `CardApplicationReader`, with the `CardFault`s virtual cards take, and the fast path
/// (`SimulatedCardReader.precomputed`) agrees with it.
final class SimulatedCardReaderTests: XCTestCase {
    let clock = ManualClock()
    static let key = CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001)!

    func seed(_ name: String) throws -> CompiledCard {
        try CardProfile.load(path: CardApplicationReaderTests.seeds.appendingPathComponent(name + ".json").path).1
    }

    func tap(_ reader: SimulatedCardReader, file: StaticString = #filePath, line: UInt = #line) -> Tap? {
        guard case .tap(let t) = reader.nextEvent() else {
            XCTFail("expected a tap", file: file, line: line)
            return nil
        }
        return t
    }

    func testTheSimulatedReaderRunsTheAPDUProcedure() throws {
        let reader = SimulatedCardReader(name: "sim", index: 2, clock: clock)
        let card = SimulatedCard.transit(Self.key.identifier)
        reader.present(card)
        let t = try XCTUnwrap(tap(reader))
        XCTAssertEqual(t.result, .card(card.read))
        XCTAssertEqual(t.reader, 2)
        XCTAssertEqual(
            reader.transport.lastCard?.receivedCommands,
            [
                .select(aid: CardApplicationReader.ppseName), .select(aid: CardApplicationReader.tUnionAID),
                .readBinary(sfi: 0x15), .readBinary(sfi: 0x17), .getBalance,
            ])
    }

    /// Every seed profile and every fault: the tap is what `CardApplicationReader` reads from
    /// the same chip directly, so nothing on the simulated path decides for the procedure.
    func testEverySeedAndFaultGivesWhatTheProcedureReads() throws {
        let faults: [CardFault?] = [
            nil, .removedMidRead, .malformedResponse, .noApplication, .truncate(apdu: 3), .removeAfter(0),
            .removeAfter(4), .wrongStatus(apdu: 2, status: .securityNotSatisfied), .slow(apdu: 1, millis: 300),
        ]
        let names = try FileManager.default.contentsOfDirectory(atPath: CardApplicationReaderTests.seeds.path)
            .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
        XCTAssertGreaterThan(names.count, 10)
        let reader = SimulatedCardReader(name: "sim", index: 0, clock: clock)
        for name in names {
            for fault in faults {
                let chip = SimulatedSmartCard(card: try seed(name), faults: fault.map { [$0] } ?? [])
                var direct = chip
                direct.powerOn()
                let expected = CardApplicationReader().read { (c: CommandAPDU) throws(CardIOError) in
                    try direct.transmit(c)
                }.tapResult
                reader.present(chip)
                XCTAssertEqual(tap(reader)?.result, expected, "\(name) \(fault?.description ?? "no fault")")
            }
        }
    }

    /// The short fault names of tap scripts and the control socket mean the journal reasons they
    /// always meant, for both kinds of card, on both paths.
    func testShortFaultNamesAndTheFastPathAgreeWithTheAPDUPath() throws {
        let municipal = CardKey(medium: .municipalCard, number: "1000754300000001")!
        let expected: [(String, ReadFailure)] = [
            ("removed", .cardRemoved), ("malformed", .malformedResponse), ("unknown-app", .unknownApplication),
        ]
        let reader = SimulatedCardReader(name: "sim", index: 0, clock: clock)
        let fast = SimulatedCardReader.precomputed(name: "fast", index: 0, clock: clock)
        for key in [Self.key, municipal] {
            for (name, failure) in expected {
                var card = SimulatedCard.medium(key)
                card.faults = [try XCTUnwrap(CardFault(parsing: name))]
                reader.present(card)
                fast.present(card)
                let slow = tap(reader)?.result
                XCTAssertEqual(slow, .failed(failure, nil), "\(key) \(name)")
                guard case .tap(let f) = fast.nextEvent() else { return XCTFail("fast path: no tap") }
                XCTAssertEqual(f.result, slow, "fast path, \(key) \(name)")
            }
            XCTAssertNil(fast.transport.lastCard, "the fast path connects to no chip")
            // Unfaulted: the chip holds what the simulated card says.
            let card = SimulatedCard.medium(key)
            reader.present(card)
            guard case .card(let read) = tap(reader)?.result else { return XCTFail("\(key) not read") }
            XCTAssertEqual(read.key, key)
            XCTAssertEqual(read.balanceFen, card.read.balanceFen)
            XCTAssertEqual(read.application, card.read.application)
        }
    }

    func testMediaWithoutAnAPDUApplicationAreScannedWithTheSameFaults() throws {
        let code = CardKey(medium: .rideCode, identifier: 5)!
        let reader = SimulatedCardReader(name: "sim", index: 0, clock: clock)
        reader.present(SimulatedCard.medium(code))
        XCTAssertEqual(tap(reader)?.result, .card(SimulatedCard.medium(code).read))
        XCTAssertNil(reader.transport.lastCard, "no chip was involved")
        for (fault, failure) in [
            (CardFault.removedMidRead, ReadFailure.cardRemoved), (.noApplication, .unknownApplication),
        ] {
            reader.present(SimulatedCard(read: SimulatedCard.medium(code).read, faults: [fault]))
            XCTAssertEqual(tap(reader)?.result, .failed(failure, nil), "\(fault)")
        }
    }

    func testUnplugPlugAndCancel() {
        let reader = SimulatedCardReader(name: "sim", index: 0, clock: clock)
        reader.unplug()
        reader.unplug()
        reader.present(SimulatedCard.transit(Self.key.identifier))
        reader.plug()
        reader.present(SimulatedCard.transit(Self.key.identifier))
        XCTAssertEqual(reader.nextEvent(), .readerLost("sim: simulated unplug"), "one loss for two unplugs")
        XCTAssertEqual(reader.nextEvent(), .readerRestored, "the card on the unplugged reader was never heard")
        XCTAssertNotNil(tap(reader))
        XCTAssertEqual(reader.backlog, 0)
        reader.cancel()
        XCTAssertEqual(reader.nextEvent(), .cancelled)
    }

    /// A transport that resets the card before answering chosen APDUs (as another application's
    /// `SCardReconnect(RESET)` does on PC/SC) and records what the reader asked of it.
    final class ResettingTransport: CardTransport {
        enum Call: Equatable { case wait, connect, transmit, reconnect, cardLeft, leave }
        let name = "resetting"
        private let state: Mutex<(chip: SimulatedSmartCard, resets: Set<Int>, sent: Int, calls: [Call])>

        init(_ chip: SimulatedSmartCard, resetBefore: Set<Int>) { state = Mutex((chip, resetBefore, 0, [])) }

        var calls: [Call] { state.withLock { $0.calls } }
        private func record(_ c: Call) { state.withLock { $0.calls.append(c) } }

        func waitForCard() -> CardPresence {
            record(.wait)
            return .card
        }
        func connect() throws(CardIOError) {
            record(.connect)
            state.withLock { $0.chip.powerOn() }
        }
        func transmit(_ command: CommandAPDU) throws(CardIOError) -> ResponseAPDU {
            try state.withLock {
                (s: inout (chip: SimulatedSmartCard, resets: Set<Int>, sent: Int, calls: [Call])) throws(CardIOError)
                    -> ResponseAPDU in
                s.calls.append(.transmit)
                s.sent += 1
                if s.resets.remove(s.sent) != nil { throw CardIOError(.cardReset, "reset by another application") }
                return try s.chip.transmit(command)
            }
        }
        func reconnect() -> Bool {
            record(.reconnect)
            state.withLock { $0.chip.powerOn() }
            return true
        }
        func cardLeft() -> Bool {
            record(.cardLeft)
            return false
        }
        func leave() { record(.leave) }
        func cancel() {}
    }

    func testAResetIsReadAgainFromSelectOnceAndASecondOneGivesUp() throws {
        let chip = SimulatedSmartCard(card: try seed("tunion-normal"), faults: [])
        let lines = Mutex<[String]>([])
        let once = ResettingTransport(chip, resetBefore: [4])
        let r1 = TransportCardReader(
            transport: once, index: 0, clock: clock, log: { l in lines.withLock { $0.append(l) } })
        guard case .tap(let t1) = r1.nextEvent() else { return XCTFail("no tap") }
        guard case .card(let read) = t1.result else { return XCTFail("not read: \(t1.result)") }
        XCTAssertEqual(read.key, CardKey(medium: .transitCard, number: "3104100075100000017"))
        // Three APDUs, the reset fourth, then a whole read of five from SELECT PPSE.
        XCTAssertEqual(
            once.calls,
            [.wait, .connect] + Array(repeating: .transmit, count: 4) + [.reconnect]
                + Array(repeating: .transmit, count: 5) + [.leave])
        XCTAssertEqual(
            lines.withLock { $0 },
            ["reader 'resetting': card reset by another application mid-read; reading again from SELECT"])

        let twice = ResettingTransport(chip, resetBefore: [4, 7])
        let r2 = TransportCardReader(transport: twice, index: 0, clock: clock)
        guard case .tap(let t2) = r2.nextEvent() else { return XCTFail("no tap") }
        XCTAssertEqual(t2.result.failure, .transmitFailed, "never decided on part of a read")
        XCTAssertEqual(twice.calls.last, .leave, "the card is released whatever the outcome")
    }
}
