import CFaregateLinux
import Dispatch
import FaregateCore
import Foundation
import Glibc

/// A passage's I/O board emulated over the real protocol: a libmodbus server (RTU on a
/// pseudo-terminal, or TCP) holding the coils and discrete inputs of an `IOBoardMap`, with the
/// board's own behaviour:
///
/// - the **watchdog**: no new heartbeat value for the map's `watchdog_ms` and the flaps retract,
///   whatever the coils command; the board starts that way (no controller yet) and stays so until
///   a live heartbeat is followed by a write to the flap coils (io-board.md);
/// - the **fire contact** wired to the flap-hold relay: an active fire alarm retracts the flaps too;
/// - **passage scripts**: sensor edges at given times, or following the flaps (a rider who walks
///   through when the flaps open toward them).
///
/// Out-of-band controls (`set`, `play`, `whenFlapsOpen`, `setAnswering`) are for tests, the
/// benchmark and `farectl board emulate`; `snapshot`, `takeEvents` and `wait(for:)` observe it.
/// Thread-safe. Threads: one serves requests (woken by `poll` on its descriptors and a pipe), one
/// runs the watchdog and the scripts on a `ClockSleeper` of the clock.
public final class ModbusBoardEmulator: @unchecked Sendable {
    // @unchecked Sendable: `state` and `mapping` are only touched under `lock`; the server's
    // context and descriptors only by the server thread (and by init/start before it runs).
    public enum Transport: Sendable, Hashable {
        /// A new pseudo-terminal; `link` (if given) becomes a symlink to its slave.
        case rtu(link: String?, slave: Int)
        /// A TCP listener (port 0: any free port, see `port`).
        case tcp(host: String, port: Int)
    }

    /// What the board shows now.
    public struct Snapshot: Hashable, Sendable {
        /// What the coils command.
        public var commanded = IOBoardOutputs()
        /// What the flaps do: the command, or `.retract` when the watchdog tripped or the fire
        /// contact is open.
        public var flaps: FlapCommand = .retract
        public var watchdogTripped = true
        /// Heartbeat values seen (changes of the heartbeat coil or register).
        public var heartbeats: UInt64 = 0
        public var levels = IOBoardLevels()
        /// Requests answered.
        public var requests: UInt64 = 0
        public var answering = true
    }

    public enum Event: Hashable, Sendable {
        /// The flaps' actual motion changed (`Snapshot.flaps`).
        case flaps(FlapCommand)
        /// The coils now command these outputs.
        case commanded(IOBoardOutputs)
        case watchdog(tripped: Bool)
    }

    public struct TimedEvent: Hashable, Sendable {
        public var at: UInt64
        public var event: Event
    }

    private struct State {
        var snapshot = Snapshot()
        var heartbeatValue: UInt32 = .max
        var heartbeatAt: UInt64 = 0
        var events: [TimedEvent] = []
        var scheduled: [TimedGateInput] = []
        var triggers: [(direction: PassageDirection, script: [TimedGateInput])] = []
        var stopping = false
    }

    public let map: IOBoardMap
    public let transport: Transport
    private let clock: any GateClock
    private let lock = NSLock()
    private var state = State()
    private let mapping: ModbusMapping
    private let context: ModbusContext
    private var pty: PseudoTerminal?
    private var listening: Int32 = -1
    private var wakePipe: (read: Int32, write: Int32) = (-1, -1)
    private let sleeper: ClockSleeper
    private let changed = DispatchSemaphore(value: 0)
    private var waiters = 0
    private let threadsDone = DispatchSemaphore(value: 0)
    private var started = false
    /// The TCP port listened on (the one chosen when asked for port 0); 0 for RTU.
    public private(set) var port = 0

