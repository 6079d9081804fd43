/// One end of a passage. Riders entering the system tap at the unpaid end; leaving, at the paid end.
public enum GateEnd: UInt8, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    case unpaid = 0
    case paid = 1

    public var opposite: GateEnd { self == .unpaid ? .paid : .unpaid }
    public var description: String { name }
}

/// Direction of travel through a passage.
public enum PassageDirection: UInt8, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    /// From the unpaid end to the paid end.
    case entry = 0
    /// From the paid end to the unpaid end.
    case exit = 1

    public init(from end: GateEnd) { self = end == .unpaid ? .entry : .exit }
    /// The end a rider travelling in this direction taps at.
    public var origin: GateEnd { self == .entry ? .unpaid : .paid }
    public var destination: GateEnd { origin.opposite }
    public var description: String { name }
}

/// A physical sensor zone of the passage, from the unpaid end to the paid end.
///
/// Relative to a direction of travel the zones are, in order: detection (in front of the reader),
/// monitoring (reader to flaps), buffer (the flaps' swing area) and exit (the monitoring and
/// detection zones of the far end). See `PassageZone`.
public enum SensorZone: UInt8, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    case unpaidDetection = 0
    case unpaidMonitoring = 1
    case buffer = 2
    case paidMonitoring = 3
    case paidDetection = 4

    public static func detection(_ end: GateEnd) -> SensorZone { end == .unpaid ? .unpaidDetection : .paidDetection }
    public static func monitoring(_ end: GateEnd) -> SensorZone {
        end == .unpaid ? .unpaidMonitoring : .paidMonitoring
    }

    /// The zone as a rider travelling in `direction` meets it.
    public func relative(to direction: PassageDirection) -> PassageZone {
        switch self {
        case .buffer: return .buffer
        case .unpaidDetection, .paidDetection:
            return self == .detection(direction.origin) ? .detection : .exit
        case .unpaidMonitoring, .paidMonitoring:
            return self == .monitoring(direction.origin) ? .monitoring : .exit
        }
    }

    public var description: String {
        switch self {
        case .unpaidDetection: "unpaid-detection"
        case .unpaidMonitoring: "unpaid-monitoring"
        case .buffer: "buffer"
        case .paidMonitoring: "paid-monitoring"
        case .paidDetection: "paid-detection"
        }
    }
}

/// A sensor zone relative to the direction of travel.
public enum PassageZone: UInt8, Sendable, Hashable {
    case detection, monitoring, buffer, exit
}

/// What the beams of one zone see. A body that interrupts only the low beams (below about 1.2 m)
/// is a child.
public enum SensorReading: UInt8, Sendable, Hashable, CaseIterable {
    case clear = 0
    case adult = 1
    case child = 2
}

/// Occupancy of the five zones, packed two bits per zone (no allocation).
public struct PassageOccupancy: Hashable, Sendable {
    public private(set) var bits: UInt16 = 0
    public init() {}

    public subscript(zone: SensorZone) -> SensorReading {
        get { SensorReading(rawValue: UInt8((bits >> (UInt16(zone.rawValue) * 2)) & 0b11)) ?? .clear }
        set {
            let shift = UInt16(zone.rawValue) * 2
            bits = (bits & ~(0b11 << shift)) | (UInt16(newValue.rawValue) << shift)
        }
    }

    public func isOccupied(_ zone: SensorZone) -> Bool { self[zone] != .clear }
    /// Nobody between the two detection zones (monitoring zones and buffer clear).
    public var passageEmpty: Bool {
        !isOccupied(.unpaidMonitoring) && !isOccupied(.buffer) && !isOccupied(.paidMonitoring)
    }
}

/// Which directions a gate serves.
public enum DirectionMode: UInt8, Sendable, Hashable, CaseIterable, Codable {
    case entryOnly, exitOnly
    /// Both directions; while one end is in use the other end is suspended.
    case bidirectional

    public func permits(_ end: GateEnd) -> Bool {
        switch self {
        case .entryOnly: end == .unpaid
        case .exitOnly: end == .paid
        case .bidirectional: true
        }
    }
}

