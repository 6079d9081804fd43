/// A running gate's answer to a `ControlRequest`.
///
/// Wire form (version 1): one JSON object on one line, `{"v":1,"ok":true,"response":"status",…}`,
/// where `response` names the request it answers and the payload's fields sit beside it (so
/// `farectl status --json | jq .table_version` reads the field directly). A failure is
/// `{"v":1,"ok":false,"response":"failure","code":"unknown_command","error":"…"}`. The reader of a
/// response accepts fields it does not know: a newer gate may add some within version 1.
public enum ControlResponse: Sendable, Hashable {
    case status(GateStatusReport)
    /// The journalled decision of a simulated tap.
    case tap(JournalEntry)
    case lookup(CardLookup)
    /// The status after a successful sync.
    case synced(GateStatusReport)
    /// Journal entries, oldest first.
    case journal([JournalEntry])
    /// Prometheus text exposition.
    case metrics(String)
    /// How many staff commands went to the barrier, and the status afterwards.
    case mode(commandsSent: Int, status: GateStatusReport)
    /// The data version of the table now in service.
    case snapshotLoaded(tableVersion: UInt64)
    /// The label of the rules now in force.
    case policyReloaded(rules: String)
    case failure(ControlFailure)

    /// The command this answers; nil for a failure.
    public var command: ControlRequest.Command? {
        switch self {
        case .status: .status
        case .tap: .tap
        case .lookup: .lookup
        case .synced: .syncNow
        case .journal: .journal
        case .metrics: .metrics
        case .mode: .mode
        case .snapshotLoaded: .loadSnapshot
        case .policyReloaded: .policyReload
        case .failure: nil
        }
    }

    /// The `response` tag: the command answered, or `failure`.
    public var tag: String { command?.name ?? Self.failureTag }
    static let failureTag = "failure"

    public var failure: ControlFailure? {
        if case .failure(let f) = self { return f }
        return nil
    }
}

/// Why a gate refused or could not carry out a control request: a code a program can act on and
/// a message a person understands.
public struct ControlFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable, NamedCase {
        /// Not one JSON object, or a field missing, unknown or of the wrong type.
        case badRequest = "bad_request"
        case unknownCommand = "unknown_command"
        case unsupportedVersion = "unsupported_version"
        /// Longer than `ControlServer.maxRequestBytes` without a newline.
        case tooLarge = "too_large"
        /// The request did not arrive in time.
        case timeout
        /// The peer's uid may not control this gate.
        case permissionDenied = "permission_denied"
        /// The gate is serving as many control connections as it takes at once; try again.
        case busy
        /// This gate cannot do that (no simulated reader, no barrier, inline rules, no table).
        case unsupported
        /// The operation was tried and failed; the message says what stays in force.
        case failed

        public var name: String { rawValue }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

extension ControlResponse: Codable {
    public init(from decoder: any Decoder) throws {
        let f = try ControlFields(decoder, what: "the answer")
        let v: Int = try f.required("v", "a whole number")
        guard v == ControlRequest.version else {
            throw ControlFailure(
                .unsupportedVersion,
                "the gate answers in control protocol version \(v); this build speaks \(ControlRequest.version)")
        }
        let tag: String = try f.required("response", "a string")
        if tag == Self.failureTag {
            let code: ControlFailure.Code = try f.named("code") ?? .failed
            self = .failure(ControlFailure(code, try f.required("error", "a message")))
            return
        }
        guard let command = ControlRequest.Command(name: tag) else {
            throw ControlFailure(.badRequest, "the answer '\(tag)' is not one this build knows")
        }
        switch command {
        case .status: self = .status(try GateStatusReport(from: decoder))
        case .tap, .scan: self = .tap(try JournalEntry(from: decoder))
        case .lookup: self = .lookup(try CardLookup(from: decoder))
        case .syncNow: self = .synced(try GateStatusReport(from: decoder))
        case .journal: self = .journal(try f.required("entries", "a list of journal entries"))
        case .metrics: self = .metrics(try f.required("text", "a string"))
        case .mode:
            let sent = try f.integer("commands_sent", in: 0...Int.max) ?? 0
            self = .mode(commandsSent: sent, status: try GateStatusReport(from: decoder))
        case .loadSnapshot: self = .snapshotLoaded(tableVersion: try f.unsigned("table_version"))
        case .policyReload: self = .policyReloaded(rules: try f.required("rules", "a string"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: ControlKey.self)
        try c.encode(ControlRequest.version, forKey: "v")
        try c.encode(failure == nil, forKey: "ok")
        try c.encode(tag, forKey: "response")
        switch self {
        case .status(let s), .synced(let s): try s.encode(to: encoder)
        case .tap(let e): try e.encode(to: encoder)
        case .lookup(let l): try l.encode(to: encoder)
        case .journal(let entries): try c.encode(entries, forKey: "entries")
        case .metrics(let text): try c.encode(text, forKey: "text")
        case .mode(let sent, let status):
            try c.encode(sent, forKey: "commands_sent")
            try status.encode(to: encoder)
        case .snapshotLoaded(let v): try c.encode(v, forKey: "table_version")
        case .policyReloaded(let rules): try c.encode(rules, forKey: "rules")
        case .failure(let f):
            try c.encode(f.code.name, forKey: "code")
            try c.encode(f.message, forKey: "error")
        }
    }
}

/// What the table in service says of one card.
public struct CardLookup: Sendable, Hashable, Codable {
    public var card: CardKey
    public var tableVersion: UInt64
    /// Nil when the card is not in the table.
    public var status: CardStatus?

    public init(card: CardKey, tableVersion: UInt64, status: CardStatus?) {
        self.card = card
        self.tableVersion = tableVersion
        self.status = status
    }

    public init(from decoder: any Decoder) throws {
        let f = try ControlFields(decoder, what: "the lookup")
        card = try f.card("card")
        tableVersion = try f.unsigned("table_version")
        guard try f.required("found", "true or false") as Bool else {
            status = nil
            return
        }
        let health: HealthStatus? = try f.string("health").flatMap(HealthStatus.init(name:))
        guard let health else { throw ControlFailure(.badRequest, "field 'health' of the lookup is not a health") }
        status = CardStatus(
            health: health, binding: try f.required("binding", "a string") == "bound" ? .bound : .unbound,
            blacklisted: try f.required("blacklisted", "true or false"),
            returned: try f.required("returned", "true or false"),
            suspended: try f.required("suspended", "true or false"))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: ControlKey.self)
        try c.encode(card.text, forKey: "card")
        try c.encode(tableVersion, forKey: "table_version")
        try c.encode(status != nil, forKey: "found")
        guard let s = status else { return }
        try c.encode(s.binding.description, forKey: "binding")
        try c.encode(s.health.description, forKey: "health")
        try c.encode(s.isBlacklisted, forKey: "blacklisted")
        try c.encode(s.isReturned, forKey: "returned")
        try c.encode(s.isSuspended, forKey: "suspended")
    }
}
