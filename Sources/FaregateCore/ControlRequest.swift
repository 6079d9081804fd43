/// A request to a running gate over its control socket, as `farectl` sends it and `GateControl`
/// answers it (with a `ControlResponse`).
///
/// Wire form (version 1): one JSON object on one line, `{"v":1,"command":"tap","card":"…"}`, the
/// command's fields beside `command`. `v` may be left out by a person typing a request by hand
/// (it then means 1); any other version is refused, as are unknown commands and unknown or
/// ill-typed fields, each with a message naming what was wrong. Decoding is the edge: a request
/// that decodes is valid (cards parsed, numbers range-checked), so the handler never re-checks.
public enum ControlRequest: Sendable, Hashable {
    /// Table, data age, journal, counters and barrier state.
    case status
    /// Presents `card` on simulated reader `reader` (optionally with a read fault) and answers
    /// with the journalled decision. Simulated readers only.
    case tap(card: CardKey, reader: UInt16 = 0, fault: CardFault? = nil)
    /// Hands `text` to simulated ride-code scanner `scanner` as one scanned line and answers with
    /// the journalled decision. Simulated scanners only; `text` at most `maxScanText` bytes.
    case scan(text: String, scanner: UInt16 = 0)
    /// What the table in service says of `card`.
    case lookup(card: CardKey)
    /// Syncs with central state now; answers with the status afterwards.
    case syncNow
    /// The last `count` journal entries (`journalCounts`).
    case journal(count: Int)
    /// Metrics in the Prometheus text format.
    case metrics
    /// Staff commands to the barrier; answers with the status afterwards.
    case mode(ModeChange)
    /// Loads a status-table snapshot file (an absolute path on the gate).
    case loadSnapshot(path: String)
    /// Reloads the policy files, optionally pinning an era.
    case policyReload(era: String?)

    /// The protocol version this build speaks.
    public static let version = 1
    /// How many journal entries one request may ask for.
    public static let journalCounts = 1...10_000
    /// The longest text `scan` hands on (a ride code v1 text is a few hundred characters).
    public static let maxScanText = 4096

    /// Staff commands to the barrier; absent fields change nothing.
    public struct ModeChange: Sendable, Hashable {
        public var mode: GateMode?
        public var directions: DirectionMode?
        public var enforcement: Enforcement?
        public var resetAlarm: Bool

        public init(
            mode: GateMode? = nil, directions: DirectionMode? = nil, enforcement: Enforcement? = nil,
            resetAlarm: Bool = false
        ) {
            self.mode = mode
            self.directions = directions
            self.enforcement = enforcement
            self.resetAlarm = resetAlarm
        }

        /// The commands for the barrier, in the order they are applied.
        public var staffCommands: [StaffCommand] {
            var out: [StaffCommand] = []
            if let mode { out.append(.setMode(mode)) }
            if let directions { out.append(.setDirections(directions)) }
            if let enforcement { out.append(.setEnforcement(enforcement)) }
            if resetAlarm { out.append(.resetAlarm) }
            return out
        }
    }

    /// The `command` names, in the order `farectl help` and error messages list them.
    public enum Command: String, Sendable, CaseIterable, NamedCase {
        case status, tap, scan, lookup
        case syncNow = "sync-now"
        case journal, metrics, mode
        case policyReload = "policy-reload"
        case loadSnapshot = "load-snapshot"

        public var name: String { rawValue }

        /// The fields the command takes besides `v` and `command`.
        var fields: Set<String> {
            switch self {
            case .status, .syncNow, .metrics: []
            case .tap: ["card", "reader", "fault"]
            case .scan: ["text", "scanner"]
            case .lookup: ["card"]
            case .journal: ["n"]
            case .mode: ["mode", "directions", "enforcement", "reset_alarm"]
            case .policyReload: ["era"]
            case .loadSnapshot: ["path"]
            }
        }
    }

    public var command: Command {
        switch self {
        case .status: .status
        case .tap: .tap
        case .scan: .scan
        case .lookup: .lookup
        case .syncNow: .syncNow
        case .journal: .journal
        case .metrics: .metrics
        case .mode: .mode
        case .loadSnapshot: .loadSnapshot
        case .policyReload: .policyReload
        }
    }
}

extension ControlRequest: Codable {
    public init(from decoder: any Decoder) throws {
        let f = try ControlFields(decoder, what: "the request")
        if let v: Int = try f.optional("v", "a whole number"), v != Self.version {
            throw ControlFailure(
                .unsupportedVersion,
                "this gate speaks control protocol version \(Self.version); the request is version \(v)")
        }
        guard let name = try f.string("command") else {
            throw ControlFailure(.badRequest, "request has no command")
        }
        guard let command = Command(name: name) else {
            throw ControlFailure(
                .unknownCommand,
                "unknown command '\(name)' (\(Command.allCases.map(\.name).joined(separator: ", ")))")
        }
        let c = try ControlFields(decoder, what: name)
        try c.only(command.fields.union(["v", "command"]))
        switch command {
        case .status: self = .status
        case .tap:
            self = .tap(
                card: try c.card("card"), reader: try c.integer("reader", in: 0...UInt16.max) ?? 0,
                fault: try c.fault("fault"))
        case .scan:
            let text: String = try c.required("text", "the scanned text")
            guard text.utf8.count <= Self.maxScanText else {
                throw ControlFailure(
                    .badRequest, "field 'text' is \(text.utf8.count) bytes; at most \(Self.maxScanText)")
            }
            self = .scan(text: text, scanner: try c.integer("scanner", in: 0...UInt16.max) ?? 0)
        case .lookup: self = .lookup(card: try c.card("card"))
        case .syncNow: self = .syncNow
        case .journal: self = .journal(count: try c.integer("n", in: Self.journalCounts) ?? 20)
        case .metrics: self = .metrics
        case .mode:
            self = .mode(
                ModeChange(
                    mode: try c.named("mode"), directions: try c.named("directions"),
                    enforcement: try c.named("enforcement"),
                    resetAlarm: try c.optional("reset_alarm", "true or false") ?? false))
        case .loadSnapshot: self = .loadSnapshot(path: try c.required("path", "a path on the gate"))
        case .policyReload: self = .policyReload(era: try c.string("era"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: ControlKey.self)
        try c.encode(Self.version, forKey: "v")
        try c.encode(command.name, forKey: "command")
        switch self {
        case .status, .syncNow, .metrics: break
        case .tap(let card, let reader, let fault):
            try c.encode(card.text, forKey: "card")
            try c.encode(reader, forKey: "reader")
            try c.encodeIfPresent(fault?.description, forKey: "fault")
        case .scan(let text, let scanner):
            try c.encode(text, forKey: "text")
            try c.encode(scanner, forKey: "scanner")
        case .lookup(let card): try c.encode(card.text, forKey: "card")
        case .journal(let count): try c.encode(count, forKey: "n")
        case .mode(let m):
            try c.encodeIfPresent(m.mode?.name, forKey: "mode")
            try c.encodeIfPresent(m.directions?.name, forKey: "directions")
            try c.encodeIfPresent(m.enforcement?.name, forKey: "enforcement")
            if m.resetAlarm { try c.encode(true, forKey: "reset_alarm") }
        case .loadSnapshot(let path): try c.encode(path, forKey: "path")
        case .policyReload(let era): try c.encodeIfPresent(era, forKey: "era")
        }
    }
}
