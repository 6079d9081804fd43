import FaregateCore
import FaregateModbus
import FaregateRuntime
import FaregateSM2
import FaregateSimulation
import FaregateSodium
import Foundation
import Glibc
import XCTest

/// Ride codes made with real Ed25519 keys (issuer and phone), at the manual clock's time.
struct ScannerCodes {
    let issuer: Ed25519KeyPair
    let phone: Ed25519KeyPair
    let keys: RideCodeIssuerKeyList
    let certificate: RideCodeCertificate
    static let account: UInt64 = 123_456_789

    init(now: Int64) throws {
        issuer = try Ed25519KeyPair()
        phone = try Ed25519KeyPair()
        keys = try RideCodeIssuerKeyList([
            RideCodeIssuerKey(
                issuer: .alipay, keyID: 7, algorithm: .ed25519, publicKey: issuer.publicKey, validFrom: 0,
                validUntil: .max)
        ])
        let issuer = self.issuer
        certificate = RideCodeCertificate(
            certificateAlgorithm: .ed25519, issuerNumber: RideCodeIssuer.alipay.rawValue, issuerKeyID: 7,
            account: Self.account, validFrom: UInt32(now - 86_400), validUntil: UInt32(now + 86_400),
            userAlgorithm: .ed25519, userKey: phone.publicKey
        ).signed { issuer.signature(of: $0) }
    }

    func text(generatedAt: Int64, counter: UInt32) -> String {
        let phone = self.phone
        return RideCode(certificate: certificate, generatedAt: UInt32(generatedAt), counter: counter, flags: 0) {
            phone.signature(of: $0)
        }.text
    }

    var key: CardKey { CardKey(rideCodeIssuer: .alipay, account: Self.account)! }

    static let verifier = RideCodeVerifier(
        signatures: RideCodeSignatureSuite(ed25519: Ed25519Verifier.verify, sm2: SM2.verify), digest: SodiumSHA256())
}

/// The line framer: terminators, refusals, bounded memory.
final class ScanLineFramerTests: XCTestCase {
    func lines(_ t: ScanTerminator, max: Int = 16, _ chunks: [String]) -> [ScanLineFramer.Output] {
        var f = ScanLineFramer(terminator: t, maxLength: max)
        var out: [ScanLineFramer.Output] = []
        for c in chunks { f.feed(Array(c.utf8)) { out.append($0) } }
        return out
    }

    func testEachTerminatorEndsALineAndTheOtherHalfOfAPairIsDropped() {
        XCTAssertEqual(lines(.lf, ["AB\nC", "D\n"]), [.line(Array("AB".utf8)), .line(Array("CD".utf8))])
        XCTAssertEqual(lines(.cr, ["AB\r\nCD\r"]), [.line(Array("AB".utf8)), .line(Array("CD".utf8))])
        XCTAssertEqual(lines(.crlf, ["AB\r", "\nCD\r\n"]), [.line(Array("AB".utf8)), .line(Array("CD".utf8))])
        XCTAssertEqual(lines(.lf, ["\n\n\r\n"]), [], "empty lines are no scans")
    }

    func testGarbageAndOverLongLinesAreRefusedAndTheNextLineIsRead() {
        XCTAssertEqual(lines(.lf, ["A\u{1}B\nOK\n"]), [.refused(.garbage), .line(Array("OK".utf8))])
        XCTAssertEqual(lines(.lf, ["é\n"]), [.refused(.garbage)])
        let long = String(repeating: "X", count: 17)
        XCTAssertEqual(
            lines(.lf, [long + "\n", String(repeating: "Y", count: 16) + "\n"]),
            [.refused(.tooLong), .line(Array(String(repeating: "Y", count: 16).utf8))])
        // A megabyte with no terminator holds at most max + 1 bytes.
        var f = ScanLineFramer(terminator: .lf, maxLength: 16)
        var out: [ScanLineFramer.Output] = []
        f.feed([UInt8](repeating: 0x41, count: 1 << 20)) { out.append($0) }
        XCTAssertLessThanOrEqual(f.pending, 17)
        f.feed([0x0A]) { out.append($0) }
        XCTAssertEqual(out, [.refused(.tooLong)])
    }
}

