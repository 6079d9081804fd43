/// Encodes journal entries as single text lines and decodes them back, detecting damage.
///
/// Line format, tab-separated, one entry per line:
/// `J1 seq wall_ms reader key_hex kind outcome reason balance|- data_version t_select t_read t_queue
/// t_lookup t_decide [shadow_outcome shadow_reason] crc32_hex`; the two shadow fields are present
/// only when the entry carries a shadow decision, so lines of gates without shadow rules are
/// unchanged. A `staff_command` entry (never shadowed) has one field there instead, the command's
/// token (`mode=closed`, `StaffCommand.token`); the lines of taps are the same as before staff
/// commands were journalled, so every older journal still decodes. A `lane_event` entry has its
/// event's token there in the same way (`io_board=lost`, `LaneEvent.token`). A passage on a ride
/// code ends, after those, with the code's evidence group (`JournalCodec+RideCode.swift`: `rc`,
/// key id, certificate SHA-256, generated_at, counter, flags, phone signature, clearing mark);
/// card taps have none, so their lines are unchanged. The CRC covers every byte before the last tab, so a torn or
/// edited line is detected. Text so an operator can `tail` it; fixed fields so it parses fast.
///
/// `J2` (issue 16.5, journal authenticity) has the same fields after its magic, then two more in
/// place of the CRC: `prev_hex mac_hex`, the chain value of the line before (32 hex digits, all
/// zero where the chain starts) and this line's own chain value, the gate's keyed MAC
/// (`JournalLineAuthenticator`) over every byte before the last tab, `prev` included. So each line
/// names its predecessor (an inserted, removed or reordered line breaks the chain central checks)
/// and only the holder of the gate's key can write a line that verifies (an edited or appended
/// line fails the MAC the gate checks before it signs an upload). Without the key, `decode` checks
/// a J2 line's structure only; `authenticate` checks its MAC. J1 lines still decode (older
/// journals, gates without a key).
public enum JournalCodec {
    public static let magic = "J1"
    /// The magic of a chained, MAC'd line.
    public static let chainedMagic = "J2"

    public enum DecodeError: Error, Equatable, CustomStringConvertible {
        case wrongFieldCount(Int)
        case badMagic
        case badChecksum
        case badField(String)
        /// A J2 line whose MAC does not verify with the gate's key: not written by this gate.
        case notAuthentic

        public var description: String {
            switch self {
            case .notAuthentic: "MAC mismatch (a line this gate did not write, or one altered since)"
            case .wrongFieldCount(let n): "expected 16, 17 or 18 fields (and 8 more for a ride code), found \(n)"
            case .badMagic: "line does not start with \(JournalCodec.magic)"
            case .badChecksum: "checksum mismatch (torn or altered line)"
            case .badField(let f): "field \(f) is not valid"
            }
        }
    }

    /// The line for `entry`, without the trailing newline.
    public static func encode(_ e: JournalEntry) -> String {
        let body = fields(e, magic: magic).joined(separator: "\t")
        return body + "\t" + String(CRC32.checksum(body.utf8), radix: 16)
    }

    /// The J2 line for `entry` chained after `previous` (without the newline), and its chain value.
    public static func encode(
        _ e: JournalEntry, previous: JournalChainValue, authenticator: some JournalLineAuthenticator
    ) -> (line: String, chain: JournalChainValue) {
        var body = fields(e, magic: chainedMagic).joined(separator: "\t")
        body += "\t"
        body += previous.hex
        let mac = body.withUTF8 { authenticator.mac(UnsafeRawBufferPointer($0)) }
        return (body + "\t" + mac.hex, mac)
    }

    static func fields(_ e: JournalEntry, magic: String) -> [String] {
        let t = e.timings
        var fields: [String] = [
            magic, String(e.sequence), String(e.wallMillis), String(e.reader), String(e.key.rawValue, radix: 16),
            e.kind.description, e.decision.outcome.description, e.decision.reason.code,
            e.balanceFen.map { String($0) } ?? "-", String(e.dataVersion), String(t.select), String(t.read),
            String(t.queue), String(t.lookup), String(t.decide),
        ]
        if let command = e.command {
            fields.append(command.token)
        } else if let event = e.event {
            fields.append(event.token)
        } else if let shadow = e.shadowDecision {
            fields.append(shadow.outcome.description)
            fields.append(shadow.reason.code)
        }
        if let evidence = e.rideCode { appendRideCodeFields(evidence, to: &fields) }
        return fields
    }

    /// A decoded line and how it is protected.
    public struct DecodedLine: Hashable, Sendable {
        public var entry: JournalEntry
        /// The chain values of a J2 line (`previous`, and `chain`, its own MAC); nil for J1.
        public var previous: JournalChainValue?
        public var chain: JournalChainValue?
        /// Whether the line is J2 (chained and MAC'd).
        public var isChained: Bool { chain != nil }
    }

    /// Decodes one line (without its newline): a J1 line's CRC is checked, a J2 line's structure
    /// (its MAC needs the key: `authenticate`).
    public static func decode(_ line: Substring) throws(DecodeError) -> JournalEntry {
        try decodeLine(line).entry
    }

