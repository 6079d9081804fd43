/// Health status linked to the identity behind a medium.
public enum HealthStatus: UInt8, Sendable, CaseIterable, Codable, CustomStringConvertible {
    case unknown = 0
    case green = 1
    case yellow = 2
    case red = 3

    public var description: String { name }
}

/// Whether a medium is linked to a registered person (a card "upgrade", a registered
/// commemorative ticket, an authorised ride code, an identity taken at ticket sale).
public enum BindingState: UInt8, Sendable, CaseIterable, Codable, CustomStringConvertible {
    case unbound = 0
    case bound = 1

    public var description: String { self == .bound ? "bound" : "unbound" }
}

/// The entry of the binding and health-status table for one card key, packed into one byte.
///
/// Layout (bit 0 is the least significant):
/// - bits 0–1: health (`HealthStatus`)
/// - bit 2: bound
/// - bit 3: blacklisted (central hot list)
/// - bit 4: returned / cancelled (the card no longer rides)
/// - bit 5: refunded or suspended ticket (electronic tickets refunded, sales suspended)
/// - bits 6–7: reserved, zero
///
/// No name or ID number ever reaches the gate: this byte is all it knows about a person.
public struct CardStatus: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public init(
        health: HealthStatus, binding: BindingState, blacklisted: Bool = false, returned: Bool = false,
        suspended: Bool = false
    ) {
        rawValue =
            health.rawValue | (binding == .bound ? 1 << 2 : 0) | (blacklisted ? 1 << 3 : 0)
            | (returned ? 1 << 4 : 0) | (suspended ? 1 << 5 : 0)
    }

    public var health: HealthStatus { HealthStatus(rawValue: rawValue & 0b11) ?? .unknown }
    public var binding: BindingState { rawValue & (1 << 2) != 0 ? .bound : .unbound }
    public var isBlacklisted: Bool { rawValue & (1 << 3) != 0 }
    public var isReturned: Bool { rawValue & (1 << 4) != 0 }
    public var isSuspended: Bool { rawValue & (1 << 5) != 0 }

    public var description: String {
        var parts = [binding.description, health.description]
        if isBlacklisted { parts.append("blacklisted") }
        if isReturned { parts.append("returned") }
        if isSuspended { parts.append("suspended") }
        return parts.joined(separator: ",")
    }
}