    /// A board for `map` on `transport`. Opens the pseudo-terminal or the listening socket now, so
    /// a gate can be pointed at it as soon as this returns.
    public init(map: IOBoardMap, transport: Transport, clock: any GateClock) throws(ModbusError) {
        self.map = map
        self.transport = transport
        self.clock = clock
        sleeper = ClockSleeper(clock: clock)
        var coils = Int(map.coilSpan.upperBound) + 1
        if case .coil(let c) = map.heartbeat { coils = max(coils, Int(c) + 1) }
        var registers = 1
        if case .register(let r) = map.heartbeat { registers = Int(r) + 1 }
        mapping = try ModbusMapping(coils: coils, inputs: Int(map.inputSpan.upperBound) + 1, registers: registers)
        switch transport {
        case .rtu(let link, let slave):
            let p = try PseudoTerminal(link: link)
            pty = p
            context = try ModbusContext(
                .rtu(device: p.slavePath, baud: 115200, parity: .none, dataBits: 8, stopBits: 1, slave: slave))
            context.setSocket(p.master)
        case .tcp(let host, let port):
            context = try ModbusContext(.tcp(host: host, port: port, unit: 255))
            listening = try context.listen(backlog: 4)
            self.port = Self.boundPort(listening) ?? port
        }
        var fds: [Int32] = [-1, -1]
        guard CFaregateLinux_pipe_nonblocking(&fds) == 0 else { throw .last("create the emulator's wake pipe") }
        wakePipe = (fds[0], fds[1])
        // Every input at rest: beams made, contacts closed.
        for (a, v) in map.inputBits(for: IOBoardLevels()) { mapping.setInput(a, v) }
    }

    deinit {
        // The context must not close the descriptor it was last pointed at: the pty master is the
        // PseudoTerminal's, the connections are closed by the server thread.
        context.setSocket(-1)
        if listening >= 0 { Glibc.close(listening) }
        if wakePipe.read >= 0 {
            Glibc.close(wakePipe.read)
            Glibc.close(wakePipe.write)
        }
    }

    /// The serial device a gate opens (the symlink if one was asked for); nil for TCP.
    public var device: String? { pty.map { $0.link ?? $0.slavePath } }

    /// Starts the server and the watchdog threads.
    public func start() {
        precondition(!started, "ModbusBoardEmulator.start() called twice")
        started = true
        let server = Thread { [self] in
            serve()
            threadsDone.signal()
        }
        server.name = "faregate-board-server"
        server.start()
        let logic = Thread { [self] in
            runLogic()
            threadsDone.signal()
        }
        logic.name = "faregate-board-logic"
        logic.start()
    }

    /// Stops both threads and waits for them.
    public func stop() {
        locked { $0.stopping = true }
        wakeServer()
        sleeper.wake()
        if started {
            threadsDone.wait()
            threadsDone.wait()
            started = false
        }
    }

    // MARK: Out-of-band controls

    /// Applies `input` to the discrete inputs now; returns the clock time it happened at.
    @discardableResult
    public func set(_ input: GateInput) -> UInt64 {
        let now = clock.monotonicNanos()
        locked { s in apply(input, &s) }
        return now
    }

    /// Plays `script` (times on the emulator's clock; past ones at once, in time order).
    public func play(_ script: [TimedGateInput]) {
        locked { s in s.scheduled = Self.merge(s.scheduled, script) }
        sleeper.wake()
    }

    /// The next time the flaps open toward `direction`, plays `script` with its times taken as
    /// offsets from that moment (a rider who walks through once the gate lets them).
    public func whenFlapsOpen(_ direction: PassageDirection, play script: [TimedGateInput]) {
        locked { $0.triggers.append((direction, script)) }
        sleeper.wake()
    }

    /// False: the board stops answering, as with a cut cable or a dead board (RTU requests go
    /// unanswered, TCP connections are closed and new ones refused). True: it answers again.
    public func setAnswering(_ answering: Bool) {
        locked { $0.snapshot.answering = answering }
        wakeServer()
    }

    public var snapshot: Snapshot { locked { $0.snapshot } }

    /// Events so far, oldest first; clears the record.
    public func takeEvents() -> [TimedEvent] {
        locked { s in
            defer { s.events.removeAll() }
            return s.events
        }
    }

