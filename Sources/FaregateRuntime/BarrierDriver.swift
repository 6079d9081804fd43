import Dispatch
import FaregateCore
import Foundation
import Synchronization

/// Drives one passage's flap barrier: owns its `BarrierController`, feeds it the gate's decisions,
/// the I/O board's sensor inputs and staff commands, ticks its deadlines, performs its actions on
/// the board, and feeds the board's hardware watchdog from the same loop, so a hung controller
/// lets the board fail open (`hardware/io-board.md`).
///
/// Threads: one controller thread owns the controller (a queue of events in, a wait bounded by
/// the controller's next deadline and the 100 ms watchdog period); one input thread blocks in
/// `io.nextInput()`. `command`, `staff` and `snapshot` are safe from any thread.
public final class BarrierDriver: Barrier, @unchecked Sendable {
    // @unchecked Sendable: `controller` and `actions` are touched only by the controller thread;
    // everything shared is in Mutexes or immutable after init.
    public struct Status: Sendable {
        public var state: BarrierController.State
        public var mode: GateMode
        public var directions: DirectionMode
        public var enforcement: Enforcement
        public var activeAlarm: AlarmKind?
        public var alarms: [AlarmKind: Int]
        public var passages: Int
        public var refusedTaps: Int
    }

    private let io: any GateIO
    private let clock: any GateClock
    private var controller: BarrierController
    private var actions: [BarrierAction] = []
    private let inbox = Mutex<[BarrierEvent]>([])
    private let wake = DispatchSemaphore(value: 0)
    private let stopping = Atomic<Bool>(false)
    private let status: Mutex<Status>
    private var threads: [DispatchSemaphore] = []

    public init(
        io: any GateIO, clock: any GateClock, directions: DirectionMode,
        enforcement: Enforcement,
        timings: BarrierTimings = BarrierTimings()
    ) {
        self.io = io
        self.clock = clock
        controller = BarrierController(directions: directions, enforcement: enforcement, timings: timings)
        status = Mutex(
            Status(
                state: .idle, mode: .normal, directions: directions, enforcement: enforcement, activeAlarm: nil,
                alarms: [:], passages: 0, refusedTaps: 0))
    }

    /// Starts the controller and input threads (the fire-alarm level is read first, so a gate
    /// restarted during a fire starts held open).
    public func start() {
        actions = controller.start(now: clock.monotonicNanos())
        if io.fireAlarmActive {
            controller.handle(.fireAlarm(active: true), now: clock.monotonicNanos(), into: &actions)
        }
        perform()
        threads.append(spawn("barrier") { [self] in controlLoop() })
        threads.append(
            spawn("io-input") { [self] in
                while let input = io.nextInput() { post(input.input.barrierEvent) }
            })
    }

    public func stop() {
        stopping.store(true, ordering: .releasing)
        io.cancel()
        wake.signal()
        for t in threads { t.wait() }
        threads.removeAll()
    }

    private func spawn(_ name: String, _ body: @escaping @Sendable () -> Void) -> DispatchSemaphore {
        let done = DispatchSemaphore(value: 0)
        let t = Thread {
            body()
            done.signal()
        }
        t.name = "faregate-\(name)"
        t.start()
        return done
    }

    // MARK: Inputs

    /// The decision for a tap at `end`: goes to the controller as it is.
    public func decided(_ decision: Decision, at end: GateEnd) { post(.decided(end, decision)) }

    /// A staff command (mode, directions, enforcement, alarm reset).
    public func staff(_ command: StaffCommand) { post(.staff(command)) }

    public var snapshot: Status { status.withLock { $0 } }

    private func post(_ event: BarrierEvent) {
        inbox.withLock { $0.append(event) }
        wake.signal()
    }

    // MARK: Controller thread

    private func controlLoop() {
        var batch: [BarrierEvent] = []
        while !stopping.load(ordering: .acquiring) {
            let now = clock.monotonicNanos()
            // Wake for the controller's next deadline or the watchdog period, whichever is first.
            let watchdogPeriod: UInt64 = 100_000_000
            let until = min(controller.deadline ?? (now + watchdogPeriod), now + watchdogPeriod)
            if until > now { _ = wake.wait(timeout: .now() + .nanoseconds(Int(until - now))) }
            batch.removeAll(keepingCapacity: true)
            inbox.withLock { swap(&$0, &batch) }
            let t = clock.monotonicNanos()
            for e in batch { controller.handle(e, now: t, into: &actions) }
            controller.handle(.tick, now: t, into: &actions)
            perform()
            io.heartbeat()
        }
    }

    /// Performs device actions on the board; records the rest for status, metrics and the log.
    private func perform() {
        guard !actions.isEmpty else { return }
        var alarms: [AlarmKind] = []
        var passages = 0
        var refused = 0
        for a in actions where !a.perform(on: io, io) {
            switch a {
            case .alarmRaised(let kind, let enforced):
                alarms.append(kind)
                Log.warning("barrier: \(kind) alarm\(enforced ? "" : " (shadow: not enforced)")")
            case .bodyEntered(_, let role) where role == .authorized: passages += 1
            case .tapRefused: refused += 1
            case .callStaff(let end, let reason): Log.info("barrier: staff called at \(end) end: \(reason.code)")
            case .modeChanged(let m): Log.info("barrier: mode \(m)")
            case .emergencyOpen(let source): Log.warning("barrier: emergency free-open (\(source))")
            case .emergencyEnded: Log.info("barrier: emergency ended")
            case .staffCommandRefused(let c): Log.warning("barrier: staff command refused now: \(c)")
            default: break
            }
        }
        actions.removeAll(keepingCapacity: true)
        let c = controller
        status.withLock { s in
            s.state = c.state
            s.mode = c.mode
            s.directions = c.directions
            s.enforcement = c.enforcement
            s.activeAlarm = c.activeAlarm
            for k in alarms { s.alarms[k, default: 0] += 1 }
            s.passages += passages
            s.refusedTaps += refused
        }
    }
}

extension BarrierController.State {
    /// A short name for status reports.
    public var name: String {
        switch self {
        case .idle: "idle"
        case .validating: "validating"
        case .open: "open"
        case .passing: "passing"
        case .closing: "closing"
        case .alarm(let k): "alarm:\(k)"
        case .freeOpen(let s): "free_open:\(s)"
        case .outOfService: "out_of_service"
        case .stationClosed: "closed"
        }
    }
}