/// The termios scanner on a real pseudo-terminal pair: lines, refusals, and a device that goes
/// away (the master closed, as a USB CDC scanner unplugged) and returns at the same path.
final class SerialRideCodeScannerTests: XCTestCase {
    func write(_ pty: PseudoTerminal, _ s: String) {
        let b = Array(s.utf8)
        XCTAssertEqual(b.withUnsafeBytes { Glibc.write(pty.master, $0.baseAddress, $0.count) }, b.count)
    }

    func testLinesRefusalsAndAnUnpluggedScannerReopened() throws {
        let link = NSTemporaryDirectory() + "faregate-scanner-\(UUID().uuidString)"
        var pty: PseudoTerminal? = try PseudoTerminal(link: link)
        let scanner = try SerialRideCodeScanner(
            name: "qr", settings: .init(device: link, baud: 115200, terminator: .crlf, maxLength: 32),
            clock: ManualClock())
        write(pty!, "RC1:ABC\r\n")
        guard case .line(let l, _) = scanner.nextEvent() else { return XCTFail("no line") }
        XCTAssertEqual(String(decoding: l, as: UTF8.self), "RC1:ABC")
        write(pty!, "\u{7f}\u{1b}[A\r\n" + String(repeating: "Z", count: 100) + "\r\nRC1:DEF\r\n")
        XCTAssertEqual(scanner.nextEvent(), .refusedLine(.garbage, at: 1_000_000_000))
        XCTAssertEqual(scanner.nextEvent(), .refusedLine(.tooLong, at: 1_000_000_000))
        guard case .line(let l2, _) = scanner.nextEvent() else { return XCTFail("no line after refusals") }
        XCTAssertEqual(String(decoding: l2, as: UTF8.self), "RC1:DEF")
        XCTAssertEqual(scanner.refusedLines, 2)

        // Unplugged: the master goes, the slave reads EIO. Then a new device at the same path.
        pty = nil
        guard case .scannerLost = scanner.nextEvent() else { return XCTFail("loss not reported") }
        pty = try PseudoTerminal(link: link)
        XCTAssertEqual(scanner.nextEvent(), .scannerRestored)
        write(pty!, "RC1:GHI\r\n")
        guard case .line(let l3, _) = scanner.nextEvent() else { return XCTFail("no line after reopening") }
        XCTAssertEqual(String(decoding: l3, as: UTF8.self), "RC1:GHI")
        XCTAssertEqual(scanner.lossCount, 1)
        scanner.cancel()
        XCTAssertEqual(scanner.nextEvent(), .cancelled)
    }

    func testAWrongDeviceOrRateFailsAtOpenWithItsReason() {
        XCTAssertThrowsError(
            try SerialRideCodeScanner(name: "x", settings: .init(device: "/nonexistent/tty"), clock: ManualClock())
        ) { XCTAssertTrue("\($0)".contains("/nonexistent/tty")) }
        XCTAssertThrowsError(
            try SerialRideCodeScanner(name: "x", settings: .init(device: "/dev/null"), clock: ManualClock())
        ) { XCTAssertTrue("\($0)".contains("not a terminal")) }
        XCTAssertThrowsError(
            try SerialRideCodeScanner(
                name: "x", settings: .init(device: "/dev/null", baud: 12345), clock: ManualClock())
        ) { XCTAssertTrue("\($0)".contains("12345")) }
    }
}

