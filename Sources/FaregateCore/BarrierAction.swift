/// A side effect the caller performs for the barrier controller, in order.
public enum BarrierAction: Hashable, Sendable {
    case flaps(FlapCommand)
    case indicator(GateEnd, Indicator)
    case display(GateEnd, DisplayText)
    case buzzer(BuzzerPattern)
    /// A passage violation; `enforced` is false in shadow enforcement (log only).
    case alarmRaised(AlarmKind, enforced: Bool)
    case alarmCleared(AlarmKind)
    /// A body entered the passage in the direction in use.
    case bodyEntered(PassageDirection, BodyRole)
    /// An opening nobody used was cancelled (the rider's tap is spent).
    case openingCancelled(PassageDirection)
    /// A staff decision: call staff to the gate at `end`.
    case callStaff(GateEnd, Reason)
    /// A decision arrived that the barrier cannot act on (mode, direction or the other end in use).
    case tapRefused(GateEnd, DisplayText)
    case modeChanged(GateMode)
    case emergencyOpen(EmergencySource)
    case emergencyEnded
    /// The lane went out of service because its I/O board was lost (`online: false`), or came back
    /// (`true`).
    case ioBoardChanged(online: Bool)
    /// A staff command that the controller refused (setting a mode while the fire alarm is active).
    case staffCommandRefused(StaffCommand)
}

/// What the flap drive is told.
public enum FlapCommand: Hashable, Sendable {
    /// Swing open away from a rider travelling in `direction`.
    case open(PassageDirection)
    case close
    /// Retract fully and hold (emergency free-open); the board's fail-open state.
    case retract
}

/// The lamp at one end of the passage.
public enum Indicator: UInt8, Hashable, Sendable {
    case off, greenArrow, redCross
}

/// Buzzer patterns.
public enum BuzzerPattern: UInt8, Hashable, Sendable {
    case off
    /// One short chirp: accepted.
    case accept
    /// Two short beeps: refused.
    case deny
    /// Continuous until `.off`: alarm.
    case alarm
}

/// Text on an end's display, in Chinese and English.
public enum DisplayText: Hashable, Sendable {
    case ready
    case reading
    case reason(Reason)
    /// The other end is in use (bidirectional gate).
    case wait
    /// This end does not serve passage (direction mode).
    case noPassage
    case emergency
    case stationClosed
    case alarm(AlarmKind)

    public var zh: String {
        switch self {
        case .ready: "请刷卡"
        case .reading: "正在读卡"
        case .reason(let r): r.messageZH
        case .wait: "请稍候"
        case .noPassage: "此方向禁止通行"
        case .emergency: "紧急疏散，闸机已打开"
        case .stationClosed: "本站已关闭"
        case .alarm(.closeTailgating), .alarm(.tailgating): "请勿尾随，一人一票"
        case .alarm(.reverseIntrusion): "请勿逆行"
        case .alarm(.enteredWithoutTap): "请先刷卡"
        }
    }

    public var en: String {
        switch self {
        case .ready: "Please tap"
        case .reading: "Reading"
        case .reason(let r): r.messageEN
        case .wait: "Please wait"
        case .noPassage: "No passage this way"
        case .emergency: "Emergency: gates open"
        case .stationClosed: "Station closed"
        case .alarm(.closeTailgating), .alarm(.tailgating): "One rider per tap: do not follow"
        case .alarm(.reverseIntrusion): "Wrong way"
        case .alarm(.enteredWithoutTap): "Please tap first"
        }
    }
}