    /// Waits until `condition` holds on the board's state, re-checked on every change, or until
    /// `timeoutSeconds` of host time passed (a safety net, not a timing). Returns whether it held.
    @discardableResult
    public func wait(timeoutSeconds: Double = 10, for condition: (Snapshot) -> Bool) -> Bool {
        let deadline = DispatchTime.now() + timeoutSeconds
        lock.lock()
        waiters += 1
        lock.unlock()
        defer {
            lock.lock()
            waiters -= 1
            lock.unlock()
        }
        while true {
            if condition(snapshot) { return true }
            if changed.wait(timeout: deadline) == .timedOut { return condition(snapshot) }
        }
    }

    // MARK: State

    private func locked<R>(_ body: (inout State) -> R) -> R {
        lock.lock()
        let before = state.snapshot
        let r = body(&state)
        let notify = state.snapshot != before ? waiters : 0
        lock.unlock()
        for _ in 0..<notify { changed.signal() }
        return r
    }

    /// Under the lock: new levels on the discrete inputs, then what they do to the flaps.
    private func apply(_ input: GateInput, _ s: inout State) {
        let levels = s.snapshot.levels.applying(input)
        guard levels != s.snapshot.levels else { return }
        s.snapshot.levels = levels
        for (a, v) in map.inputBits(for: levels) { mapping.setInput(a, v) }
        settle(&s, now: clock.monotonicNanos())
    }

    /// Under the lock: the flaps' actual motion from the command, the watchdog and the fire
    /// contact, with an event when it changed; arms flap-following scripts.
    private func settle(_ s: inout State, now: UInt64) {
        let flaps: FlapCommand =
            s.snapshot.watchdogTripped || s.snapshot.levels.fireAlarm ? .retract : s.snapshot.commanded.flaps
        guard flaps != s.snapshot.flaps else { return }
        s.snapshot.flaps = flaps
        s.events.append(TimedEvent(at: now, event: .flaps(flaps)))
        if case .open(let d) = flaps, let i = s.triggers.firstIndex(where: { $0.direction == d }) {
            let script = s.triggers.remove(at: i).script.map { TimedGateInput(at: now + $0.at, $0.input) }
            s.scheduled = Self.merge(s.scheduled, script)
            sleeper.wake()
        }
    }

    /// Under the lock, after a request was answered: what its writes changed.
    private func afterRequest(_ request: [UInt8], length: Int, header: Int, _ s: inout State) {
        let now = clock.monotonicNanos()
        s.snapshot.requests += 1
        let hb: UInt32
        switch map.heartbeat {
        case .coil(let c): hb = mapping.coil(c) ? 1 : 0
        case .register(let r): hb = UInt32(mapping.register(r))
        }
        if hb != s.heartbeatValue {
            if s.heartbeatValue != .max || hb != 0 { s.snapshot.heartbeats += 1 }
            s.heartbeatValue = hb
            s.heartbeatAt = now
            sleeper.wake()
        }
        let commanded = map.outputs(mapping.coil)
        if commanded != s.snapshot.commanded {
            s.snapshot.commanded = commanded
            s.events.append(TimedEvent(at: now, event: .commanded(commanded)))
        }
        // A write to a flap coil with a live heartbeat is the explicit command that ends a trip.
        if s.snapshot.watchdogTripped, s.snapshot.heartbeats > 0, now < s.heartbeatAt + watchdogNanos,
            writesFlapCoil(request, length: length, header: header)
        {
            s.snapshot.watchdogTripped = false
            s.events.append(TimedEvent(at: now, event: .watchdog(tripped: false)))
            sleeper.wake()  // the watchdog runs again from the last heartbeat
        }
        settle(&s, now: now)
    }

    private var watchdogNanos: UInt64 { UInt64(map.watchdogMillis) * 1_000_000 }

    /// Whether `request` is a write-coil request (function 5 or 15) covering a flap coil.
    private func writesFlapCoil(_ r: [UInt8], length: Int, header: Int) -> Bool {
        guard length >= header + 5 else { return false }
        let function = r[header]
        let address = UInt16(r[header + 1]) << 8 | UInt16(r[header + 2])
        let count: UInt16 = function == 15 ? UInt16(r[header + 3]) << 8 | UInt16(r[header + 4]) : 1
        guard function == 5 || function == 15 else { return false }
        let covered = UInt32(address)..<UInt32(address) + UInt32(count)
        return [map.flapOpenEntry, map.flapOpenExit, map.flapRetract].contains { covered.contains(UInt32($0)) }
    }