/// Scans through the gate: the scanner's ring, checks on its thread, replay on the decision
/// thread, the replay cache kept across a restart.
final class RideCodeGateTests: XCTestCase {
    var dir: String!
    let clock = ManualClock(wallMillis: 1_767_300_000_000)
    var now: Int64 { clock.wallMillis() / 1000 }

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "faregate-ridecode-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func makeGate(_ codes: ScannerCodes, collector: ReportCollector) throws -> (GateRuntime, SimulatedRideCodeScanner) {
        let journal = try FileJournal(directory: dir + "/journal", fsync: false)
        let scanner = SimulatedRideCodeScanner(name: "qr0", clock: clock, maxLength: 600)
        var options = GateRuntime.Options(gateID: "T-QR")
        options.rideCodes = RideCodeSettings(
            verifier: ScannerCodes.verifier, keys: codes.keys, replayPath: dir + "/replay.bin", replayCapacity: 64)
        let gate = GateRuntime(
            options: options, journal: journal, readers: [], scanners: [scanner], barrier: SimulatedBarrier(),
            clock: clock, storeFactory: nil, observer: { collector.record($0) })
        gate.table.publish(
            CompactStatusTable(dataVersion: 3, entries: [codes.key: CardStatus(health: .green, binding: .bound)]),
            verifiedAt: clock.monotonicNanos())
        return (gate, scanner)
    }

    func testAcceptedThenReusedAcrossARestartAndRefusalsJournalledWithTheirReason() throws {
        let codes = try ScannerCodes(now: now)
        let collector = ReportCollector()
        var (gate, scanner) = try makeGate(codes, collector: collector)
        gate.start()
        let code = codes.text(generatedAt: now - 2, counter: 5)
        scanner.scan(code)
        scanner.scan(code)
        scanner.scan("HELLO WORLD")
        scanner.scan(bytes: [0x52, 0x43, 0x01, 0xFF])
        scanner.scan(String(repeating: "A", count: 700))
        scanner.scan(codes.text(generatedAt: now - 600, counter: 6))
        var forged = Array(codes.text(generatedAt: now, counter: 7))
        forged[forged.count - 3] = forged[forged.count - 3] == "A" ? "B" : "A"
        scanner.scan(String(forged))
        collector.waitFor(7)
        gate.stop()
        let decisions = collector.decisions
        XCTAssertEqual(
            decisions,
            [
                .open(.ok), .deny(.rideCodeReused), .deny(.rideCodeMalformed), .deny(.rideCodeMalformed),
                .deny(.rideCodeMalformed), .deny(.rideCodeExpired), .deny(.rideCodeBadSignature),
            ])
        let entries = collector.reports.withLock { $0.map(\.entry) }
        XCTAssertEqual(entries[0].key, codes.key)
        XCTAssertEqual(entries[1].key, codes.key)
        XCTAssertEqual(gate.currentCounters.scanLinesRefused, 2, "garbage and the over-long line")
        XCTAssertEqual(gate.journal.nextSequence, 8, "every scan journalled")

        // Restart: the same code (still fresh) is refused from the saved cache; a newer one opens.
        let collector2 = ReportCollector()
        (gate, scanner) = try makeGate(codes, collector: collector2)
        gate.start()
        scanner.scan(code)
        scanner.scan(codes.text(generatedAt: now - 1, counter: 8))
        collector2.waitFor(2)
        gate.stop()
        XCTAssertEqual(collector2.decisions, [.deny(.rideCodeReused), .open(.ok)])
    }

    func testADamagedReplayFileRefusesCodesMadeBeforeTheRestart() throws {
        let codes = try ScannerCodes(now: now)
        try Data("not a cache".utf8).write(to: URL(fileURLWithPath: dir + "/replay.bin"))
        let collector = ReportCollector()
        let (gate, scanner) = try makeGate(codes, collector: collector)
        gate.start()
        scanner.scan(codes.text(generatedAt: now - 1, counter: 1))
        collector.waitFor(1)
        gate.stop()
        XCTAssertEqual(collector.decisions, [.deny(.rideCodeReused)])
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/replay.bin.damaged"))
    }
}
