import FaregateCore
import FaregateSimulation
import Foundation
import XCTest

@testable import FaregateRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// The control protocol's messages through their wire form, and a server facing requests that
/// are malformed, unknown, too long or too slow.
final class ControlProtocolTests: XCTestCase {
    static let card = CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001)!
    static let rideCode = CardKey(medium: .rideCode, identifier: 5)!

    static let entries = [
        JournalEntry(
            sequence: 7, wallMillis: 1_700_000_000_123, reader: 1, key: card, kind: .decision, decision: .open(.ok),
            balanceFen: 1250, dataVersion: 42, timings: StageTimings(select: 1, read: 2, queue: 3, lookup: 4, decide: 5)
        ),
        JournalEntry(
            sequence: 8, wallMillis: 1_700_000_000_456, reader: 0, key: CardKey(rawValue: 0), kind: .aborted,
            decision: .deny(.cardRemoved), balanceFen: nil, dataVersion: 42, timings: StageTimings(),
            shadowDecision: .staff(.healthYellow)),
        JournalEntry(
            sequence: 9, wallMillis: -1, reader: 65535, key: CardKey(rawValue: 0xF000_0000_0000_0001),
            kind: .rejected, decision: .deny(.tapAgain), balanceFen: -5, dataVersion: 0, timings: StageTimings()),
    ]

    static let status = GateStatusReport(
        gateID: "CTL-1", uptimeSeconds: 12.5, taps: 3, rejected: 1, journalFailures: 0, syncs: 2, syncFailures: 1,
        readerLosses: 0, journalLastSequence: 9, journalAcknowledged: 8, tableCards: 100, tableVersion: 42,
        dataAgeSeconds: 0.25, lastSyncFailure: "central store: connection refused",
        barrier: .init(
            state: "alarm:tailgating", mode: .emergencyOpen, directions: .bidirectional, enforcement: .shadow,
            passages: 17, activeAlarm: .tailgating, alarms: [.tailgating: 2, .reverseIntrusion: 1]))

    static let requests: [ControlRequest] = [
        .status, .tap(card: card), .tap(card: rideCode, reader: 3, fault: .noApplication), .lookup(card: card),
        .scan(text: "RC1:ABC", scanner: 0), .scan(text: "with \"quotes\" and é", scanner: 2),
        .syncNow, .journal(count: 1), .journal(count: 10_000), .metrics, .mode(.init()),
        .mode(.init(mode: .outOfService, directions: .exitOnly, enforcement: .enforced, resetAlarm: true)),
        .loadSnapshot(path: "/var/lib/faregate/table.snapshot"), .policyReload(era: nil),
        .policyReload(era: "2023-anonymous-stations"),
    ]

    static let responses: [ControlResponse] =
        [
            .status(status), .status(GateStatusReport(gateID: "BARE")), .synced(status),
            .lookup(CardLookup(card: card, tableVersion: 42, status: CardStatus(health: .green, binding: .bound))),
            .lookup(
                CardLookup(
                    card: rideCode, tableVersion: 42,
                    status: CardStatus(
                        health: .red, binding: .unbound, blacklisted: true, returned: true, suspended: true))),
            .lookup(CardLookup(card: rideCode, tableVersion: 0, status: nil)), .journal(entries), .journal([]),
            .metrics("# HELP faregate_taps_total taps\nfaregate_taps_total{gate=\"CTL-1\"} 2\n"),
            .mode(commandsSent: 4, status: status), .snapshotLoaded(tableVersion: UInt64.max),
            .policyReloaded(rules: "2023-anonymous-stations"),
        ] + entries.map { .tap($0) } + ControlFailure.Code.allCases.map { .failure(ControlFailure($0, "why: \($0)")) }

    func testEveryRequestSurvivesTheWire() throws {
        for request in Self.requests {
            XCTAssertEqual(try ControlWire.request(ControlWire.line(request)).get(), request)
        }
        XCTAssertEqual(
            Set(Self.requests.map(\.command)), Set(ControlRequest.Command.allCases), "every command is covered")
    }

    func testEveryResponseSurvivesTheWire() throws {
        for response in Self.responses {
            let line = ControlWire.line(response)
            XCTAssertEqual(line.last, UInt8(ascii: "\n"))
            XCTAssertFalse(line.dropLast().contains(UInt8(ascii: "\n")), "one line")
            XCTAssertEqual(try ControlWire.response(line).get(), response)
        }
        XCTAssertEqual(
            Set(Self.responses.compactMap(\.command)).union([.scan]), Set(ControlRequest.Command.allCases),
            "every answer is covered (scan answers as tap does, with the journalled entry)")
    }

    /// The fields tools read today keep their names and meaning.
    func testTheWireFormatIsFlatSnakeCaseJSON() throws {
        let tap = try JSONSerialization.jsonObject(with: ControlWire.line(ControlResponse.tap(Self.entries[0])))
        let object = try XCTUnwrap(tap as? [String: Any])
        XCTAssertEqual(object["v"] as? Int, 1)
        XCTAssertEqual(object["ok"] as? Bool, true)
        XCTAssertEqual(object["response"] as? String, "tap")
        XCTAssertEqual(object["seq"] as? Int, 7)
        XCTAssertEqual(object["card"] as? String, "transit-card:1000751000000000001")
        XCTAssertEqual(object["outcome"] as? String, "open")
        XCTAssertEqual(object["reason"] as? String, "ok")
        XCTAssertEqual(object["balance_fen"] as? Int, 1250)
        let failure = try JSONSerialization.jsonObject(
            with: ControlWire.line(ControlResponse.failure(ControlFailure(.unknownCommand, "no"))))
        XCTAssertEqual((failure as? [String: Any])?["ok"] as? Bool, false)
        XCTAssertEqual((failure as? [String: Any])?["error"] as? String, "no")
        XCTAssertEqual(
            String(decoding: ControlWire.line(ControlRequest.lookup(card: Self.rideCode)), as: UTF8.self),
            "{\"card\":\"ride-code:5\",\"command\":\"lookup\",\"v\":1}\n")
    }

    func testBadRequestsAreRefusedWithWhatWasWrong() {
        let cases: [(String, ControlFailure.Code, String)] = [
            ("not json", .badRequest, "one JSON object on one line"),
            ("", .badRequest, "one JSON object on one line"),
            ("[1, 2]", .badRequest, "must be a JSON object"),
            ("{}", .badRequest, "request has no command"),
            ("{\"command\": 5}", .badRequest, "'command'"),
            ("{\"command\": \"explode\"}", .unknownCommand, "unknown command 'explode' (status, tap"),
            ("{\"v\": 2, \"command\": \"status\"}", .unsupportedVersion, "version 1; the request is version 2"),
            ("{\"command\": \"status\", \"verbose\": true}", .badRequest, "unknown field 'verbose' in status"),
            ("{\"command\": \"tap\", \"card\": \"ride-code:5\", \"cards\": 1}", .badRequest, "'cards'"),
            ("{\"command\": \"tap\"}", .badRequest, "tap needs field 'card'"),
            ("{\"command\": \"scan\"}", .badRequest, "scan needs field 'text'"),
            ("{\"command\": \"scan\", \"text\": 5}", .badRequest, "'text'"),
            (
                "{\"command\": \"scan\", \"text\": \"RC1:\", \"card\": \"x\"}", .badRequest,
                "unknown field 'card' in scan"
            ),
            (
                "{\"command\": \"scan\", \"text\": \"\(String(repeating: "A", count: 5000))\"}", .badRequest,
                "at most 4096"
            ),
            ("{\"command\": \"tap\", \"card\": \"ride-code\"}", .badRequest, "MEDIUM:NUMBER, not 'ride-code'"),
            ("{\"command\": \"tap\", \"card\": \"ride-code:5\", \"reader\": 70000}", .badRequest, "0 to 65535"),
            ("{\"command\": \"tap\", \"card\": \"ride-code:5\", \"reader\": -1}", .badRequest, "0 to 65535"),
            ("{\"command\": \"tap\", \"card\": \"ride-code:5\", \"reader\": 1.5}", .badRequest, "whole number"),
            (
                "{\"command\": \"tap\", \"card\": \"ride-code:5\", \"fault\": \"zap\"}", .badRequest,
                "fault must be one of"
            ),
            ("{\"command\": \"journal\", \"n\": 0}", .badRequest, "1 to 10000"),
            ("{\"command\": \"journal\", \"n\": 10001}", .badRequest, "1 to 10000"),
            (
                "{\"command\": \"mode\", \"mode\": \"sideways\"}", .badRequest,
                "mode must be one of closed, emergency-open"
            ),
            ("{\"command\": \"mode\", \"reset_alarm\": \"yes\"}", .badRequest, "true or false"),
            ("{\"command\": \"load-snapshot\"}", .badRequest, "needs field 'path'"),
            ("{\"command\": \"status\"}\n{\"command\": \"metrics\"}", .badRequest, "one line"),
        ]
        for (text, code, words) in cases {
            switch ControlWire.request(Array(text.utf8)) {
            case .success(let r): XCTFail("\(text) decoded as \(r)")
            case .failure(let f):
                XCTAssertEqual(f.code, code, "\(text): \(f.message)")
                XCTAssertTrue(f.message.contains(words), "\(text): \(f.message)")
            }
        }
        // A person typing by hand may leave the version out.
        XCTAssertEqual(try ControlWire.request(Array("{\"command\":\"status\"}\r\n".utf8)).get(), .status)
    }

    func testABadEntryInAJournalAnswerIsNamed() {
        let line = Array(
            "{\"v\":1,\"ok\":true,\"response\":\"journal\",\"entries\":[{\"seq\":1,\"kind\":\"decision\",\"outcome\":\"open\",\"reason\":\"warp\"}]}"
                .utf8)
        guard case .failure(let f) = ControlWire.response(line) else { return XCTFail("decoded") }
        XCTAssertTrue(f.message.contains("open(warp)"), f.message)
    }

    func testAnAnswerFromAnotherVersionIsNotTakenForOne() {
        let line = Array("{\"v\":2,\"ok\":true,\"response\":\"status\"}".utf8)
        XCTAssertEqual(ControlWire.response(line).failureCode, .unsupportedVersion)
        XCTAssertEqual(
            ControlWire.response(Array("{\"v\":1,\"ok\":true,\"response\":\"dance\"}".utf8)).failureCode, .badRequest)
    }

    /// Fuzzing in miniature, with the requests' own lines as the seed corpus: bytes flipped,
    /// dropped, duplicated or cut never trap the decoder, and what decodes is a request that
    /// encodes again.
    func testMutatedRequestsAreAnsweredNeverTrapped() throws {
        var rng = SplitMix64(seed: 12)
        let corpus = Self.requests.map { Array(ControlWire.line($0)) }
        var decoded = 0
        for _ in 0..<20_000 {
            var bytes = corpus[Int.random(in: 0..<corpus.count, using: &rng)]
            for _ in 0..<Int.random(in: 1...4, using: &rng) where !bytes.isEmpty {
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes[i] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes.remove(at: i)
                case 2: bytes.insert(bytes[i], at: i)
                default: bytes.removeSubrange(i...)
                }
            }
            if case .success(let request) = ControlWire.request(bytes) {
                decoded += 1
                XCTAssertEqual(try ControlWire.request(ControlWire.line(request)).get(), request)
            }
        }
        XCTAssertGreaterThan(decoded, 0, "some mutations still decode (in a value or a space)")
    }

    // MARK: The server under bad requests

    var dir: String!

    override func setUpWithError() throws {
        dir = "/tmp/fg-cp-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func stubServer(requestTimeout: Duration = ControlServer.requestTimeout) throws -> ControlServer {
        try ControlServer(path: dir + "/gate.sock", requestTimeout: requestTimeout) { request in
            request == .status
                ? .status(GateStatusReport(gateID: "STUB")) : .failure(ControlFailure(.unsupported, "stub"))
        }
    }

    func answer(_ raw: String, _ server: ControlServer) throws -> ControlResponse {
        try ControlWire.response(ControlClient.exchange(Data(raw.utf8), with: server.path)).get()
    }

    func assertStillServing(_ server: ControlServer, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(
            try ControlClient.send(.status, to: server.path).statusReport?.gateID, "STUB", file: file, line: line)
    }

    func testMalformedAndUnknownRequestsGetAnAnswerAndTheServerGoesOn() throws {
        let server = try stubServer()
        defer { server.stop() }
        XCTAssertEqual(try answer("{\"command\":\n", server).failure?.code, .badRequest)
        try assertStillServing(server)
        XCTAssertEqual(try answer("{\"command\":\"explode\"}\n", server).failure?.code, .unknownCommand)
        XCTAssertEqual(try answer("\u{0}\u{1}\u{FF}garbage\n", server).failure?.code, .badRequest)
        // A request ended by closing instead of a newline is still a request.
        XCTAssertEqual(try answer("{\"command\":\"status\"}", server).statusReport?.gateID, "STUB")
        // A client that connects and leaves without a word gets nothing and costs nothing.
        _ = try ControlClient.exchange(Data(), with: server.path)
        try assertStillServing(server)
    }

    func testAnOversizedRequestIsRefusedUnreadAndTheServerGoesOn() throws {
        let server = try stubServer()
        defer { server.stop() }
        for size in [ControlWire.maxRequestBytes + 1, 4 * ControlWire.maxRequestBytes] {
            let refusal = try answer(String(repeating: "x", count: size), server).failure
            XCTAssertEqual(refusal?.code, .tooLarge, "\(size) bytes")
            XCTAssertTrue(refusal?.message.contains("\(ControlWire.maxRequestBytes) bytes") ?? false)
            try assertStillServing(server)
        }
        let padded =
            "{\"command\":\"status\",\"era\":\"" + String(repeating: "y", count: ControlWire.maxRequestBytes) + "\"}\n"
        XCTAssertEqual(try answer(padded, server).failure?.code, .tooLarge, "a long line with a newline at its end")
    }

    /// A client that sends half a request and stalls is answered when its time is up, and a
    /// client waiting behind it is served then, not never.
    func testASlowRequestTimesOutAndDoesNotHoldTheServer() throws {
        let server = try stubServer(requestTimeout: .milliseconds(200))
        defer { server.stop() }
        let slow = try connection(server)
        defer { close(slow) }
        XCTAssertTrue(ControlSocketIO.write(Data("{\"command\":".utf8), to: slow, within: .seconds(1)))
        let bytes = try XCTUnwrap(ControlSocketIO.readAll(slow, limit: 4096, within: .seconds(10)))
        let refusal = try ControlWire.response(bytes).get().failure
        XCTAssertEqual(refusal?.code, .timeout)
        XCTAssertTrue(refusal?.message.contains("not received within") ?? false, "\(String(describing: refusal))")

        let stalled = try connection(server)
        defer { close(stalled) }
        try assertStillServing(server)
    }

    /// A connection to `server` that sends nothing until told to.
    func connection(_ server: ControlServer) throws -> Int32 {
        let addr = try ControlSocketIO.address(server.path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        XCTAssertEqual(ControlSocketIO.withSockaddr(addr) { connect(fd, $0, $1) }, 0)
        return fd
    }
}

extension Result where Failure == ControlFailure {
    var failureCode: ControlFailure.Code? {
        if case .failure(let f) = self { return f.code }
        return nil
    }
}
