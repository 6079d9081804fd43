import Dispatch
import FaregateCore
import Synchronization

/// A simulated I/O board for one passage: the inputs are scripted people and alarms injected
/// out of band, the outputs are recorded as an `Equatable` list.
///
/// Thread-safe. Two ways to use it:
/// - as a `GateIO` for the runtime: a thread blocks in `nextInput()` and gets injected inputs in
///   time order (their `at` is the simulated time they happen; the runtime ticks its clock to it);
/// - deterministically with `drive(_:until:)`, which feeds a `BarrierController` every pending
///   input and every deadline tick in time order, with no thread and no sleep.
public final class SimulatedGateIO: GateInputSource, FireAlarmInput, FlapDrive, GateSignals, @unchecked Sendable {
    // @unchecked Sendable: all mutable state is inside `state` (a Mutex); `signal` is thread-safe.
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
        var heartbeats: UInt64 = 0
        var cancelled = false
        var lastHeartbeat: UInt64 = 0
    }

    private let state = Mutex(State())
    private let signal = DispatchSemaphore(value: 0)
    /// The board's hardware watchdog time (io-board.md): without a heartbeat for this long the
    /// flaps retract by themselves.
    public let watchdogNanos: UInt64

    public init(watchdogNanos: UInt64 = 1_000_000_000) { self.watchdogNanos = watchdogNanos }

    // MARK: Out-of-band controls

    /// Queues scripted inputs (any order; they are delivered in time order).
    public func inject(_ inputs: [TimedGateInput]) {
        state.withLock { s in
            s.pending = PassageScript.merge(s.pending, inputs)
        }
        for _ in inputs { signal.signal() }
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

    /// Outputs so far, oldest first; clears the record.
    public func takeOutputs() -> [Output] {
        state.withLock { s in
            defer { s.outputs.removeAll() }
            return s.outputs
        }
    }

    public var heartbeats: UInt64 { state.withLock { $0.heartbeats } }

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
        signal.wait()
        return state.withLock { s in
            if s.cancelled || s.pending.isEmpty { return nil }
            return s.pending.removeFirst()
        }
    }

    public func cancel() {
        state.withLock { $0.cancelled = true }
        signal.signal()
    }

    public func command(_ command: FlapCommand) { record(.flaps(command)) }
    public func heartbeat() { state.withLock { $0.heartbeats += 1 } }
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
            _ = signal.wait(timeout: .now())  // keep the semaphore in step with the queue
            run(input.input.barrierEvent, input.at)
        }
        run(.tick, until)
        return out
    }
}
