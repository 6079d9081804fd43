import Dispatch
import FaregateCore
import Synchronization

/// Drives one passage's flap barrier: owns its `BarrierController`, feeds it the gate's decisions,
/// the I/O board's sensor inputs and staff commands, ticks its deadlines, performs its actions on
/// the board, and feeds the board's hardware watchdog from the same loop, so a hung controller
/// lets the board fail open (`hardware/io-board.md`).
///
/// Threads: one controller thread owns the controller: it handles the events posted to it, then
/// sleeps on a `ClockSleeper` of the injected clock until the controller's next deadline or the
/// next heartbeat (`heartbeatPeriod`), whichever is first; posting an event wakes it. So under a
/// `ManualClock` every timer of the barrier runs in simulated time. One input thread blocks in
/// `io.nextInput()`. `decided`, `staff`, `flush` and `snapshot` are safe from any thread; the owner
/// calls `start` once, then `stop` (a second `stop` does nothing).
///
/// What the lane does by itself — out of service on I/O board loss and back, free-open for the
/// fire alarm or a power loss and its end (not a staff free-open's end: staff ended it) — goes to `start`'s `laneEvents` (the daemon journals
/// it), called on the controller thread after the snapshot shows the change.
public final class BarrierDriver: Barrier, @unchecked Sendable {
    // @unchecked Sendable: `controller` and `actions` are touched by `start()` before the threads
    // exist and then only by the controller thread; `threads` only by the owner in start/stop;
    // everything shared is behind a lock, atomic or immutable after init. The inbox and status
    // are `Locked`, not `Mutex`, so the TSan suite sees their locking (see `Locked`).
    public struct Status: Sendable {
        public var state: BarrierController.State
        public var mode: GateMode
        public var directions: DirectionMode
        public var enforcement: Enforcement
        public var activeAlarm: AlarmKind?
        public var alarms: [AlarmKind: Int]
        public var passages: Int
        public var refusedTaps: Int
        /// False while the lane is out of service because its I/O board is lost.
        public var boardOnline: Bool
        /// Times the board was lost.
        public var boardLosses: Int

        /// Why the lane is out of service, when it is: `io_board_lost` (the board does not answer,
        /// or not yet with the passage clear) or `staff` (the out-of-service mode).
        public var outOfServiceReason: String? {
            guard state == .outOfService else { return nil }
            return boardOnline ? "staff" : "io_board_lost"
        }
    }

    /// The longest the controller thread sleeps between two heartbeats, in the clock's nanoseconds:
    /// the board wants one at least every 100 ms (io-board.md; its watchdog trips after about 1 s).
    public static let heartbeatPeriod: UInt64 = 100_000_000

    /// What the controller thread is sent: an event with the monotonic time it happened at (a
    /// sensor edge's stamp from the board, otherwise the time it was posted), or a `flush` waiter.
    private enum Message {
        case event(BarrierEvent, at: UInt64)
        case flushed(DispatchSemaphore)
    }

    private struct Inbox {
        var messages: [Message] = []
        /// False once the controller thread has stopped: nothing more will be handled.
        var open = true
    }

    private let io: any GateIO
    private let clock: any GateClock
    private var controller: BarrierController
    private var actions: [BarrierAction] = []
    private let inbox = Locked(Inbox())
    private let sleeper: ClockSleeper
    private let stopping = Atomic<Bool>(false)
    private let status: Locked<Status>
    private var threads: [WorkerThread] = []
    private var laneEvents: (@Sendable (LaneEvent) -> Void)?
    /// Why the flaps are held open now, as the actions said (controller thread only).
    private var freeOpenSource: EmergencySource?

    public init(
        io: any GateIO, clock: any GateClock, directions: DirectionMode,
        enforcement: Enforcement,
        timings: BarrierTimings = BarrierTimings()
    ) {
        self.io = io
        self.clock = clock
        sleeper = ClockSleeper(clock: clock)
        controller = BarrierController(directions: directions, enforcement: enforcement, timings: timings)
        status = Locked(
            Status(
                state: .idle, mode: .normal, directions: directions, enforcement: enforcement, activeAlarm: nil,
                alarms: [:], passages: 0, refusedTaps: 0, boardOnline: true,
                boardLosses: 0))
    }

    /// Starts the controller and input threads (the fire-alarm level is read first, so a gate
    /// restarted during a fire starts held open). `laneEvents` is told each change the lane makes
    /// by itself (`LaneEvent`), on the controller thread, in order.
    public func start(laneEvents: (@Sendable (LaneEvent) -> Void)? = nil) {
        self.laneEvents = laneEvents
        actions = controller.start(now: clock.monotonicNanos())
        if io.fireAlarmActive {
            controller.handle(.fireAlarm(active: true), now: clock.monotonicNanos(), into: &actions)
        }
        perform()
        threads.append(WorkerThread(name: "faregate-barrier") { [self] in controlLoop() })
        threads.append(
            WorkerThread(name: "faregate-io-input") { [self] in
                while let input = io.nextInput() { send(.event(input.input.barrierEvent, at: input.at)) }
            })
    }

    /// Stops both threads and waits for them, however far away the controller's next deadline is:
    /// the controller thread is woken, the input thread released by `io.cancel()`.
    public func stop() {
        // Releasing, paired with the loop's acquiring load: the flag publishes nothing else and the
        // sleeper's wake orders itself, so relaxed would do today; this keeps a later field set
        // before the flag visible to the exiting loop at no cost on the gate's CPUs.
        stopping.store(true, ordering: .releasing)
        io.cancel()
        sleeper.wake()
        for t in threads { t.join() }
        threads.removeAll()
    }