    static func merge(_ a: [TimedGateInput], _ b: [TimedGateInput]) -> [TimedGateInput] {
        (a + b).enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element)
    }

    // MARK: Logic thread: watchdog and scripts

    private func runLogic() {
        while true {
            let now = clock.monotonicNanos()
            let next: UInt64? = locked { s in
                if s.stopping { return 0 }
                while let first = s.scheduled.first, first.at <= now {
                    s.scheduled.removeFirst()
                    apply(first.input, &s)
                }
                if !s.snapshot.watchdogTripped && now >= s.heartbeatAt + watchdogNanos {
                    s.snapshot.watchdogTripped = true
                    s.events.append(TimedEvent(at: now, event: .watchdog(tripped: true)))
                    settle(&s, now: now)
                }
                let watchdog = s.snapshot.watchdogTripped ? nil : Optional(s.heartbeatAt + watchdogNanos)
                return [watchdog, s.scheduled.first?.at].compactMap { $0 }.min() ?? .max
            }
            if next == 0 { return }
            sleeper.sleep(until: next == .max ? nil : next)
        }
    }

    // MARK: Server thread

    private func wakeServer() {
        var b: UInt8 = 1
        _ = Glibc.write(wakePipe.write, &b, 1)
    }

    private func serve() {
        var buffer = [UInt8](repeating: 0, count: ModbusContext.maxADULength)
        var clients: [Int32] = []
        var answering = true
        defer { for c in clients { Glibc.close(c) } }
        while true {
            let (stopping, nowAnswering) = locked { ($0.stopping, $0.snapshot.answering) }
            if stopping { return }
            if nowAnswering != answering, case .tcp(let host, _) = transport {
                answering = nowAnswering
                if !answering {
                    for c in clients { Glibc.close(c) }
                    clients.removeAll()
                    if listening >= 0 { Glibc.close(listening) }
                    listening = -1
                } else if let ctx = try? ModbusContext(.tcp(host: host, port: port, unit: 255)),
                    let fd = try? ctx.listen(backlog: 4)
                {
                    // The listening socket outlives the context that opened it (modbus_close is
                    // never called on it: the context's socket is reset first).
                    ctx.setSocket(-1)
                    listening = fd
                }
            }
            answering = nowAnswering
            var fds = [pollfd(fd: wakePipe.read, events: Int16(POLLIN), revents: 0)]
            if let pty { fds.append(pollfd(fd: pty.master, events: Int16(POLLIN), revents: 0)) }
            if listening >= 0 { fds.append(pollfd(fd: listening, events: Int16(POLLIN), revents: 0)) }
            for c in clients { fds.append(pollfd(fd: c, events: Int16(POLLIN), revents: 0)) }
            guard poll(&fds, nfds_t(fds.count), -1) >= 0 || errno == EINTR else { return }
            if fds[0].revents != 0 {
                var drain = [UInt8](repeating: 0, count: 64)
                while Glibc.read(wakePipe.read, &drain, drain.count) > 0 {}
            }
            for p in fds.dropFirst() where p.revents != 0 {
                if p.fd == listening {
                    if let fd = try? context.accept(listening) { clients.append(fd) }
                    continue
                }
                context.setSocket(p.fd)
                let n: Int
                do { n = try context.receive(&buffer) } catch {
                    if pty == nil {
                        // The gate went away (or sent garbage): drop its connection.
                        Glibc.close(p.fd)
                        clients.removeAll { $0 == p.fd }
                    }
                    continue
                }
                guard n > 0, answering else { continue }
                lock.lock()
                let replied = (try? context.reply(buffer, length: n, mapping)) != nil
                let before = state.snapshot
                if replied { afterRequest(buffer, length: n, header: context.headerLength, &state) }
                let notify = state.snapshot != before ? waiters : 0
                lock.unlock()
                for _ in 0..<notify { changed.signal() }
            }
        }
    }

    private static func boundPort(_ fd: Int32) -> Int? {
        var addr = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return rc == 0 ? Int(UInt16(bigEndian: addr.sin_port)) : nil
    }
}