/// Whether the passage rules (tailgating, intrusion) are enforced.
public enum Enforcement: UInt8, Sendable, Hashable, CaseIterable, Codable {
    /// Alarms sound, red crosses show, flaps close on an ordinary tailgater or an intruder.
    case enforced
    /// Issue 6's shadow mode applied to the passage rules: every alarm is detected and reported
    /// (`BarrierAction.alarmRaised(_, enforced: false)`) for the journal and the comparison report,
    /// but the barrier follows the old rule: open on an open decision, close when the passage is
    /// empty or the opening unused. No buzzer, no red cross, no early close for an alarm.
    case shadow
}

/// The mode staff set a gate to.
public enum GateMode: UInt8, Sendable, Hashable, CaseIterable, Codable {
    case normal
    /// All flaps retracted and held open (also entered on the fire-alarm input and on power loss).
    case emergencyOpen
    /// Faulty or in maintenance: flaps closed, taps refused, no passage alarms.
    case outOfService
    /// Station closed: flaps closed, taps refused, anyone pushing into the passage raises an alarm.
    case closed
}

/// Why the flaps are held open.
public enum EmergencySource: UInt8, Sendable, Hashable, CaseIterable {
    /// The station's fire-alarm input is (or was, until staff reset) active.
    case fireAlarm
    /// Staff commanded emergency free-open.
    case staff
    /// Mains power lost (UPS signal); ends by itself when power returns.
    case powerLoss
}

/// Passage violations the sensors detect.
public enum AlarmKind: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// A second body followed the authorised one with a gap under the close-tailgating threshold:
    /// the flaps cannot close between them, so they stay open and the alarm sounds.
    case closeTailgating
    /// A second body followed at a distance: the flaps close in front of it, the alarm sounds.
    case tailgating
    /// A body moved against the direction in use (or into a passage closed to its direction).
    case reverseIntrusion
    /// A body pushed into the flaps' buffer zone without any tap.
    case enteredWithoutTap

    public var description: String {
        switch self {
        case .closeTailgating: "close_tailgating"
        case .tailgating: "tailgating"
        case .reverseIntrusion: "reverse_intrusion"
        case .enteredWithoutTap: "entered_without_tap"
        }
    }
}

/// How a body that entered the passage in the direction in use was counted.
public enum BodyRole: UInt8, Sendable, Hashable, CaseIterable {
    /// Covered by a tap.
    case authorized
    /// An adult right behind a child who went first on the adult's tap.
    case childCompanion
    /// Not covered by any tap.
    case tailgater
}

/// The timing rules of the barrier, as data. All durations in nanoseconds.
public struct BarrierTimings: Hashable, Sendable, Codable {
    /// An opening nobody walks into is cancelled after this long.
    public var unusedOpening: UInt64
    /// A follower closer than this behind the previous body is a close tailgater.
    public var closeTailgatingGap: UInt64
    /// An adult entering within this time after a child (who used the tap) is the child's companion.
    public var childCompanionGap: UInt64
    /// Time the flaps take to close; a body entering the buffer meanwhile reopens them.
    public var flapTravel: UInt64
    /// A tap whose decision does not arrive within this time is dropped.
    public var validation: UInt64
    /// Minimum time an alarm state lasts.
    public var alarmHold: UInt64
    /// Taps that may be banked ahead in the direction in use.
    public var maxCredits: Int

    public init(
        unusedOpening: UInt64 = 5_000_000_000, closeTailgatingGap: UInt64 = 250_000_000,
        childCompanionGap: UInt64 = 1_000_000_000, flapTravel: UInt64 = 500_000_000,
        validation: UInt64 = 2_000_000_000, alarmHold: UInt64 = 3_000_000_000, maxCredits: Int = 2
    ) {
        self.unusedOpening = unusedOpening
        self.closeTailgatingGap = closeTailgatingGap
        self.childCompanionGap = childCompanionGap
        self.flapTravel = flapTravel
        self.validation = validation
        self.alarmHold = alarmHold
        self.maxCredits = maxCredits
    }
}
