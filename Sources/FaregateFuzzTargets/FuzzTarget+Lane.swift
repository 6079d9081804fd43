import FaregateCore
import FaregateRuntime
import Foundation

extension FuzzTarget {
    /// I/O board register maps (`IOBoardMap.parse`, as `IOBoardMapFile.read` runs it). A map that
    /// is taken must be usable: no two signals on one address, every input inside the span one read
    /// covers, and the two sides of the image agree — the levels a board shows for any occupancy
    /// read back as what its beams can tell, and the coils any outputs set command those outputs.
    static let ioBoardMap = FuzzTarget("io-board-map", "IOBoardMap.parse of a register map file") { bytes in
        guard let map = try? IOBoardMap.parse(bytes) else { return }
        checkImage(of: map)
    }

    /// Replies from the I/O board as the adapter hands them to the link: a fuzzed stream of
    /// transactions (reads of the discrete inputs with fuzzed bits, failures of every kind,
    /// connects, failed connects) through `IOBoardMap.levels` and `IOBoardLink`, on one of the
    /// shipped maps. The edges handed on must rebuild exactly the levels read; the lane comes back
    /// in service only on a read with every zone clear; losses, failures and the connection
    /// state agree with what happened; the coil bits of a reply decode to outputs that encode back.
    ///
    /// Input: byte 0 picks the map (bit 0), the failures in a row that take the lane out of service
    /// (bits 1–4) and a start time near the end of the clock (bit 7); then one record per byte:
    /// the low 3 bits the transaction (0–4 a failure of that kind, 5 a failed connect, 6 a
    /// connect, 7 a read whose bits follow), the high 5 bits the milliseconds since the last one.
    static let ioBoardReplies = FuzzTarget("io-board-replies", "IOBoardLink and IOBoardMap.levels of board replies") {
        bytes in
        guard let first = bytes.first else { return }
        let map = ShippedMaps.all[Int(first & 1)]
        var settings = IOBoardLink.Settings()
        settings.failedPollsOutOfService = 1 + Int(first >> 1 & 0xF)
        var link = IOBoardLink(settings: settings)
        var now: UInt64 = first & 0x80 != 0 ? UInt64.max - 2_000_000_000 : 1_000_000_000
        let span = map.inputSpan
        let replyBytes = (span.count + 7) / 8
        var told = IOBoardLevels()
        var inService = true
        var losses: UInt64 = 0
        var i = 1
        while i < bytes.count {
            let record = bytes[i]
            i += 1
            let (later, overflow) = now.addingReportingOverflow(UInt64(record >> 3) * 1_000_000)
            now = overflow ? .max : later
            let actions: [IOBoardLink.Action]
            var read: IOBoardLevels?
            switch record & 7 {
            case 0...4:
                guard let failure = IOBoardLink.Failure(rawValue: record & 7) else { return }
                actions = link.failed(failure, now: now)
            case 5: actions = link.connectFailed(.disconnect, now: now)
            case 6: actions = link.connected(now: now)
            default:
                guard i + replyBytes <= bytes.count else { return }
                let reply = Array(bytes[i..<i + replyBytes])
                i += replyBytes
                let bit = { (a: UInt16) -> Bool in
                    let n = Int(a - span.lowerBound)
                    return reply[n / 8] >> (n % 8) & 1 == 1
                }
                let levels = map.levels(bit)
                read = levels
                actions = link.polled(levels, now: now)
                checkCoils(map.outputs(bit), of: map)
            }
            for a in actions {
                switch a {
                case .deliver(.ioBoard(let online)):
                    fuzzCheck(online != inService, "the link told \(online) twice")
                    inService = online
                    if !online { losses += 1 }
                    if online { fuzzCheck(read?.allClear == true, "back in service on a read that is not clear") }
                case .deliver(let edge):
                    fuzzCheck(read != nil, "an edge \(edge) without a read")
                    told = told.applying(edge)
                case .disconnect:
                    fuzzCheck(!link.connected, "told to disconnect while still connected")
                case .rewriteOutputs: break
                }
            }
            if let read {
                fuzzCheck(told == read, "the edges rebuild \(told), the board read \(read)")
                fuzzCheck(link.levels == read, "the link holds \(link.levels), the board read \(read)")
            }
            fuzzCheck(link.inService == inService, "the link says in service \(link.inService), it told \(inService)")
            let c = link.counters
            fuzzCheck(c.losses == losses, "\(c.losses) losses counted, \(losses) told")
            fuzzCheck(
                c.failedPolls == c.timeouts + c.crcErrors + c.disconnects + c.exceptions + c.otherErrors,
                "failures by kind do not add up: \(c)")
        }
    }

    /// The image's two sides agree for `map` (see `ioBoardMap`).
    static func checkImage(of map: IOBoardMap) {
        let inputs = map.namedInputs.map(\.address)
        fuzzCheck(Set(inputs).count == inputs.count, "two inputs share an address")
        let coils = map.namedCoils.map(\.address)
        fuzzCheck(Set(coils).count == coils.count, "two coils share an address")
        fuzzCheck(inputs.allSatisfy(map.inputSpan.contains), "an input outside the read span")
        fuzzCheck(map.inputSpan.count <= IOBoardMap.maxReadBits, "a read span past the protocol's limit")
        for zone in SensorZone.allCases {
            let heights = Set(map.beams.filter { $0.zone == zone }.map(\.height))
            for reading in SensorReading.allCases {
                var shown = IOBoardLevels()
                shown.zones[zone] = reading
                shown.fireAlarm = reading == .adult
                shown.powerFailure = reading == .child
                var bits: [UInt16: Bool] = [:]
                for b in map.inputBits(for: shown) { bits[b.address] = b.value }
                let back = map.levels { bits[$0] ?? false }
                // What the beams can tell: an adult cuts a high beam, a child only low ones.
                var expected = shown
                expected.zones[zone] =
                    reading == .adult && heights.contains(.high)
                    ? .adult : reading != .clear && heights.contains(.low) ? .child : .clear
                fuzzCheck(back == expected, "\(shown) reads back as \(back), not \(expected)")
            }
        }
        let flaps: [FlapCommand] = [.close, .retract, .open(.entry), .open(.exit)]
        let lamps: [Indicator] = [.off, .greenArrow, .redCross]
        for f in flaps {
            for (u, p) in zip(lamps, lamps.reversed()) {
                var o = IOBoardOutputs()
                o.flaps = f
                o.unpaid = u
                o.paid = p
                o.buzzer = f == .retract
                checkCoils(o, of: map)
            }
        }
    }

    /// The coils `outputs` set command `outputs` (a map without a buzzer coil has no buzzer).
    static func checkCoils(_ outputs: IOBoardOutputs, of map: IOBoardMap) {
        var coils: [UInt16: Bool] = [:]
        for c in map.coilValues(for: outputs) { coils[c.address] = c.value }
        var expected = outputs
        if map.buzzer == nil { expected.buzzer = false }
        let back = map.outputs { coils[$0] ?? false }
        fuzzCheck(back == expected, "the coils of \(outputs) command \(back)")
    }
}

/// The register maps shipped in `hardware/`, read once from the repository this target was built
/// from (the fuzzer and the replay tests run from a checkout).
enum ShippedMaps {
    static let all: [IOBoardMap] = ["modbus-8in8out.json", "modbus-lane-16in.json"].map { name in
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("hardware").appendingPathComponent(name).path
        do { return try IOBoardMapFile.read(path) } catch {
            fatalError("the fuzz target needs the shipped map: \(error)")
        }
    }
}
