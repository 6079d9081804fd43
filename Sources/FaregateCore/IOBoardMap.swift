/// Where each signal of a passage's I/O board sits in the board's Modbus address space: the
/// register map, as configuration (`hardware/modbus-*.json`, README "I/O board over Modbus").
///
/// Inputs are discrete inputs (function code 2): one per through-beam pair, with the zone it
/// watches and its height, plus the fire-alarm and power-fail contacts. A beam input reads 1 while
/// the beam is interrupted. Both contacts are normally closed: they read 1 while all is well, so a
/// cut wire reads 0, "fire" / "power lost", which opens the gate (the safe side).
///
/// Outputs are coils (function codes 5 and 15): flap open toward either side, retract, the two
/// lamps of each end's indicator, the buzzer (optional). The heartbeat the board's watchdog wants
/// is a coil that is toggled, or a holding register (function code 6) that is incremented, at
/// `heartbeatIntervalMillis`; a board that sees no new heartbeat value for `watchdogMillis`
/// retracts the flaps by itself.
///
/// A value of this type is valid: `init` (and the JSON decoding) refuse overlapping addresses,
/// missing signals and spans libmodbus cannot read in one request, naming the setting.
public struct IOBoardMap: Sendable, Hashable {
    /// The height of a beam pair: a high beam (about 1.3 m) is interrupted by adults only, a low
    /// beam (about 0.5 m) by everyone. A zone whose low beams are interrupted and high beams are
    /// not holds a child.
    public enum BeamHeight: UInt8, Sendable, Hashable, CaseIterable, NamedCase {
        case high, low
        public var name: String { self == .high ? "high" : "low" }
    }

    /// One through-beam pair on one discrete input.
    public struct Beam: Sendable, Hashable {
        public var input: UInt16
        public var zone: SensorZone
        public var height: BeamHeight
        public init(input: UInt16, zone: SensorZone, height: BeamHeight) {
            self.input = input
            self.zone = zone
            self.height = height
        }
    }

    /// The two lamps of one end's indicator (a green arrow, a red cross; both off is dark).
    public struct Lamps: Sendable, Hashable {
        public var greenArrow: UInt16
        public var redCross: UInt16
        public init(greenArrow: UInt16, redCross: UInt16) {
            self.greenArrow = greenArrow
            self.redCross = redCross
        }
    }

    /// What the board's watchdog watches.
    public enum Heartbeat: Sendable, Hashable {
        /// A coil toggled on every heartbeat.
        case coil(UInt16)
        /// A holding register incremented (wrapping) on every heartbeat.
        case register(UInt16)
    }

    public var beams: [Beam]
    public var fireAlarm: UInt16
    public var powerFail: UInt16
    public var flapOpenEntry: UInt16
    public var flapOpenExit: UInt16
    public var flapRetract: UInt16
    public var unpaidLamps: Lamps
    public var paidLamps: Lamps
    public var buzzer: UInt16?
    public var heartbeat: Heartbeat
    public var heartbeatIntervalMillis: Int
    public var watchdogMillis: Int

    /// The most discrete inputs (or coils) one request may cover (libmodbus MODBUS_MAX_READ_BITS
    /// and MODBUS_MAX_WRITE_BITS, from the Modbus application protocol's PDU size).
    public static let maxReadBits = 2000
    public static let maxWriteBits = 1968

    /// Zones that must have both a high and a low beam: the passage rules count bodies, tell
    /// children from adults and keep the flaps off a body in these.
    public static let requiredZones: [SensorZone] = [.unpaidMonitoring, .buffer, .paidMonitoring]

    /// A checked map; throws the first problem found, naming its setting.
    public init(
        beams: [Beam], fireAlarm: UInt16, powerFail: UInt16, flapOpenEntry: UInt16, flapOpenExit: UInt16,
        flapRetract: UInt16, unpaidLamps: Lamps, paidLamps: Lamps, buzzer: UInt16?, heartbeat: Heartbeat,
        heartbeatIntervalMillis: Int = 100, watchdogMillis: Int = 1000
    ) throws(IOBoardMapProblem) {
        self.beams = beams
        self.fireAlarm = fireAlarm
        self.powerFail = powerFail
        self.flapOpenEntry = flapOpenEntry
        self.flapOpenExit = flapOpenExit
        self.flapRetract = flapRetract
        self.unpaidLamps = unpaidLamps
        self.paidLamps = paidLamps
        self.buzzer = buzzer
        self.heartbeat = heartbeat
        self.heartbeatIntervalMillis = heartbeatIntervalMillis
        self.watchdogMillis = watchdogMillis
        if let problem = firstProblem() { throw problem }
    }

    /// Every discrete input the map uses, with its setting name.
    public var namedInputs: [(setting: String, address: UInt16)] {
        beams.enumerated().map { ("discrete_inputs.beams[\($0.offset)].input", $0.element.input) } + [
            ("discrete_inputs.fire_alarm", fireAlarm), ("discrete_inputs.power_fail", powerFail),
        ]
    }

