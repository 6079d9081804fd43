import Dispatch
import FaregateCore
import FaregateModbus
import FaregateRuntime
import Foundation
import XCTest

/// One lane over the real protocol, in process: the board emulator (libmodbus server) on a
/// pseudo-terminal or loopback TCP, the Modbus adapter (libmodbus client) and a `BarrierDriver`
/// on the host clock.
final class ModbusLane {
    enum Link { case rtu, tcp }

    static let hardware = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("hardware")

    static func map(_ name: String) throws -> IOBoardMap {
        try IOBoardMap.parse(Array(try Data(contentsOf: hardware.appendingPathComponent(name))))
    }

    let emulator: ModbusBoardEmulator
    let adapter: ModbusGateIO
    let watched: WatchedIO
    let barrier: BarrierDriver
    private var stopped = false

    init(
        _ link: Link, map name: String = "modbus-8in8out.json", directions: DirectionMode = .bidirectional,
        directory: String, timings: BarrierTimings = BarrierTimings()
    ) throws {
        let map = try Self.map(name)
        let clock = SystemClock()
        switch link {
        case .rtu:
            emulator = try ModbusBoardEmulator(
                map: map, transport: .rtu(link: directory + "/board-tty", slave: 7), clock: clock)
        case .tcp:
            emulator = try ModbusBoardEmulator(map: map, transport: .tcp(host: "127.0.0.1", port: 0), clock: clock)
        }
        emulator.start()
        let endpoint: ModbusEndpoint =
            switch link {
            case .rtu:
                .rtu(device: directory + "/board-tty", baud: 115200, parity: .none, dataBits: 8, stopBits: 1, slave: 7)
            case .tcp: .tcp(host: "127.0.0.1", port: emulator.port, unit: 255)
            }
        var settings = ModbusGateIO.Settings(endpoint: endpoint, map: map)
        // Generous for a loaded test host: a stalled emulator thread must not look like a lost board.
        settings.responseTimeoutNanos = 200_000_000
        settings.link.failedPollsOutOfService = 5
        settings.link.backoffMax = 400_000_000
        adapter = ModbusGateIO(settings: settings, clock: clock)
        try adapter.start()
        watched = WatchedIO(adapter)
        barrier = BarrierDriver(
            io: watched, clock: clock, directions: directions, enforcement: .enforced, timings: timings)
        barrier.start()
    }

    /// Waits for the board to be driven: heartbeat alive, flaps closed, the lamps lit.
    func waitReady() -> Bool {
        emulator.wait { !$0.watchdogTripped && $0.flaps == .close && $0.commanded.unpaid != .off }
    }

    func stop() {
        guard !stopped else { return }
        stopped = true
        barrier.stop()
        adapter.stop()
        emulator.stop()
    }

    deinit { stop() }
}

/// The adapter as the barrier sees it, recording every input it hands on, so a test can wait for
/// one (the board lost, an edge read) on a semaphore rather than by sleeping.
final class WatchedIO: GateInputSource, FireAlarmInput, FlapDrive, GateSignals, @unchecked Sendable {
    // @unchecked Sendable: `inner` is thread-safe; `seen` is behind its lock.
    let inner: ModbusGateIO
    private let seen = Locked<[GateInput]>([])
    private let arrived = DispatchSemaphore(value: 0)
    private let asked = Locked(0)
    private let given = Locked(0)
    private let askedAgain = DispatchSemaphore(value: 0)

    init(_ inner: ModbusGateIO) { self.inner = inner }

    var inputs: [GateInput] { seen.withLock { $0 } }

    /// Waits until an input satisfying `match` has been handed on (at most `timeoutSeconds`).
    func wait(timeoutSeconds: Double = 10, for match: (GateInput) -> Bool) -> Bool {
        let deadline = DispatchTime.now() + timeoutSeconds
        var checked = 0
        while true {
            let all = inputs
            if all[checked...].contains(where: match) { return true }
            checked = all.count
            if arrived.wait(timeout: deadline) == .timedOut { return inputs[checked...].contains(where: match) }
        }
    }

    /// Forgets the inputs seen so far (the next `wait` looks only at later ones).
    func reset() { seen.withLock { $0.removeAll() } }

    /// Waits until every input seen so far has been posted to the barrier: the driver's input
    /// thread posts an input before it asks for the next one, so once it has come back for more
    /// than it was given the last one is in the barrier's inbox (a `flush()` then has it handled).
    func waitHandedOn(timeoutSeconds: Double = 10) -> Bool {
        let deadline = DispatchTime.now() + timeoutSeconds
        while true {
            if asked.withLock({ $0 }) > given.withLock({ $0 }) { return true }
            if askedAgain.wait(timeout: deadline) == .timedOut { return asked.withLock { $0 } > given.withLock { $0 } }
        }
    }

    func nextInput() -> TimedGateInput? {
        asked.withLock { $0 += 1 }
        askedAgain.signal()
        let i = inner.nextInput()
        if let i {
            given.withLock { $0 += 1 }
            seen.withLock { $0.append(i.input) }
            arrived.signal()
        }
        return i
    }
    func cancel() { inner.cancel() }
    var fireAlarmActive: Bool { inner.fireAlarmActive }
    func command(_ command: FlapCommand) { inner.command(command) }
    func heartbeat() { inner.heartbeat() }
    func indicator(_ end: GateEnd, _ indicator: Indicator) { inner.indicator(end, indicator) }
    func display(_ end: GateEnd, _ text: DisplayText) { inner.display(end, text) }
    func buzzer(_ pattern: BuzzerPattern) { inner.buzzer(pattern) }
}

extension ModbusBoardEmulator {
    /// The flap motions recorded so far (clears the record).
    func takeFlapMotions() -> [FlapCommand] {
        takeEvents().compactMap { if case .flaps(let f) = $0.event { f } else { nil } }
    }
}
