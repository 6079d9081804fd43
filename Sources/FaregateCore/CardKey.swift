/// The medium a rider presents at the gate. A phone presenting the transit-card application over
/// NFC is the same medium as the physical card: the gate reads the same application and number.
public enum Medium: UInt8, Sendable, CaseIterable, Codable, CustomStringConvertible {
    /// T-Union (JT/T 978) interoperable transit card, physical or emulated by a phone.
    case transitCard = 1
    /// Beijing municipal (non-interconnect) transit card, physical or emulated by a phone.
    case municipalCard = 2
    /// App ride code (QR) of a real-name app account: the transit app, a wallet, a bank, another city.
    case rideCode = 3
    /// Commemorative ticket, identified by its ticket number.
    case commemorativeTicket = 4
    /// Single-journey ticket bought at the station (contactless token).
    case singleJourneyTicket = 5
    /// Welfare ticket bought at the station (contactless token).
    case welfareTicket = 6
    /// Electronic single-journey ticket (QR).
    case electronicTicket = 7

    public var description: String { name }
}

/// The 64-bit key under which the gate looks a presented medium up.
///
/// Key spaces cannot collide by construction:
/// - T-Union transit cards use the raw card number, the 19 decimal digits a card shows, so the
///   range `0 ..< 10^19` (`10^19 - 1 < 0x8AC7_2304_89E8_0000`).
/// - Every other medium gets its own 2^60-wide block above that, selected by the top nibble
///   (`0x9` … `0xF`), so its identifier must be `< 2^60`.
public struct CardKey: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Largest T-Union card number (19 decimal digits).
    public static let maxTransitNumber: UInt64 = 9_999_999_999_999_999_999
    /// Width of the identifier space of every non-T-Union medium.
    public static let blockIdentifierLimit: UInt64 = 1 << 60

    static func tag(of medium: Medium) -> UInt64? {
        switch medium {
        case .transitCard: nil
        case .rideCode: 0x9
        case .commemorativeTicket: 0xA
        case .singleJourneyTicket: 0xB
        case .welfareTicket: 0xC
        case .electronicTicket: 0xD
        case .municipalCard: 0xE
        }
    }

    /// Builds the key of `identifier` in `medium`'s key space; nil when it does not fit there.
    public init?(medium: Medium, identifier: UInt64) {
        if let tag = Self.tag(of: medium) {
            guard identifier < Self.blockIdentifierLimit else { return nil }
            rawValue = tag << 60 | identifier
        } else {
            guard identifier <= Self.maxTransitNumber else { return nil }
            rawValue = identifier
        }
    }

    /// Parses a decimal number printed on or read from a medium.
    public init?(medium: Medium, number: some StringProtocol) {
        guard !number.isEmpty, number.count <= 19, number.allSatisfy({ $0.isASCII && $0.isNumber }),
            let value = UInt64(number)
        else { return nil }
        self.init(medium: medium, identifier: value)
    }

    /// The medium this key belongs to; nil for the unused block above the T-Union range.
    public var medium: Medium? {
        if rawValue <= Self.maxTransitNumber { return .transitCard }
        switch rawValue >> 60 {
        case 0x9: return .rideCode
        case 0xA: return .commemorativeTicket
        case 0xB: return .singleJourneyTicket
        case 0xC: return .welfareTicket
        case 0xD: return .electronicTicket
        case 0xE: return .municipalCard
        default: return nil
        }
    }

    /// The identifier inside the medium's key space (the card or ticket number).
    public var identifier: UInt64 {
        rawValue <= Self.maxTransitNumber ? rawValue : rawValue & (Self.blockIdentifierLimit - 1)
    }

    /// The number as a rider or operator sees it: T-Union numbers with all 19 digits, municipal
    /// card serials with 16, others without padding.
    public var number: String {
        switch medium {
        case .transitCard: return Self.pad(identifier, to: 19)
        case .municipalCard: return Self.pad(identifier, to: 16)
        default: return String(identifier)
        }
    }

    static func pad(_ value: UInt64, to width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    public var description: String { "\(medium?.description ?? "invalid"):\(number)" }

    public static func < (a: CardKey, b: CardKey) -> Bool { a.rawValue < b.rawValue }
}