    /// Every coil the map uses, with its setting name.
    public var namedCoils: [(setting: String, address: UInt16)] {
        var out: [(String, UInt16)] = [
            ("coils.flap_open_entry", flapOpenEntry), ("coils.flap_open_exit", flapOpenExit),
            ("coils.flap_retract", flapRetract), ("coils.unpaid_green_arrow", unpaidLamps.greenArrow),
            ("coils.unpaid_red_cross", unpaidLamps.redCross), ("coils.paid_green_arrow", paidLamps.greenArrow),
            ("coils.paid_red_cross", paidLamps.redCross),
        ]
        if let buzzer { out.append(("coils.buzzer", buzzer)) }
        if case .coil(let c) = heartbeat { out.append(("heartbeat.coil", c)) }
        return out
    }

    /// The discrete inputs one read covers: lowest to highest address used.
    public var inputSpan: ClosedRange<UInt16> {
        let a = namedInputs.map(\.address)
        return (a.min() ?? 0)...(a.max() ?? 0)
    }

    /// The coils the map drives, lowest to highest address (the heartbeat coil included).
    public var coilSpan: ClosedRange<UInt16> {
        let a = namedCoils.map(\.address)
        return (a.min() ?? 0)...(a.max() ?? 0)
    }

    /// The first problem of the map, or nil when it can drive a lane.
    func firstProblem() -> IOBoardMapProblem? {
        for zone in Self.requiredZones {
            for height in BeamHeight.allCases where !beams.contains(where: { $0.zone == zone && $0.height == height }) {
                return IOBoardMapProblem(
                    setting: "discrete_inputs.beams",
                    message:
                        "has no \(height.name) beam in the \(zone) zone (the \(Self.requiredZones.map(\.description).joined(separator: ", ")) zones each need a high and a low beam, so adults and children are told apart)"
                )
            }
        }
        for zone in [SensorZone.unpaidDetection, .paidDetection]
        where beams.contains(where: { $0.zone == zone })
            && !beams.contains(where: { $0.zone == zone && $0.height == .low })
        {
            return IOBoardMapProblem(
                setting: "discrete_inputs.beams",
                message: "has only high beams in the \(zone) zone (a child would not be seen there: add a low beam)")
        }
        if let p = Self.overlap(namedInputs, kind: "discrete input") { return p }
        if let p = Self.overlap(namedCoils, kind: "coil") { return p }
        if inputSpan.count > Self.maxReadBits {
            return IOBoardMapProblem(
                setting: "discrete_inputs",
                message:
                    "span \(inputSpan.lowerBound)...\(inputSpan.upperBound) is more than the \(Self.maxReadBits) inputs one Modbus read can cover"
            )
        }
        if coilSpan.count > Self.maxWriteBits {
            return IOBoardMapProblem(
                setting: "coils",
                message:
                    "span \(coilSpan.lowerBound)...\(coilSpan.upperBound) is more than the \(Self.maxWriteBits) coils one Modbus write can cover"
            )
        }
        guard (10...10_000).contains(heartbeatIntervalMillis) else {
            return IOBoardMapProblem(
                setting: "heartbeat.interval_ms",
                message: "must be between 10 and 10000, not \(heartbeatIntervalMillis)")
        }
        guard (100...60_000).contains(watchdogMillis) else {
            return IOBoardMapProblem(
                setting: "heartbeat.watchdog_ms", message: "must be between 100 and 60000, not \(watchdogMillis)")
        }
        // Three heartbeats per watchdog time: one late or lost write does not trip the board.
        guard heartbeatIntervalMillis * 3 <= watchdogMillis else {
            return IOBoardMapProblem(
                setting: "heartbeat.interval_ms",
                message:
                    "\(heartbeatIntervalMillis) is too long for a watchdog of \(watchdogMillis) ms (at most a third of it, so one lost write does not trip the board)"
            )
        }
        return nil
    }

    /// The second setting that uses an address already taken, naming the first.
    static func overlap(_ named: [(setting: String, address: UInt16)], kind: String) -> IOBoardMapProblem? {
        var seen: [UInt16: String] = [:]
        for (setting, address) in named {
            if let first = seen[address] {
                return IOBoardMapProblem(
                    setting: setting, message: "is \(kind) \(address), which \(first) already uses")
            }
            seen[address] = setting
        }
        return nil
    }
}

/// Why a register map cannot drive a lane: the setting (a dotted path such as
/// `coils.flap_retract`) and what is wrong with it.
public struct IOBoardMapProblem: Error, Hashable, Sendable, CustomStringConvertible {
    public var setting: String
    public var message: String
    public init(setting: String, message: String) {
        self.setting = setting
        self.message = message
    }
    public var description: String { "\(setting) \(message)" }
}