    /// Decodes one line of either format, with its chain values when it is J2.
    public static func decodeLine(_ line: Substring) throws(DecodeError) -> DecodedLine {
        guard let lastTab = line.lastIndex(of: "\t") else { throw .wrongFieldCount(1) }
        let body = line[..<lastTab]
        let tail = line[line.index(after: lastTab)...]
        if line.hasPrefix(chainedMagic + "\t") {
            guard let mac = JournalChainValue(hex: tail) else { throw .badField("mac") }
            guard let prevTab = body.lastIndex(of: "\t"),
                let previous = JournalChainValue(hex: body[body.index(after: prevTab)...])
            else { throw .badField("prev") }
            var f = body[..<prevTab].split(separator: "\t", omittingEmptySubsequences: false)
            let rideCodeFields = try takeRideCodeFields(&f)
            guard f.count >= 15 && f.count <= 17 else { throw .wrongFieldCount(f.count + 2) }
            return DecodedLine(entry: try entry(f, rideCodeFields: rideCodeFields), previous: previous, chain: mac)
        }
        guard let crc = UInt32(tail, radix: 16) else { throw .badField("crc32") }
        guard CRC32.checksum(body.utf8) == crc else { throw .badChecksum }
        var f = body.split(separator: "\t", omittingEmptySubsequences: false)
        // A ride-code group, when there is one, ends the line: taken off first, so what is left
        // is a line of the format before it.
        let rideCodeFields = try takeRideCodeFields(&f)
        guard f.count >= 15 && f.count <= 17 else { throw .wrongFieldCount(f.count + 1) }
        guard f[0] == magic else { throw .badMagic }
        return DecodedLine(entry: try entry(f, rideCodeFields: rideCodeFields), previous: nil, chain: nil)
    }

    /// Decodes `line` and, when it is J2, checks its MAC with the gate's key (`.notAuthentic`
    /// when it fails). A J1 line comes back with no chain: whether to trust it is the caller's
    /// decision (`FileJournal` accepts J1 only up to the sequence its key was created at).
    public static func authenticate(
        _ line: Substring, with authenticator: some JournalLineAuthenticator
    ) throws(DecodeError) -> DecodedLine {
        let decoded = try decodeLine(line)
        guard let chain = decoded.chain, let lastTab = line.lastIndex(of: "\t") else { return decoded }
        var body = String(line[..<lastTab])
        let mac = body.withUTF8 { authenticator.mac(UnsafeRawBufferPointer($0)) }
        guard mac == chain else { throw .notAuthentic }
        return decoded
    }

    /// The entry of the fields `f` (magic first, no checksum, chain or ride-code fields) and the
    /// ride-code group taken off them (`takeRideCodeFields`), if any.
    static func entry(_ f: [Substring], rideCodeFields: [Substring]?) throws(DecodeError) -> JournalEntry {
        func num<T: FixedWidthInteger>(_ i: Int, _ name: String, radix: Int = 10) throws(DecodeError) -> T {
            guard let v = T(f[i], radix: radix) else { throw .badField(name) }
            return v
        }
        guard let kind = JournalEntry.Kind(name: String(f[5])) else { throw .badField("kind") }
        // A staff command has its command and nothing else there; a tap never has one.
        var command: StaffCommand?
        var event: LaneEvent?
        if kind == .staffCommand {
            guard f.count == 16, let c = StaffCommand(token: f[15]) else { throw .badField("command") }
            command = c
        } else if kind == .laneEvent {
            guard f.count == 16, let e = LaneEvent(token: f[15]) else { throw .badField("event") }
            event = e
        } else if f.count == 16 {
            throw .wrongFieldCount(17)
        }
        guard let outcome = Decision.Outcome(name: String(f[6])) else { throw .badField("outcome") }
        guard let reason = Reason(code: String(f[7])) else { throw .badField("reason") }
        let balance: Int32? = f[8] == "-" ? nil : try num(8, "balance")
        let timings = StageTimings(
            select: try num(10, "t_select"), read: try num(11, "t_read"), queue: try num(12, "t_queue"),
            lookup: try num(13, "t_lookup"), decide: try num(14, "t_decide"))
        let sequence: UInt64 = try num(1, "seq")
        guard sequence <= JournalEntry.maxSequence else { throw .badField("seq") }
        let key = CardKey(rawValue: try num(4, "key", radix: 16))
        var rideCode: RideCodeEvidence?
        if let rideCodeFields {
            // Only a passage on a ride code has one (`JournalEntry.rideCode`).
            guard kind == .decision, outcome == .open else { throw .badField("ride_code") }
            rideCode = try decodeRideCodeFields(rideCodeFields, key: key)
        }
        return JournalEntry(
            sequence: sequence, wallMillis: try num(2, "wall_ms"), reader: try num(3, "reader"),
            key: key, kind: kind,
            decision: Decision(outcome: outcome, reason: reason), balanceFen: balance,
            dataVersion: try num(9, "data_version"), timings: timings,
            shadowDecision: kind.isTap ? try shadowDecision(f) : nil, command: command, event: event,
            rideCode: rideCode)
    }

    static func shadowDecision(_ f: [Substring]) throws(DecodeError) -> Decision? {
        guard f.count == 17 else { return nil }
        guard let outcome = Decision.Outcome(name: String(f[15])) else { throw .badField("shadow_outcome") }
        guard let reason = Reason(code: String(f[16])) else { throw .badField("shadow_reason") }
        return Decision(outcome: outcome, reason: reason)
    }
}
