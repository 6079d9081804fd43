import Dispatch
import FaregateCore
import Foundation

/// A passage's I/O board over Modbus RTU or TCP (libmodbus), as the lane protocols the barrier
/// driver uses (`GateInputSource`, `FireAlarmInput`, `FlapDrive`, `GateSignals`), with the signals
/// where the register map (`IOBoardMap`) says.
///
/// Threads: one I/O thread owns the libmodbus context. It reads the discrete inputs every
/// `pollInterval` (default 5 ms) and hands each change on as an edge stamped with the monotonic
/// time the read was sent; it writes the coils that changed as soon as a command arrives (a
/// command wakes it); it writes the heartbeat only when the controller has called `heartbeat()`
/// since the last one, so a hung controller stops the board's heartbeat and its watchdog retracts
/// the flaps. Failed transactions go through `IOBoardLink`: counted by kind, the lane out of
/// service after too many in a row (an `.ioBoard(online: false)` input), reconnects with backoff,
/// back in service once the board answers and the passage reads clear.
///
/// Displays are not on the board (they hang off the host); the adapter keeps the last text of each
/// end (`displayed(_:)`). Every method is thread-safe; commands never block on the board.
public final class ModbusGateIO: GateInputSource, FireAlarmInput, FlapDrive, GateSignals, IOBoardMonitor,
    @unchecked Sendable
{
    // @unchecked Sendable: what threads share is in `shared` (a lock); `context`, `link` and the
    // loop's bookkeeping are touched only by the I/O thread; the rest is immutable after init.
    public struct Settings: Sendable, Hashable {
        public var endpoint: ModbusEndpoint
        public var map: IOBoardMap
        public var pollIntervalNanos: UInt64 = 5_000_000
        public var responseTimeoutNanos: UInt64 = 50_000_000
        public var link = IOBoardLink.Settings()
        public init(endpoint: ModbusEndpoint, map: IOBoardMap) {
            self.endpoint = endpoint
            self.map = map
        }
    }

    private struct Shared {
        var queue: [TimedGateInput] = []
        var head = 0
        /// `cancel()`: `nextInput()` returns nil from now on.
        var cancelled = false
        /// `stop()`: the I/O thread ends.
        var stopping = false
        var outputs = IOBoardOutputs()
        var buzzer = BuzzerTimeline()
        /// Heartbeats the controller gave.
        var fed: UInt64 = 0
        var displays: [GateEnd: DisplayText] = [:]
        var levels = IOBoardLevels()
        var inService = true
        var counters = IOBoardCounters()
        var firstPassDone = false
    }

    public let settings: Settings
    private let clock: any GateClock
    private let shared = Locked(Shared())
    private let inputReady = DispatchSemaphore(value: 0)
    private let firstPass = DispatchSemaphore(value: 0)
    private let ioDone = DispatchSemaphore(value: 0)
    private let sleeper: ClockSleeper
    private let log: @Sendable (String) -> Void
    private var started = false

    /// A board at `settings.endpoint`. Nothing is opened before `start()`.
    public init(settings: Settings, clock: any GateClock, log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.settings = settings
        self.clock = clock
        self.log = log
        sleeper = ClockSleeper(clock: clock)
    }

    /// Starts the I/O thread and waits for its first connection attempt and read (bounded by the
    /// response timeout), so `fireAlarmActive` reflects the board when the barrier starts. A
    /// board that does not answer leaves the lane out of service (its first input) and is retried
    /// with backoff. Throws only when the context cannot be created (a bad endpoint).
    public func start() throws(ModbusError) {
        precondition(!started, "ModbusGateIO.start() called twice")
        started = true
        let context = try ModbusContext(settings.endpoint)
        try context.setResponseTimeout(nanos: settings.responseTimeoutNanos)
        let owned = ContextHandOff(context)
        let thread = Thread { [self] in
            ioLoop(owned.context)
            ioDone.signal()
        }
        thread.name = "faregate-modbus-io"
        thread.start()
        firstPass.wait()
    }

    /// Stops the I/O thread and waits for it (the board's watchdog then retracts the flaps, as
    /// for any controller that stops); `nextInput()` returns nil from then on.
    public func stop() {
        cancel()
        shared.withLock { $0.stopping = true }
        sleeper.wake()
        if started {
            ioDone.wait()
            started = false
        }
    }

    // MARK: Status

    public var boardInService: Bool { shared.withLock { $0.inService } }
    public var boardCounters: IOBoardCounters { shared.withLock { $0.counters } }
    /// The last levels read from the board.
    public var levels: IOBoardLevels { shared.withLock { $0.levels } }
    /// The text last shown at `end` (the displays are the host's, not the board's).
    public func displayed(_ end: GateEnd) -> DisplayText? { shared.withLock { $0.displays[end] } }

    // MARK: GateIO

    public var fireAlarmActive: Bool { shared.withLock { $0.levels.fireAlarm } }

    public func nextInput() -> TimedGateInput? {
        while true {
            let next: TimedGateInput?? = shared.withLock { s in
                if s.cancelled { return .some(nil) }
                guard s.head < s.queue.count else { return nil }
                defer {
                    s.head += 1
                    if s.head == s.queue.count {
                        s.queue.removeAll(keepingCapacity: true)
                        s.head = 0
                    }
                }
                return s.queue[s.head]
            }
            if let next { return next }
            inputReady.wait()
        }
    }

    /// Makes `nextInput()` return nil (the barrier's input thread ends); the I/O thread goes on
    /// polling and writing until `stop()`, so a barrier stopped alone stops only the heartbeat.
    public func cancel() {
        shared.withLock { $0.cancelled = true }
        inputReady.signal()
    }

    public func command(_ command: FlapCommand) { change { $0.outputs.flaps = command } }

    /// Counts a heartbeat; the I/O thread writes the next heartbeat value only if one came since
    /// the last write (at most every `heartbeat.interval_ms` of the map).
    public func heartbeat() { shared.withLock { $0.fed &+= 1 } }

    public func indicator(_ end: GateEnd, _ indicator: Indicator) { change { $0.outputs[end] = indicator } }
    public func display(_ end: GateEnd, _ text: DisplayText) { shared.withLock { $0.displays[end] = text } }
    public func buzzer(_ pattern: BuzzerPattern) {
        let now = clock.monotonicNanos()
        change { $0.buzzer = BuzzerTimeline(pattern, start: now) }
    }

    private func change(_ body: (inout Shared) -> Void) {
        shared.withLock(body)
        sleeper.wake()
    }

    // MARK: I/O thread

    /// The I/O thread's bookkeeping of what the board holds.
    private struct Board {
        var link: IOBoardLink
        /// Coil values the board is known to hold (cleared on a new connection).
        var written: [UInt16: Bool] = [:]
        var heartbeatValue: UInt16 = 0
        var fedWritten: UInt64 = 0
        var heartbeatAt: UInt64 = 0
        /// False from a new connection until its first heartbeat: the outputs wait for it, so a
        /// board whose watchdog tripped sees a live heartbeat before the explicit close.
        var heartbeatSent = false
        var nextPoll: UInt64 = 0
    }

    private func ioLoop(_ context: ModbusContext) {
        var board = Board(link: IOBoardLink(settings: settings.link))
        let map = settings.map
        let interval = UInt64(map.heartbeatIntervalMillis) * 1_000_000
        let span = map.inputSpan
        while !shared.withLock({ $0.stopping }) {
            var now = clock.monotonicNanos()
            if !board.link.connected {
                if now < board.link.nextAttempt {
                    sleeper.sleep(until: board.link.nextAttempt)
                    continue
                }
                do {
                    try context.connect()
                    context.flush()
                    perform(board.link.connected(now: now), &board)
                    log("I/O board \(settings.endpoint): connected")
                } catch {
                    context.close()
                    perform(board.link.connectFailed(error.failure, now: now), &board)
                    log("I/O board: \(error); next attempt in \((board.link.nextAttempt &- now) / 1_000_000) ms")
                    firstPassDone()
                    continue
                }
            }
            let (fed, desired, buzzerNext) = shared.withLock { s -> (UInt64, IOBoardOutputs, UInt64?) in
                var o = s.outputs
                o.buzzer = s.buzzer.level(at: now)
                return (s.fed, o, s.buzzer.nextChange(after: now))
            }
            do {
                // 1. The heartbeat, when the controller fed it since the last write.
                if fed != board.fedWritten && now >= board.heartbeatAt &+ interval {
                    // On a new connection, start from what the board holds: a write that changes
                    // nothing (a lost write left the same value) would not count as a heartbeat.
                    if !board.heartbeatSent {
                        switch map.heartbeat {
                        case .coil(let a): board.heartbeatValue = try context.readCoils(a, count: 1)[0] ? 1 : 0
                        case .register(let a): board.heartbeatValue = try context.readRegister(a)
                        }
                    }
                    let next = board.heartbeatValue &+ 1
                    switch map.heartbeat {
                    case .coil(let a): try context.writeCoils(a, [next & 1 == 1])
                    case .register(let a): try context.writeRegister(a, next)
                    }
                    board.heartbeatValue = next
                    board.fedWritten = fed
                    board.heartbeatAt = now
                    board.heartbeatSent = true
                }
                // 2. The outputs that changed, in runs of consecutive coils.
                if board.heartbeatSent {
                    let changed = map.coilValues(for: desired).filter { board.written[$0.address] != $0.value }
                        .sorted { $0.address < $1.address }
                    var i = 0
                    while i < changed.count {
                        var j = i + 1
                        while j < changed.count && changed[j].address == changed[j - 1].address + 1 { j += 1 }
                        try context.writeCoils(changed[i].address, changed[i..<j].map(\.value))
                        for c in changed[i..<j] { board.written[c.address] = c.value }
                        i = j
                    }
                }
                // 3. The inputs, stamped with the time the read was sent.
                now = clock.monotonicNanos()
                if now >= board.nextPoll {
                    let bits = try context.readDiscreteInputs(span.lowerBound, count: span.count)
                    let read = map.levels { bits[Int($0 - span.lowerBound)] }
                    board.nextPoll = now + settings.pollIntervalNanos
                    perform(board.link.polled(read, now: now), &board, stamp: now)
                    shared.withLock { $0.levels = read }
                    firstPassDone()
                }
            } catch {
                let actions = board.link.failed(error.failure, now: now)
                if actions.contains(.disconnect) {
                    log("I/O board: \(error); disconnecting")
                }
                perform(actions, &board, stamp: now)
                // A late answer to the failed request must not be taken for the next one's.
                if board.link.connected { context.flush() } else { context.close() }
                board.nextPoll = now + settings.pollIntervalNanos
                firstPassDone()
            }
            var until = board.nextPoll
            if let b = buzzerNext { until = min(until, b) }
            sleeper.sleep(until: until)
        }
        context.close()
        firstPassDone()
    }

    private func firstPassDone() {
        let first = shared.withLock { s in
            defer { s.firstPassDone = true }
            return !s.firstPassDone
        }
        if first { firstPass.signal() }
    }

    private func perform(_ actions: [IOBoardLink.Action], _ board: inout Board, stamp: UInt64? = nil) {
        let at = stamp ?? clock.monotonicNanos()
        var inputs: [TimedGateInput] = []
        for a in actions {
            switch a {
            case .deliver(let input): inputs.append(TimedGateInput(at: at, input))
            case .disconnect: break  // the loop closes the context
            case .rewriteOutputs:
                board.written = [:]
                board.heartbeatSent = false
                board.heartbeatAt = 0
            }
        }
        let link = board.link
        shared.withLock { s in
            s.queue.append(contentsOf: inputs)
            s.inService = link.inService
            s.counters = link.counters
        }
        for _ in inputs { inputReady.signal() }
    }
}

/// Hands the context to the I/O thread. @unchecked Sendable: the starting thread drops its
/// reference when `start()` returns and never touches the context again; only the I/O thread does.
private final class ContextHandOff: @unchecked Sendable {
    let context: ModbusContext
    init(_ context: ModbusContext) { self.context = context }
}
