/// The flap barrier of one passage as a pure state machine.
///
/// Driven by events (`BarrierEvent`) with time as an argument: no clock, no timers, no I/O.
/// Timers are deadlines: after each call the caller reads `deadline` and sends `.tick` when its
/// monotonic clock reaches it (sending `.tick` early or often is harmless). The caller performs the
/// returned actions in order. Not thread-safe: owned by the thread that talks to the I/O board.
///
/// Flap safety is a layer under the states: the flaps never start closing while the buffer zone is
/// occupied, and a body entering the buffer while they travel closed reopens them.
///
/// The sensor and alarm rules are in `BarrierController+Sensors.swift`; the state and helpers
/// they share are internal to the module rather than private so that they can live there.
public struct BarrierController: Sendable {
    public enum State: Hashable, Sendable {
        case idle
        case validating(GateEnd)
        case open(PassageDirection)
        case passing(PassageDirection)
        case closing(PassageDirection)
        /// Flaps closed (or held until the buffer clears) until the passage is empty.
        case alarm(AlarmKind)
        case freeOpen(EmergencySource)
        case outOfService
        case stationClosed
    }

    public internal(set) var state: State = .idle
    public internal(set) var mode: GateMode = .normal
    public internal(set) var directions: DirectionMode
    public internal(set) var enforcement: Enforcement
    public var timings: BarrierTimings
    /// Taps banked for the direction in use.
    public internal(set) var credits = 0
    /// The enforced alarm sounding now.
    public internal(set) var activeAlarm: AlarmKind?
    /// When the caller must send `.tick` next; nil when no timer runs.
    public internal(set) var deadline: UInt64?
    public internal(set) var occupancy = PassageOccupancy()
    /// What the flaps were last commanded to.
    public internal(set) var flaps: FlapCommand = .close

    var fireInput = false
    var fireLatched = false
    var powerLost = false
    var boardLost = false
    var direction: PassageDirection?
    var openReason: Reason = .ok
    var crossed = false
    var lastBodyChild = false
    var blockTailgater = false
    var alarmSince: UInt64 = 0
    var closingUntil: UInt64 = 0
    var lastOriginClear: UInt64 = 0
    var shownIndicator: (Indicator?, Indicator?) = (nil, nil)
    var shownText: (DisplayText?, DisplayText?) = (nil, nil)
    var override: (DisplayText?, DisplayText?) = (nil, nil)

    public init(
        directions: DirectionMode = .entryOnly, enforcement: Enforcement = .enforced,
        timings: BarrierTimings = BarrierTimings()
    ) {
        self.directions = directions
        self.enforcement = enforcement
        self.timings = timings
    }

    /// The outputs of the current state, for start-up: sets every indicator and display.
    public mutating func start(now: UInt64) -> [BarrierAction] {
        var a: [BarrierAction] = [.flaps(.close)]
        flaps = .close
        shownIndicator = (nil, nil)
        shownText = (nil, nil)
        refresh(now, &a)
        return a
    }

    /// Whether a tap at `end` would be acted on now. The runtime may skip reading at an end that
    /// does not accept (the other end of a bidirectional gate in use, a closed direction).
    public func acceptsTap(at end: GateEnd) -> Bool {
        switch state {
        case .idle: directions.permits(end)
        case .validating(let e): e == end
        case .open(let d), .passing(let d), .closing(let d): d.origin == end
        case .alarm: direction.map { $0.origin == end } ?? directions.permits(end)
        case .freeOpen, .outOfService, .stationClosed: false
        }
    }

    public mutating func handle(_ event: BarrierEvent, now: UInt64) -> [BarrierAction] {
        var actions: [BarrierAction] = []
        handle(event, now: now, into: &actions)
        return actions
    }

    /// Appends the actions for `event` to `actions` (reuse one array to avoid allocating).
    public mutating func handle(_ event: BarrierEvent, now: UInt64, into actions: inout [BarrierAction]) {
        switch event {
        case .tick: tick(now, &actions)
        case .tapDetected(let end):
            if state == .idle && directions.permits(end) {
                transition(.validating(end), deadline: now + timings.validation)
            }
        case .decided(let end, let decision): decided(end, decision, now, &actions)
        case .sensor(let zone, let reading): sensor(zone, reading, now, &actions)
        case .fireAlarm(let active):
            fireInput = active
            if active { fireLatched = true }
            reconcileMode(now, &actions)
        case .powerFailure(let active):
            powerLost = active
            reconcileMode(now, &actions)
        case .ioBoard(let online):
            if boardLost == online {
                boardLost = !online
                actions.append(.ioBoardChanged(online: online))
            }
            reconcileMode(now, &actions)
        case .staff(let command): staff(command, now, &actions)
        }
        settleFlaps(now, &actions)
        refresh(now, &actions)
    }

