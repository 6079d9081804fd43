/// What a passage's board inputs say, as levels: each zone's reading, the fire-alarm and the
/// power-fail state. Built from a read of discrete inputs through an `IOBoardMap`; two successive
/// levels give the edges the barrier controller is told.
public struct IOBoardLevels: Hashable, Sendable {
    public var zones = PassageOccupancy()
    public var fireAlarm = false
    public var powerFailure = false
    public init() {}

    /// Every zone clear (the lane may return to service only then).
    public var allClear: Bool { zones.bits == 0 }

    /// The inputs that changed from `self` to `next`, zones first (from the unpaid end), then the
    /// alarms; each is one edge for the controller.
    public func edges(to next: IOBoardLevels) -> [GateInput] {
        var out: [GateInput] = []
        for z in SensorZone.allCases where zones[z] != next.zones[z] { out.append(.sensor(z, next.zones[z])) }
        if fireAlarm != next.fireAlarm { out.append(.fireAlarm(active: next.fireAlarm)) }
        if powerFailure != next.powerFailure { out.append(.powerFailure(active: next.powerFailure)) }
        return out
    }

    /// These levels with `input` applied (a scripted edge).
    public func applying(_ input: GateInput) -> IOBoardLevels {
        var l = self
        switch input {
        case .sensor(let z, let r): l.zones[z] = r
        case .fireAlarm(let a): l.fireAlarm = a
        case .powerFailure(let a): l.powerFailure = a
        case .ioBoard: break
        }
        return l
    }
}

/// What the controller wants on a board's outputs: the flap command, each end's indicator, the
/// buzzer's level now.
public struct IOBoardOutputs: Hashable, Sendable {
    public var flaps: FlapCommand = .close
    public var unpaid: Indicator = .off
    public var paid: Indicator = .off
    public var buzzer = false
    public init() {}

    public subscript(end: GateEnd) -> Indicator {
        get { end == .unpaid ? unpaid : paid }
        set { if end == .unpaid { unpaid = newValue } else { paid = newValue } }
    }
}

extension IOBoardMap {
    /// The levels a read of discrete inputs gives; `input(address)` is the bit read at that
    /// address (1: beam interrupted; contacts are normally closed, so 0 is the alarm).
    public func levels(_ input: (UInt16) -> Bool) -> IOBoardLevels {
        var l = IOBoardLevels()
        var high: Set<SensorZone> = []
        var low: Set<SensorZone> = []
        for b in beams where input(b.input) {
            if b.height == .high { high.insert(b.zone) } else { low.insert(b.zone) }
        }
        for z in SensorZone.allCases {
            // A high beam is above a child's head: any high beam means an adult; low beams alone, a child.
            l.zones[z] = high.contains(z) ? .adult : low.contains(z) ? .child : .clear
        }
        l.fireAlarm = !input(fireAlarm)
        l.powerFailure = !input(powerFail)
        return l
    }

    /// The discrete-input bits a board shows for `levels` (the emulator's side of `levels(_:)`):
    /// an adult interrupts every beam of the zone, a child only the low ones.
    public func inputBits(for levels: IOBoardLevels) -> [(address: UInt16, value: Bool)] {
        var out = beams.map { b -> (UInt16, Bool) in
            let r = levels.zones[b.zone]
            return (b.input, r == .adult || (r == .child && b.height == .low))
        }
        out.append((fireAlarm, !levels.fireAlarm))
        out.append((powerFail, !levels.powerFailure))
        return out
    }

    /// The value of every mapped output coil for `outputs` (the heartbeat coil is not among them:
    /// it has its own schedule).
    public func coilValues(for outputs: IOBoardOutputs) -> [(address: UInt16, value: Bool)] {
        var out: [(UInt16, Bool)] = [
            (flapOpenEntry, outputs.flaps == .open(.entry)), (flapOpenExit, outputs.flaps == .open(.exit)),
            (flapRetract, outputs.flaps == .retract),
            (unpaidLamps.greenArrow, outputs.unpaid == .greenArrow),
            (unpaidLamps.redCross, outputs.unpaid == .redCross),
            (paidLamps.greenArrow, outputs.paid == .greenArrow), (paidLamps.redCross, outputs.paid == .redCross),
        ]
        if let buzzer { out.append((buzzer, outputs.buzzer)) }
        return out
    }

    /// The outputs a board's coils command (the emulator's side of `coilValues(for:)`): retract
    /// wins over an open, and both opens at once are a close (a board must not guess a side).
    public func outputs(_ coil: (UInt16) -> Bool) -> IOBoardOutputs {
        var o = IOBoardOutputs()
        let entry = coil(flapOpenEntry), exit = coil(flapOpenExit)
        o.flaps = coil(flapRetract) ? .retract : entry && !exit ? .open(.entry) : exit && !entry ? .open(.exit) : .close
        func lamp(_ l: Lamps) -> Indicator {
            let g = coil(l.greenArrow), r = coil(l.redCross)
            return g && !r ? .greenArrow : r && !g ? .redCross : .off
        }
        o.unpaid = lamp(unpaidLamps)
        o.paid = lamp(paidLamps)
        o.buzzer = buzzer.map(coil) ?? false
        return o
    }
}

/// A buzzer pattern as a level over time, for boards whose buzzer is one coil: the host times the
/// chirps. Pure: `level(at:)` and `nextChange(after:)` from the time the pattern started.
public struct BuzzerTimeline: Hashable, Sendable {
    public var pattern: BuzzerPattern
    public var start: UInt64
    public static let chirp: UInt64 = 100_000_000

    public init(_ pattern: BuzzerPattern = .off, start: UInt64 = 0) {
        self.pattern = pattern
        self.start = start
    }

    /// On intervals from the start: accept one chirp, deny two, alarm forever.
    var onIntervals: [Range<UInt64>] {
        switch pattern {
        case .off: []
        case .accept: [0..<Self.chirp]
        case .deny: [0..<Self.chirp, 2 * Self.chirp..<3 * Self.chirp]
        case .alarm: [0..<UInt64.max]
        }
    }

    public func level(at now: UInt64) -> Bool {
        guard now >= start else { return false }
        let t = now - start
        return onIntervals.contains { $0.contains(t) }
    }

    /// When the level changes next after `now`; nil when it never does.
    public func nextChange(after now: UInt64) -> UInt64? {
        let t = now >= start ? now - start : 0
        let edges = onIntervals.flatMap { [$0.lowerBound, $0.upperBound] }.filter { $0 > t && $0 != .max }
        return edges.min().map { start + $0 }
    }
}
