import Dispatch
import FaregateCore

/// A simulated I/O board for one passage: the inputs are scripted people and alarms injected
/// out of band, the outputs are recorded as an `Equatable` list.
///
/// Thread-safe. Two ways to use it:
/// - as a `GateIO` for the runtime: a thread blocks in `nextInput()` and gets each injected input
///   when the board's clock reaches its `at`, as a real board reports an edge when the beam
///   changes, stamped with that time (io-board.md). Under a `ManualClock` inputs happen only as the
///   test advances it; with no clock every input is delivered at once, in time order. Heartbeats
///   are stamped with the clock, so `watchdogExpired(now:)` tells whether the runtime fed the board;
/// - deterministically with `drive(_:until:)`, which feeds a `BarrierController` every pending
///   input and every deadline tick in time order, with no thread and no sleep.
public final class SimulatedGateIO: GateInputSource, FireAlarmInput, FlapDrive, GateSignals, IOBoardMonitor,
    @unchecked Sendable
{
    // @unchecked Sendable: all mutable state is inside `state` (behind a lock); the clock, the
    // sleeper and the semaphore are thread-safe.
    /// What the board was told, in order.
    public enum Output: Hashable, Sendable {
        case flaps(FlapCommand)
        case indicator(GateEnd, Indicator)
        case display(GateEnd, DisplayText)
        case buzzer(BuzzerPattern)
    }

    private struct State {
        var pending: [TimedGateInput] = []
        var outputs: [Output] = []
        var fire = false
        var boardOnline = true
        var boardCounters = IOBoardCounters()
        var heartbeats: UInt64 = 0
        var cancelled = false
        var lastHeartbeat: UInt64 = 0
        /// Counts `inject` calls.
        var injections = 0
        /// While a thread is in `nextInput()` with nothing due: the injections it has seen
        /// (`waitUntilDelivered`); nil while it is away handing an input on.
        var takerWaitingAt: Int?
    }

    /// `Locked`, not `Mutex`: the barrier's ThreadSanitizer suite runs on this board.
    private let state = Locked(State())
    /// The clock inputs follow and heartbeats are stamped with; nil: inputs are due at once.
    private let clock: (any GateClock)?
    /// `nextInput()` sleeps on it until the next input is due; `inject` and `cancel` wake it.
    private let sleeper: ClockSleeper
    /// Signalled each time the taker goes back to waiting (`waitUntilDelivered`).
    private let takerBackToWait = DispatchSemaphore(value: 0)
    /// The board's hardware watchdog time (io-board.md): without a heartbeat for this long the
    /// flaps retract by themselves.
    public let watchdogNanos: UInt64

    /// A board whose inputs happen on `clock` (nil: each input is delivered as soon as it is
    /// queued, its `at` giving only the order and the stamp).
    public init(watchdogNanos: UInt64 = 1_000_000_000, clock: (any GateClock)? = nil) {
        self.watchdogNanos = watchdogNanos
        self.clock = clock
        sleeper = ClockSleeper(clock: clock ?? EndOfTime())
    }

    // MARK: Out-of-band controls

    /// Queues scripted inputs (any order; they are delivered in time order).
    public func inject(_ inputs: [TimedGateInput]) {
        state.withLock { s in
            s.pending = PassageScript.merge(s.pending, inputs)
            s.injections += 1
        }
        sleeper.wake()
    }

    /// A person walking through in `direction`.
    public func personWalks(_ direction: PassageDirection, at t: UInt64) {
        inject(PassageScript.walk(direction, start: t))
    }

    /// A person followed by a tailgater `gap` nanoseconds behind.
    public func tailgater(_ direction: PassageDirection, at t: UInt64, gap: UInt64) {
        inject(PassageScript.pair(direction, start: t, gap: gap))
    }

    /// A child walking in front of an adult (one tap for both).
    public func childThenAdult(_ direction: PassageDirection, at t: UInt64, gap: UInt64 = 200_000_000) {
        inject(PassageScript.pair(direction, start: t, gap: gap, first: .child, second: .adult))
    }

    /// Someone walking in against `direction` (from its destination end).
    public func reverseIntruder(against direction: PassageDirection, at t: UInt64) {
        inject(PassageScript.approachAndRetreat(direction == .entry ? .exit : .entry, start: t, intoBuffer: true))
    }

    /// The station's fire-alarm contact.
    public func fireAlarm(_ active: Bool, at t: UInt64) {
        state.withLock { $0.fire = active }
        inject([TimedGateInput(at: t, .fireAlarm(active: active))])
    }

    /// The UPS power-fail contact.
    public func powerFailure(_ active: Bool, at t: UInt64) {
        inject([TimedGateInput(at: t, .powerFailure(active: active))])
    }

    /// The board link lost (`online: false`, as a real adapter reports after too many failed
    /// polls) or back with the passage clear (`true`).
    public func ioBoard(online: Bool, at t: UInt64) {
        state.withLock { s in
            if !online && s.boardOnline { s.boardCounters.losses += 1 }
            s.boardOnline = online
        }
        inject([TimedGateInput(at: t, .ioBoard(online: online))])
    }

    public var boardInService: Bool { state.withLock { $0.boardOnline } }
    public var boardCounters: IOBoardCounters { state.withLock { $0.boardCounters } }

    /// Outputs so far, oldest first; clears the record.
    public func takeOutputs() -> [Output] {
        state.withLock { s in
            defer { s.outputs.removeAll() }
            return s.outputs
        }
    }

    public var heartbeats: UInt64 { state.withLock { $0.heartbeats } }

    /// The clock's time at the last heartbeat (0 before the first, or on a board without a clock).
    public var lastHeartbeat: UInt64 { state.withLock { $0.lastHeartbeat } }

    /// Blocks until every input due by the clock has been taken by `nextInput()` and the taking
    /// thread is back in `nextInput()` waiting for the next one, having seen every `inject` (so a
    /// runtime that hands each input on before asking for the next has every input that has
    /// happened), or until `timeoutSeconds` of host time passed (a safety net for a broken test,
    /// not a timing). Returns whether it got there.
    @discardableResult
    public func waitUntilDelivered(timeoutSeconds: Double = 10) -> Bool {
        let deadline = DispatchTime.now() + timeoutSeconds
        while true {
            let now = clock?.monotonicNanos() ?? .max
            let done = state.withLock { s in
                s.cancelled || (s.takerWaitingAt == s.injections && (s.pending.first.map { $0.at > now } ?? true))
            }
            if done { return true }
            if takerBackToWait.wait(timeout: deadline) == .timedOut { return false }
        }
    }

    /// Whether the board's watchdog would have retracted the flaps at `now` (no heartbeat within
    /// `watchdogNanos`): the fail-open the real board does in hardware.
    public func watchdogExpired(now: UInt64) -> Bool {
        state.withLock { now > $0.lastHeartbeat + watchdogNanos }
    }

    /// Records a heartbeat at simulated time `now` (the `FlapDrive.heartbeat()` has no time).
    public func heartbeat(at now: UInt64) {
        state.withLock {
            $0.heartbeats += 1
            $0.lastHeartbeat = now
        }
    }

    // MARK: GateIO

    public var fireAlarmActive: Bool { state.withLock { $0.fire } }

    public func nextInput() -> TimedGateInput? {
        enum Next {
            case input(TimedGateInput?)
            case wait(until: UInt64?)
        }
        while true {
            let now = clock?.monotonicNanos() ?? .max
            let next = state.withLock { s -> Next in
                if s.cancelled { return .input(nil) }
                if let first = s.pending.first, first.at <= now {
                    s.takerWaitingAt = nil
                    return .input(s.pending.removeFirst())
                }
                s.takerWaitingAt = s.injections
                return .wait(until: s.pending.first?.at)
            }
            switch next {
            case .input(let input): return input
            case .wait(let deadline):
                takerBackToWait.signal()
                // Until the first pending input is due; a new input or `cancel()` wakes it sooner.
                sleeper.sleep(until: deadline)
            }
        }
    }

    public func cancel() {
        state.withLock { $0.cancelled = true }
        sleeper.wake()
    }

    public func command(_ command: FlapCommand) { record(.flaps(command)) }
    public func heartbeat() {
        let now = clock?.monotonicNanos()
        state.withLock {
            $0.heartbeats += 1
            if let now { $0.lastHeartbeat = now }
        }
    }
    public func indicator(_ end: GateEnd, _ indicator: Indicator) { record(.indicator(end, indicator)) }
    public func display(_ end: GateEnd, _ text: DisplayText) { record(.display(end, text)) }
    public func buzzer(_ pattern: BuzzerPattern) { record(.buzzer(pattern)) }

    private func record(_ o: Output) { state.withLock { $0.outputs.append(o) } }

    // MARK: Deterministic driving

    /// An action with the simulated time it was produced at.
    public struct TimedAction: Hashable, Sendable {
        public var at: UInt64
        public var action: BarrierAction
    }

    /// Feeds `controller` every pending input with `at <= until`, and a `.tick` at every deadline
    /// that falls before the next input, in time order; performs device actions on this board and
    /// returns all actions. Ends with a tick at `until`. Pending inputs after `until` stay queued.
    public func drive(_ controller: inout BarrierController, until: UInt64) -> [TimedAction] {
        var out: [TimedAction] = []
        var buffer: [BarrierAction] = []
        func run(_ e: BarrierEvent, _ t: UInt64) {
            buffer.removeAll(keepingCapacity: true)
            controller.handle(e, now: t, into: &buffer)
            heartbeat(at: t)
            for a in buffer {
                a.perform(on: self, self)
                out.append(TimedAction(at: t, action: a))
            }
        }
        while true {
            let next: TimedGateInput? = state.withLock { s in
                guard let f = s.pending.first, f.at <= until else { return nil }
                return f
            }
            let horizon = next?.at ?? until
            while let d = controller.deadline, d <= horizon {
                run(.tick, d)
            }
            guard let input = next else { break }
            _ = state.withLock { $0.pending.removeFirst() }
            run(input.input.barrierEvent, input.at)
        }
        run(.tick, until)
        return out
    }
}

/// The clock of a board with no clock: it always reads the end of time, so every queued input is
/// due, and a sleep has no deadline to reach (it ends when woken).
private struct EndOfTime: GateClock {
    func monotonicNanos() -> UInt64 { .max }
    func wallMillis() -> Int64 { .max }
}
