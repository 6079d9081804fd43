/// One record of the gate's append-only journal.
///
/// Every tap the decision loop handles becomes exactly one entry with the next per-gate sequence
/// number, written (and made durable) before the barrier is commanded. A staff command to the
/// gate (mode, directions, enforcement, alarm reset) is an entry too, of kind `staffCommand`, in
/// the same sequence: the journal says what the lane was told to do and when. What the lane did
/// by itself — out of service because its I/O board was lost and back, held open by the fire
/// alarm or a power loss and released — is an entry of kind `laneEvent` (`event` says which).
public struct JournalEntry: Hashable, Sendable {
    public enum Kind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
        /// A medium was read and decided.
        case decision = 0
        /// The read failed (malformed response, unknown application, reader error).
        case readFailed = 1
        /// The card was removed mid-read: no decision, barrier not opened.
        case aborted = 2
        /// The ring was full: the tap was refused and the rider asked to tap again.
        case rejected = 3
        /// Not a tap: a staff command the gate carried out (`command` says which).
        case staffCommand = 4
        /// Not a tap: the lane changed state by itself (`event` says how).
        case laneEvent = 5

        public var description: String {
            switch self {
            case .decision: "decision"
            case .readFailed: "read_failed"
            case .aborted: "aborted"
            case .rejected: "rejected"
            case .staffCommand: "staff_command"
            case .laneEvent: "lane_event"
            }
        }

        /// Whether the entry is for a tap (every kind but `staffCommand` and `laneEvent`).
        public var isTap: Bool { self != .staffCommand && self != .laneEvent }

        public init?(name: String) {
            guard let k = Self.allCases.first(where: { $0.description == name }) else { return nil }
            self = k
        }
    }

    /// Per-gate sequence number, `1 ... maxSequence`.
    public var sequence: UInt64
    public var wallMillis: Int64
    public var reader: UInt16
    /// Zero when the medium could not be identified.
    public var key: CardKey
    public var kind: Kind
    public var decision: Decision
    public var balanceFen: Int32?
    /// Central data version the decision was taken against.
    public var dataVersion: UInt64
    public var timings: StageTimings
    /// In shadow mode, what the shadow (new) rules would have decided; the barrier followed
    /// `decision`. Nil when the gate runs no shadow rules.
    public var shadowDecision: Decision?
    /// For a `staffCommand` entry, the command; nil for every tap.
    public var command: StaffCommand?
    /// For a `laneEvent` entry, the event; nil for every other kind.
    public var event: LaneEvent?
    /// For a passage on a ride code (a `decision` that opened), the code's evidence: its
    /// certificate hash and whole dynamic part, and whether the ride is settled by inter-city
    /// clearing. Issuer and account are `key`'s. Nil for every other entry (cards, refusals).
    public var rideCode: RideCodeEvidence?

    /// The highest sequence a journal holds: `Int64.max`. The central stores keep sequences as
    /// signed 64-bit integers, and with this ceiling `sequence + 1` can never overflow: a journal
    /// line or an `acked` file beyond it is damage, not a number to count on from (issue 13: a
    /// line holding `UInt64.max` used to trap the daemon at start, every start).
    public static let maxSequence = UInt64(Int64.max)

    public init(
        sequence: UInt64, wallMillis: Int64, reader: UInt16, key: CardKey, kind: Kind, decision: Decision,
        balanceFen: Int32?, dataVersion: UInt64, timings: StageTimings, shadowDecision: Decision? = nil,
        command: StaffCommand? = nil, event: LaneEvent? = nil, rideCode: RideCodeEvidence? = nil
    ) {
        self.rideCode = rideCode
        self.shadowDecision = shadowDecision
        self.command = command
        self.event = event
        self.sequence = sequence
        self.wallMillis = wallMillis
        self.reader = reader
        self.key = key
        self.kind = kind
        self.decision = decision
        self.balanceFen = balanceFen
        self.dataVersion = dataVersion
        self.timings = timings
    }
}

