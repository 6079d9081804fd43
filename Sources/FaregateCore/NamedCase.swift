/// An enum with one stable spelling per case: the word operators write in the configuration and
/// the policy files, and that journals, reports and the control socket print.
///
/// The spellings live in this file and nowhere else ("one table of names"); `init?(name:)` and the
/// list of names in error messages derive from it. Media, issuers, modes and ends are kebab-case
/// words (`transit-card`, `emergency-open`); reasons keep their journalled snake_case codes.
public protocol NamedCase: CaseIterable, Hashable, Sendable {
    var name: String { get }
}

extension NamedCase {
    /// The case spelt `name`, or nil.
    public init?(name: String) {
        guard let value = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = value
    }

    /// Every spelling, in declaration order.
    public static var names: [String] { allCases.map(\.name) }
}

/// A `NamedCase` value in JSON, written as its name: `"deny"`, `["electronic-ticket"]`. A wrong
/// name is refused with the accepted ones ("must be open, deny or staff, not 'dney'").
public struct Named<Value: NamedCase>: Codable, Hashable, Sendable {
    public var value: Value

    public init(_ value: Value) { self.value = value }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let v = Value(name: s) else {
            throw DecodingError.dataCorruptedError(
                in: c, debugDescription: "must be \(StrictJSON.alternatives(Value.names)), not '\(s)'")
        }
        value = v
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(value.name)
    }
}

extension Decision.Outcome: NamedCase {
    public var name: String {
        switch self {
        case .open: "open"
        case .deny: "deny"
        case .staff: "staff"
        }
    }
}

extension Medium: NamedCase {
    public var name: String {
        switch self {
        case .transitCard: "transit-card"
        case .municipalCard: "municipal-card"
        case .rideCode: "ride-code"
        case .commemorativeTicket: "commemorative-ticket"
        case .singleJourneyTicket: "single-journey-ticket"
        case .welfareTicket: "welfare-ticket"
        case .electronicTicket: "electronic-ticket"
        }
    }
}

extension RideCodeIssuer: NamedCase {
    public var name: String {
        switch self {
        case .transitApp: "transit-app"
        case .busGroup: "bus-group"
        case .alipay: "alipay"
        case .unionPay: "unionpay"
        case .merchantsBank: "merchants-bank"
        case .shanghai: "shanghai"
        case .tianjin: "tianjin"
        case .guangzhou: "guangzhou"
        case .hohhot: "hohhot"
        }
    }
}

extension HealthStatus: NamedCase {
    public var name: String {
        switch self {
        case .unknown: "unknown"
        case .green: "green"
        case .yellow: "yellow"
        case .red: "red"
        }
    }
}

/// Reasons are spelt by their stable journal code (`Reason.code`, kept beside the rider messages).
extension Reason: NamedCase {
    public var name: String { code }
}

extension GateEnd: NamedCase {
    public var name: String { self == .unpaid ? "unpaid" : "paid" }
}

extension PassageDirection: NamedCase {
    public var name: String { self == .entry ? "entry" : "exit" }
}

extension DirectionMode: NamedCase {
    public var name: String {
        switch self {
        case .entryOnly: "entry-only"
        case .exitOnly: "exit-only"
        case .bidirectional: "bidirectional"
        }
    }
}

extension Enforcement: NamedCase {
    public var name: String { self == .enforced ? "enforced" : "shadow" }
}

extension GateMode: NamedCase {
    public var name: String {
        switch self {
        case .normal: "normal"
        case .emergencyOpen: "emergency-open"
        case .outOfService: "out-of-service"
        case .closed: "closed"
        }
    }
}
