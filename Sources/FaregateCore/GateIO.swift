/// One input from the gate's I/O board: passage sensors, the fire-alarm line, the UPS line.
public enum GateInput: Hashable, Sendable {
    case sensor(SensorZone, SensorReading)
    case fireAlarm(active: Bool)
    case powerFailure(active: Bool)
    /// The board adapter lost the board (`online: false`: too many failed polls, unreachable) or
    /// has it back with every zone clear (`online: true`). Not a wire of the board: the adapter's
    /// own report (`IOBoardLink`).
    case ioBoard(online: Bool)

    /// The event the barrier controller handles for this input.
    public var barrierEvent: BarrierEvent {
        switch self {
        case .sensor(let z, let r): .sensor(z, r)
        case .fireAlarm(let a): .fireAlarm(active: a)
        case .powerFailure(let a): .powerFailure(active: a)
        case .ioBoard(let online): .ioBoard(online: online)
        }
    }
}

/// An input with the monotonic nanoseconds it happened at.
public struct TimedGateInput: Hashable, Sendable {
    public var at: UInt64
    public var input: GateInput
    public init(at: UInt64, _ input: GateInput) {
        self.at = at
        self.input = input
    }
}

/// The input side of the I/O board: passage sensor zones (with the low child beams), the fire-alarm
/// contact and the UPS power-fail contact, as edge events.
///
/// `nextInput()` blocks its one dedicated thread until an input changes and returns it stamped with
/// the board's (or the host's) monotonic time; `cancel()` from any thread makes it return nil.
/// Implementations: `SimulatedGateIO`; a real board adapter (serial/GPIO) per `hardware/io-board.md`.
public protocol GateInputSource: AnyObject, Sendable {
    func nextInput() -> TimedGateInput?
    func cancel()
}

/// The fire-alarm input as a level, read once at start-up so a controller restarted during a fire
/// starts in free-open (edges then arrive through `GateInputSource`).
public protocol FireAlarmInput: AnyObject, Sendable {
    var fireAlarmActive: Bool { get }
}

/// The flap drive. Commands must not block (they are written to the board).
///
/// `heartbeat()` feeds the board's hardware watchdog: the runtime calls it on every controller tick
/// (at least every 100 ms); when it stops for longer than the board's watchdog time the board
/// retracts the flaps by itself (fail-open, `hardware/io-board.md`).
public protocol FlapDrive: AnyObject, Sendable {
    func command(_ command: FlapCommand)
    func heartbeat()
}

/// Indicators, displays and buzzer of both ends. Must not block.
public protocol GateSignals: AnyObject, Sendable {
    func indicator(_ end: GateEnd, _ indicator: Indicator)
    func display(_ end: GateEnd, _ text: DisplayText)
    func buzzer(_ pattern: BuzzerPattern)
}

/// Everything a passage's I/O board provides.
public typealias GateIO = GateInputSource & FireAlarmInput & FlapDrive & GateSignals

extension BarrierAction {
    /// Performs the device part of this action (flaps, indicators, displays, buzzer); true when it
    /// was one. The other actions (alarms, bodies, refusals, staff calls) are for the journal,
    /// metrics and the control socket and are the caller's to record.
    @discardableResult
    public func perform(on flaps: some FlapDrive, _ signals: some GateSignals) -> Bool {
        switch self {
        case .flaps(let c): flaps.command(c)
        case .indicator(let e, let i): signals.indicator(e, i)
        case .display(let e, let t): signals.display(e, t)
        case .buzzer(let p): signals.buzzer(p)
        default: return false
        }
        return true
    }
}