extension StaffCommand {
    /// The command's one spelling in the journal and its JSON: `mode=closed`,
    /// `directions=bidirectional`, `enforcement=shadow`, `reset-alarm` (the values are the names
    /// `farectl mode` takes).
    public var token: String {
        switch self {
        case .setMode(let m): "mode=\(m.name)"
        case .setDirections(let d): "directions=\(d.name)"
        case .setEnforcement(let e): "enforcement=\(e.name)"
        case .resetAlarm: "reset-alarm"
        }
    }

    /// The command spelt `token`, or nil.
    public init?(token: some StringProtocol) {
        if token == "reset-alarm" {
            self = .resetAlarm
            return
        }
        guard let eq = token.firstIndex(of: "=") else { return nil }
        let value = String(token[token.index(after: eq)...])
        switch token[..<eq] {
        case "mode": guard let m = GateMode(name: value) else { return nil }; self = .setMode(m)
        case "directions": guard let d = DirectionMode(name: value) else { return nil }; self = .setDirections(d)
        case "enforcement": guard let e = Enforcement(name: value) else { return nil }; self = .setEnforcement(e)
        default: return nil
        }
    }
}

/// A change of the lane's state that no staff command caused, journalled as a `lane_event` entry:
/// the lane went out of service because its I/O board stopped answering and came back, or it was
/// held open by the fire alarm or a power loss and released (a staff emergency-open is the staff
/// command's own entry).
public enum LaneEvent: Hashable, Sendable {
    /// The I/O board was lost (`online: false`: out of service, the board's watchdog retracts the
    /// flaps) or answers again with the passage clear (`true`: back in service).
    case ioBoard(online: Bool)
    /// The flaps are held open for everyone, because of `source`.
    case emergencyOpen(EmergencySource)
    /// A free-open for the fire alarm or a power loss ended (power back; staff reset a fire
    /// opening): the lane is back in its mode. The end of a staff free-open is the staff command.
    case emergencyEnded

    /// The event's one spelling in the journal and its JSON: `io_board=lost`, `io_board=online`,
    /// `emergency_open=fire_alarm`, `emergency_open=power_loss`, `emergency_ended`.
    public var token: String {
        switch self {
        case .ioBoard(let online): online ? "io_board=online" : "io_board=lost"
        case .emergencyOpen(let source): "emergency_open=\(source.name)"
        case .emergencyEnded: "emergency_ended"
        }
    }

    /// The event spelt `token`, or nil.
    public init?(token: some StringProtocol) {
        switch token {
        case "io_board=online": self = .ioBoard(online: true)
        case "io_board=lost": self = .ioBoard(online: false)
        case "emergency_ended": self = .emergencyEnded
        default:
            let prefix = "emergency_open="
            guard token.hasPrefix(prefix), let s = EmergencySource(name: String(token.dropFirst(prefix.count))) else {
                return nil
            }
            self = .emergencyOpen(s)
        }
    }
}

extension EmergencySource: NamedCase {
    /// `fire_alarm`, `staff`, `power_loss`.
    public var name: String {
        switch self {
        case .fireAlarm: "fire_alarm"
        case .staff: "staff"
        case .powerLoss: "power_loss"
        }
    }
}

/// Per-tap stage durations in microseconds, each measured from the previous stage.
public struct StageTimings: Hashable, Sendable {
    /// Card detected → application selected.
    public var select: UInt32
    /// Application selected → read finished.
    public var read: UInt32
    /// Read finished → taken off the ring by the decision loop.
    public var queue: UInt32
    /// Table lookup.
    public var lookup: UInt32
    /// Decision.
    public var decide: UInt32

    public init(select: UInt32 = 0, read: UInt32 = 0, queue: UInt32 = 0, lookup: UInt32 = 0, decide: UInt32 = 0) {
        self.select = select
        self.read = read
        self.queue = queue
        self.lookup = lookup
        self.decide = decide
    }

    /// Microseconds between two monotonic nanosecond instants, saturating.
    public static func micros(from start: UInt64, to end: UInt64) -> UInt32 {
        end > start ? UInt32(clamping: (end - start) / 1000) : 0
    }
}
