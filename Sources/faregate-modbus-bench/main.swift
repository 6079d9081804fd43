import Dispatch
import FaregateCore
import FaregateModbus
import FaregateRuntime
import Foundation

// faregate-modbus-bench: over real libmodbus on both ends, in one process on one clock,
// (1) a sensor edge set at the board emulator → handed to the controller by the adapter
// (`nextInput()` returns it), and (2) a flap command given to the adapter → the coil set at the
// emulator. RTU on a pseudo-terminal pair (no baud pacing: see BENCHMARKS.md for the wire time
// at 115200) and TCP on loopback. Usage: faregate-modbus-bench [--samples N] [--map FILE]

var samples = 400
var mapPath = "hardware/modbus-8in8out.json"
var argv = CommandLine.arguments.dropFirst()
while let a = argv.popFirst() {
    switch a {
    case "--samples": samples = Int(argv.popFirst() ?? "") ?? samples
    case "--map": mapPath = argv.popFirst() ?? mapPath
    default:
        FileHandle.standardError.write(Data("usage: faregate-modbus-bench [--samples N] [--map FILE]\n".utf8))
        exit(2)
    }
}
let map: IOBoardMap
do { map = try IOBoardMapFile.read(mapPath) } catch {
    FileHandle.standardError.write(Data("faregate-modbus-bench: map \(error)\n".utf8))
    exit(2)
}

func quantiles(_ xs: [UInt64]) -> String {
    let s = xs.sorted()
    func q(_ p: Double) -> Double { Double(s[min(s.count - 1, Int(Double(s.count) * p))]) / 1e6 }
    return String(format: "p50 %.2f ms  p99 %.2f ms  max %.2f ms  (n=%d)", q(0.5), q(0.99), q(1.0), s.count)
}

func bench(_ name: String, _ transport: ModbusBoardEmulator.Transport, map: IOBoardMap, samples: Int) throws {
    let clock = SystemClock()
    let board = try ModbusBoardEmulator(map: map, transport: transport, clock: clock)
    board.start()
    defer { board.stop() }
    let endpoint: ModbusEndpoint =
        switch transport {
        case .rtu: .rtu(device: board.device ?? "", baud: 115200, parity: .none, dataBits: 8, stopBits: 1, slave: 1)
        case .tcp(let host, _): .tcp(host: host, port: board.port, unit: 255)
        }
    let io = ModbusGateIO(settings: .init(endpoint: endpoint, map: map), clock: clock)
    try io.start()
    defer { io.stop() }
    // The controller's heartbeat, as the barrier thread gives it.
    let feeding = DispatchSource.makeTimerSource(queue: .global())
    feeding.schedule(deadline: .now(), repeating: .milliseconds(50))
    feeding.setEventHandler { io.heartbeat() }
    feeding.resume()
    defer { feeding.cancel() }
    guard board.wait(for: { !$0.watchdogTripped }) else { throw CocoaError(.featureUnsupported) }

    var edges: [UInt64] = []
    for k in 0..<samples {
        let reading: SensorReading = k % 2 == 0 ? .adult : .clear
        let t0 = board.set(.sensor(.buffer, reading))
        while let i = io.nextInput() {
            if i.input == .sensor(.buffer, reading) {
                edges.append(clock.monotonicNanos() - t0)
                break
            }
        }
    }
    var coils: [UInt64] = []
    _ = board.takeEvents()
    for k in 0..<samples {
        let command: FlapCommand = k % 2 == 0 ? .open(.entry) : .close
        let t0 = clock.monotonicNanos()
        io.command(command)
        guard board.wait(for: { $0.commanded.flaps == command }) else { throw CocoaError(.featureUnsupported) }
        let at = board.takeEvents().first {
            if case .commanded(let o) = $0.event { o.flaps == command } else { false }
        }?.at
        coils.append((at ?? clock.monotonicNanos()) - t0)
    }
    print("\(name)  edge at board → controller: \(quantiles(edges))")
    print("\(name)  command → coil at board:    \(quantiles(coils))")
}

let tty = NSTemporaryDirectory() + "faregate-modbus-bench-\(getpid())"
do {
    try bench("rtu (pty, 115200 8N1)", .rtu(link: tty, slave: 1), map: map, samples: samples)
    try bench("tcp (loopback)       ", .tcp(host: "127.0.0.1", port: 0), map: map, samples: samples)
} catch {
    FileHandle.standardError.write(Data("faregate-modbus-bench: \(error)\n".utf8))
    exit(1)
}
