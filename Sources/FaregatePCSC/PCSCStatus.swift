import CPCSC

/// A PC/SC return code (pcsc-lite / WinSCard `LONG`), kept raw with named members.
///
/// Every libpcsclite call goes through `PCSCStatus.check(_:_:)`, the one funnel that turns a
/// return code into a thrown `PCSCError`. Values are the PC/SC workgroup's codes, identical on
/// pcsc-lite and WinSCard.
public struct PCSCStatus: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    init(_ rc: LONG) { rawValue = UInt32(truncatingIfNeeded: rc) }

    public static let success = PCSCStatus(rawValue: 0x0000_0000)
    public static let internalError = PCSCStatus(rawValue: 0x8010_0001)
    public static let cancelled = PCSCStatus(rawValue: 0x8010_0002)
    public static let invalidHandle = PCSCStatus(rawValue: 0x8010_0003)
    public static let invalidParameter = PCSCStatus(rawValue: 0x8010_0004)
    public static let noMemory = PCSCStatus(rawValue: 0x8010_0006)
    public static let insufficientBuffer = PCSCStatus(rawValue: 0x8010_0008)
    public static let unknownReader = PCSCStatus(rawValue: 0x8010_0009)
    public static let timeout = PCSCStatus(rawValue: 0x8010_000A)
    public static let sharingViolation = PCSCStatus(rawValue: 0x8010_000B)
    public static let noSmartcard = PCSCStatus(rawValue: 0x8010_000C)
    public static let protoMismatch = PCSCStatus(rawValue: 0x8010_000F)
    public static let notTransacted = PCSCStatus(rawValue: 0x8010_0016)
    public static let readerUnavailable = PCSCStatus(rawValue: 0x8010_0017)
    public static let noService = PCSCStatus(rawValue: 0x8010_001D)
    public static let serviceStopped = PCSCStatus(rawValue: 0x8010_001E)
    public static let noReadersAvailable = PCSCStatus(rawValue: 0x8010_002E)
    public static let commError = PCSCStatus(rawValue: 0x8010_0013)
    public static let unknownError = PCSCStatus(rawValue: 0x8010_0014)
    public static let unresponsiveCard = PCSCStatus(rawValue: 0x8010_0066)
    public static let unpoweredCard = PCSCStatus(rawValue: 0x8010_0067)
    public static let resetCard = PCSCStatus(rawValue: 0x8010_0068)
    public static let removedCard = PCSCStatus(rawValue: 0x8010_0069)

    /// pcscd is gone or restarting: the context must be released and established again.
    public var meansServiceLost: Bool {
        self == .noService || self == .serviceStopped || self == .invalidHandle || self == .commError
    }

    /// The card left the field.
    public var meansCardGone: Bool { self == .removedCard || self == .noSmartcard || self == .unpoweredCard }

    public var description: String {
        let name: String
        switch self {
        case .success: name = "success"
        case .cancelled: name = "cancelled"
        case .invalidHandle: name = "invalid handle"
        case .unknownReader: name = "unknown reader"
        case .timeout: name = "timeout"
        case .sharingViolation: name = "sharing violation"
        case .noSmartcard: name = "no smart card"
        case .readerUnavailable: name = "reader unavailable"
        case .noService: name = "pcscd not running"
        case .serviceStopped: name = "pcscd stopped"
        case .noReadersAvailable: name = "no readers"
        case .commError: name = "communication error"
        case .unresponsiveCard: name = "card unresponsive"
        case .resetCard: name = "card reset"
        case .removedCard: name = "card removed"
        case .insufficientBuffer: name = "insufficient buffer"
        default: name = "PC/SC error"
        }
        var hex = String(rawValue, radix: 16, uppercase: true)
        hex = String(repeating: "0", count: max(0, 8 - hex.count)) + hex
        return "\(name) (0x\(hex))"
    }

    /// The funnel: throws unless `rc` is success.
    @inline(__always)
    static func check(_ rc: LONG, _ call: StaticString) throws(PCSCError) {
        let s = PCSCStatus(rc)
        if s != .success { throw PCSCError(status: s, call: call) }
    }
}

/// A failed libpcsclite call: which call, and the status it returned.
public struct PCSCError: Error, Hashable, Sendable, CustomStringConvertible {
    public var status: PCSCStatus
    public var call: String

    public init(status: PCSCStatus, call: StaticString) {
        self.status = status
        self.call = "\(call)"
    }

    public var description: String { "\(call): \(status)" }
}