    // MARK: Modes

    var emergencySource: EmergencySource? {
        if fireLatched { return .fireAlarm }
        if mode == .emergencyOpen { return .staff }
        if powerLost { return .powerLoss }
        return nil
    }

    mutating func staff(_ command: StaffCommand, _ now: UInt64, _ a: inout [BarrierAction]) {
        switch command {
        case .setMode(let m):
            if fireInput && m != .emergencyOpen {
                a.append(.staffCommandRefused(command))
                return
            }
            // Staff setting any mode is the reset that ends a latched fire-alarm opening.
            fireLatched = false
            if m != mode { a.append(.modeChanged(m)) }
            mode = m
            reconcileMode(now, &a)
        case .setDirections(let d):
            directions = d
            if state == .idle || isValidating { restState(now, &a) }
        case .setEnforcement(let e):
            enforcement = e
            if e == .shadow, let k = activeAlarm { clearAlarm(k, &a) }
            if e == .shadow, case .alarm = state { exitAlarm(now, &a) }
        case .resetAlarm:
            if case .alarm = state { exitAlarm(now, &a) } else if let k = activeAlarm { clearAlarm(k, &a) }
        }
    }

    var isValidating: Bool {
        if case .validating = state { return true }
        return false
    }

    mutating func reconcileMode(_ now: UInt64, _ a: inout [BarrierAction]) {
        if let source = emergencySource {
            if state != .freeOpen(source) {
                if let k = activeAlarm { clearAlarm(k, &a) }
                credits = 0
                direction = nil
                blockTailgater = false
                a.append(.emergencyOpen(source))
                transition(.freeOpen(source), deadline: nil)
            }
            return
        }
        if boardLost {
            // No sensors, no flaps: end whatever passage or alarm was in progress at once.
            if case .freeOpen = state { a.append(.emergencyEnded) }
            if state != .outOfService { restState(now, &a) }
            return
        }
        switch state {
        case .freeOpen:
            a.append(.emergencyEnded)
            restState(now, &a)
        case .idle, .validating, .outOfService, .stationClosed: restState(now, &a)
        default: break  // a passage or alarm in progress: the mode applies when it ends
        }
    }

    /// The resting state of the current mode.
    mutating func restState(_ now: UInt64, _ a: inout [BarrierAction]) {
        if let k = activeAlarm { clearAlarm(k, &a) }
        credits = 0
        direction = nil
        crossed = false
        blockTailgater = false
        lastBodyChild = false
        if boardLost {
            transition(.outOfService, deadline: nil)
            return
        }
        switch mode {
        case .normal: transition(.idle, deadline: nil)
        case .outOfService: transition(.outOfService, deadline: nil)
        case .closed: transition(.stationClosed, deadline: nil)
        case .emergencyOpen: transition(.freeOpen(.staff), deadline: nil)
        }
    }

    mutating func transition(_ s: State, deadline d: UInt64?) {
        state = s
        deadline = d
        override = (nil, nil)
    }

    // MARK: Decisions

    mutating func decided(_ end: GateEnd, _ decision: Decision, _ now: UInt64, _ a: inout [BarrierAction]) {
        switch state {
        case .freeOpen:
            a.append(.tapRefused(end, .emergency))
            return
        case .outOfService:
            a.append(.tapRefused(end, .reason(.gateOutOfService)))
            return
        case .stationClosed:
            a.append(.tapRefused(end, .stationClosed))
            return
        default: break
        }
        guard directions.permits(end) else {
            a.append(.tapRefused(end, .noPassage))
            a.append(.buzzer(.deny))
            return
        }
        let d = PassageDirection(from: end)
        guard case .open(let reason) = decision else {
            if case .staff(let r) = decision { a.append(.callStaff(end, r)) }
            if case .validating(let e) = state, e == end { transition(.idle, deadline: nil) }
            setOverride(end, .reason(decision.reason))
            a.append(.buzzer(.deny))
            return
        }
        switch state {
        case .idle, .validating:
            credits = 1
            openWith(d, reason, now)
        case .open(let cur) where cur == d:
            credits = min(credits + 1, timings.maxCredits)
            deadline = now + timings.unusedOpening
        case .passing(let cur) where cur == d:
            credits = min(credits + 1, timings.maxCredits)
        case .closing(let cur) where cur == d:
            credits = 1
            openWith(d, reason, now)
        case .alarm(let kind):
            if kind == .reverseIntrusion {
                // Cannot open against an intruder: bank the tap, open when the passage is clear.
                if direction == nil || direction == d {
                    direction = d
                    credits = min(credits + 1, timings.maxCredits)
                    openReason = reason
                } else {
                    a.append(.tapRefused(end, .wait))
                    return
                }
            } else if direction == nil || direction == d {
                // The body in the passage paid after all.
                clearAlarm(kind, &a)
                credits = 1
                openWith(d, reason, now)
            } else {
                a.append(.tapRefused(end, .wait))
                return
            }
        default:
            a.append(.tapRefused(end, .wait))
            a.append(.buzzer(.deny))
            return
        }
        a.append(.buzzer(.accept))
    }