    // MARK: Inputs

    /// The decision for a tap at `end`: goes to the controller as it is.
    public func decided(_ decision: Decision, at end: GateEnd) { post(.decided(end, decision)) }

    /// A staff command (mode, directions, enforcement, alarm reset).
    public func staff(_ command: StaffCommand) { post(.staff(command)) }

    public var snapshot: Status { status.withLock { $0 } }

    /// The mode the controller acts in, from its state and mode as last published (see
    /// `Barrier`). Held open (fire alarm, power loss, staff) is `emergencyOpen`; otherwise a staff
    /// mode other than `normal` counts at once, even while a passage or alarm it waits for is still
    /// in progress: the decisions are then refusals, which the controller follows in any state.
    public var effectiveMode: GateMode {
        let (state, mode) = status.withLock { ($0.state, $0.mode) }
        switch state {
        case .freeOpen: return .emergencyOpen
        case .outOfService: return .outOfService
        case .stationClosed: return .closed
        default: return mode == .emergencyOpen ? .normal : mode
        }
    }

    /// Blocks until the controller thread has handled every event posted before the call, ticked
    /// at the clock's current time and performed the resulting actions (a staff tool that shows
    /// what its command did; tests). Returns at once when the driver has stopped. Call after
    /// `start()`; not from the controller thread.
    public func flush() {
        let done = DispatchSemaphore(value: 0)
        if send(.flushed(done)) { done.wait() }
    }

    private func post(_ event: BarrierEvent) { send(.event(event, at: clock.monotonicNanos())) }

    @discardableResult
    private func send(_ message: Message) -> Bool {
        let sent = inbox.withLock { box in
            if box.open { box.messages.append(message) }
            return box.open
        }
        if sent { sleeper.wake() }
        return sent
    }

    // MARK: Controller thread

    private func controlLoop() {
        var batch: [Message] = []
        var flushed: [DispatchSemaphore] = []
        // The time of the last event handled: the controller's time never goes back, though a
        // sensor edge stamped at the beam may arrive after a later decision or tick.
        var last: UInt64 = 0
        while !stopping.load(ordering: .acquiring) {
            batch.removeAll(keepingCapacity: true)
            inbox.withLock { swap(&$0.messages, &batch) }
            let now = clock.monotonicNanos()
            for message in batch {
                switch message {
                case .event(let event, let at):
                    last = min(max(at, last), now)
                    controller.handle(event, now: last, into: &actions)
                case .flushed(let done): flushed.append(done)
                }
            }
            controller.handle(.tick, now: now, into: &actions)
            last = now
            perform()
            io.heartbeat()
            for done in flushed { done.signal() }
            flushed.removeAll(keepingCapacity: true)
            // The controller's next deadline or the next heartbeat, whichever is first.
            let (heartbeat, overflow) = now.addingReportingOverflow(Self.heartbeatPeriod)
            let until = min(controller.deadline ?? .max, overflow ? .max : heartbeat)
            // A wake with nothing in the inbox is one whose post this pass already took: sleep on.
            while sleeper.sleep(until: until), !stopping.load(ordering: .acquiring),
                inbox.withLock({ $0.messages.isEmpty })
            {}
        }
        // Nothing is handled any more: release whoever waits in `flush()`, refuse later posts.
        batch.removeAll()
        inbox.withLock {
            $0.open = false
            swap(&$0.messages, &batch)
        }
        for case .flushed(let done) in batch { done.signal() }
    }

    /// Performs device actions on the board; records the rest for status, metrics and the log, and
    /// publishes the controller's state on every pass (a staff command such as `setEnforcement`
    /// changes it without any action).
    private func perform() {
        var alarms: [AlarmKind] = []
        var passages = 0
        var refused = 0
        var board: Bool?
        var events: [LaneEvent] = []
        for a in actions where !a.perform(on: io, io) {
            switch a {
            case .alarmRaised(let kind, let enforced):
                alarms.append(kind)
                Log.warning("barrier: \(kind) alarm\(enforced ? "" : " (shadow: not enforced)")")
            case .bodyEntered(_, let role) where role == .authorized: passages += 1
            case .tapRefused: refused += 1
            case .callStaff(let end, let reason): Log.info("barrier: staff called at \(end) end: \(reason.code)")
            case .modeChanged(let m): Log.info("barrier: mode \(m)")
            case .emergencyOpen(let source):
                Log.warning("barrier: emergency free-open (\(source.name))")
                // A staff emergency-open, and its end, are journalled as the staff commands they are.
                if source != .staff { events.append(.emergencyOpen(source)) }
                freeOpenSource = source
            case .emergencyEnded:
                Log.info("barrier: emergency ended")
                if freeOpenSource != .staff { events.append(.emergencyEnded) }
                freeOpenSource = nil
            case .ioBoardChanged(let online):
                board = online
                events.append(.ioBoard(online: online))
                if online {
                    Log.info("barrier: I/O board answers again and the passage is clear: back in service")
                } else {
                    Log.error("barrier: I/O board lost: lane out of service (the board's watchdog retracts the flaps)")
                }
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
            if let board {
                s.boardOnline = board
                if !board { s.boardLosses += 1 }
            }
        }
        if let laneEvents { for e in events { laneEvents(e) } }
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