    mutating func openWith(_ d: PassageDirection, _ reason: Reason, _ now: UInt64) {
        direction = d
        openReason = reason
        crossed = false
        blockTailgater = false
        lastBodyChild = false
        transition(.open(d), deadline: now + timings.unusedOpening)
    }

    mutating func setOverride(_ end: GateEnd, _ text: DisplayText) {
        if end == .unpaid { override.0 = text } else { override.1 = text }
    }

    // MARK: Time

    mutating func tick(_ now: UInt64, _ a: inout [BarrierAction]) {
        guard let due = deadline, now >= due else { return }
        switch state {
        case .validating: transition(.idle, deadline: nil)
        case .open(let d):
            credits = 0
            a.append(.openingCancelled(d))
            restState(now, &a)
        case .closing(let d):
            if blockTailgater && occupancy.isOccupied(.monitoring(d.origin)) {
                blockTailgater = false
                direction = nil
                credits = 0
                alarmSince = now
                transition(.alarm(activeAlarm ?? .tailgating), deadline: nil)
            } else {
                restState(now, &a)
            }
        case .alarm: checkAlarmEnd(now, &a)
        default: deadline = nil
        }
    }

    // MARK: Outputs

    var desiredFlaps: FlapCommand {
        switch state {
        case .open(let d), .passing(let d): .open(d)
        case .freeOpen: .retract
        default: .close
        }
    }

    mutating func settleFlaps(_ now: UInt64, _ a: inout [BarrierAction]) {
        let want = desiredFlaps
        let bufferOccupied = occupancy.isOccupied(.buffer)
        if want == .close {
            if flaps == .close {
                // Reopen when a body reaches the buffer while the flaps are still travelling.
                if bufferOccupied && now < closingUntil, let d = direction ?? lastOpen {
                    flaps = .open(d)
                    a.append(.flaps(flaps))
                }
            } else if !bufferOccupied {
                flaps = .close
                closingUntil = now + timings.flapTravel
                a.append(.flaps(.close))
            }
        } else if flaps != want {
            if case .open(let d) = want { lastOpen = d }
            flaps = want
            a.append(.flaps(want))
        }
    }

    var lastOpen: PassageDirection?

    func indicator(_ end: GateEnd) -> Indicator {
        switch state {
        case .freeOpen: return .greenArrow
        case .outOfService, .stationClosed, .alarm: return .redCross
        case .open(let d), .passing(let d), .closing(let d):
            if activeAlarm != nil { return .redCross }
            return d.origin == end ? .greenArrow : .redCross
        case .idle, .validating: return directions.permits(end) ? .greenArrow : .redCross
        }
    }

    func text(_ end: GateEnd) -> DisplayText {
        switch state {
        case .freeOpen: return .emergency
        case .outOfService: return .reason(.gateOutOfService)
        case .stationClosed: return .stationClosed
        case .alarm(let k): return .alarm(k)
        default: break
        }
        if let k = activeAlarm { return .alarm(k) }
        if let o = end == .unpaid ? override.0 : override.1 { return o }
        guard directions.permits(end) else { return .noPassage }
        switch state {
        case .validating(let e): return e == end ? .reading : .wait
        case .open(let d), .passing(let d): return d.origin == end ? .reason(openReason) : .wait
        case .closing(let d): return d.origin == end ? .ready : .wait
        default: return .ready
        }
    }

    mutating func refresh(_ now: UInt64, _ a: inout [BarrierAction]) {
        for end in GateEnd.allCases {
            let i = indicator(end), t = text(end)
            if end == .unpaid {
                if shownIndicator.0 != i { shownIndicator.0 = i; a.append(.indicator(end, i)) }
                if shownText.0 != t { shownText.0 = t; a.append(.display(end, t)) }
            } else {
                if shownIndicator.1 != i { shownIndicator.1 = i; a.append(.indicator(end, i)) }
                if shownText.1 != t { shownText.1 = t; a.append(.display(end, t)) }
            }
        }
    }
}
