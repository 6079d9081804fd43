import Dispatch
import FaregateCore
import FaregateModbus
import FaregateRuntime
import FaregateSimulation
import Foundation

/// `farectl board emulate`: a lane's I/O board over the real Modbus protocol (issue 15), for the
/// bench, the station simulation and the tests: a gate's `io` section points at it as at a board.
let boardCommands: [Command] = [
    Command(
        ["board", "emulate"],
        usage: "board emulate (--rtu PATH [--slave N] | --tcp HOST:PORT) --map FILE [--walk-through]",
        "emulate a lane's Modbus I/O board (watchdog, fire relay, passage scripts); control lines on stdin",
        run: emulateBoard)
]

func emulateBoard(_ args: inout Arguments) throws -> Int32 {
    let rtu = try args.value("--rtu")
    let tcp = try args.value("--tcp")
    let slave = try args.int("--slave", default: 1, in: 1...247)
    guard let mapPath = try args.value("--map") else { throw CLIError("--map FILE is required") }
    let walkThrough = args.flag("--walk-through")
    try args.finish()
    let transport: ModbusBoardEmulator.Transport
    switch (rtu, tcp) {
    case (let path?, nil): transport = .rtu(link: path, slave: slave)
    case (nil, let address?):
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
            (0...65535).contains(port)
        else { throw CLIError("--tcp takes HOST:PORT, not '\(address)'") }
        transport = .tcp(host: String(address[..<colon]), port: port)
    default: throw CLIError("give one of --rtu PATH and --tcp HOST:PORT")
    }
    let map: IOBoardMap
    do { map = try IOBoardMapFile.read(mapPath) } catch { throw CLIError.failed("map \(error)") }
    let clock = SystemClock()
    let board = try ModbusBoardEmulator(map: map, transport: transport, clock: clock)
    board.start()
    switch transport {
    case .rtu: say("board: modbus-rtu on \(board.device ?? "?") (slave \(slave)), map \(mapPath)")
    case .tcp(let host, _): say("board: modbus-tcp on \(host):\(board.port), map \(mapPath)")
    }
    say("control lines: fire on|off, power on|off, zone ZONE clear|adult|child, walk entry|exit [child],")
    say("               answer on|off, status")

    let done = DispatchSemaphore(value: 0)
    // Prints every flap motion, coil change and watchdog trip as it happens.
    Thread.detachNewThread {
        while true {
            _ = board.wait(timeoutSeconds: 0.5) { _ in false }
            for e in board.takeEvents() { say("t=\(e.at / 1_000_000) ms \(e.event)") }
        }
    }
    if walkThrough {
        // A rider walks through each time the flaps open toward their side.
        Thread.detachNewThread {
            while true {
                var side: PassageDirection?
                board.wait(timeoutSeconds: 3600) { s in
                    if case .open(let d) = s.flaps { side = d }
                    return side != nil
                }
                guard let d = side else { continue }
                let now = clock.monotonicNanos()
                board.play(PassageScript.walk(d, start: now))
                board.wait(timeoutSeconds: 3600) { $0.flaps != .open(d) }
            }
        }
    }
    Thread.detachNewThread {
        while let line = readLine() {
            say(boardControl(line, board, clock))
        }
    }
    signal(SIGTERM, SIG_IGN)
    signal(SIGINT, SIG_IGN)
    let sources = [SIGTERM, SIGINT].map { sig -> DispatchSourceSignal in
        let s = DispatchSource.makeSignalSource(signal: sig)
        s.setEventHandler { done.signal() }
        s.resume()
        return s
    }
    withExtendedLifetime(sources) { done.wait() }
    board.stop()
    // The process exits without running deinitialisers: remove the device link here.
    if case .rtu(let link?, _) = transport { unlink(link) }
    return 0
}

/// One control line for the emulator; returns the answer to print.
func boardControl(_ line: String, _ board: ModbusBoardEmulator, _ clock: any GateClock) -> String {
    let w = line.split(separator: " ").map(String.init)
    switch (w.first, w.count) {
    case ("fire", 2) where ["on", "off"].contains(w[1]): board.set(.fireAlarm(active: w[1] == "on"))
    case ("power", 2) where ["on", "off"].contains(w[1]): board.set(.powerFailure(active: w[1] == "off"))
    case ("zone", 3):
        let readings: [String: SensorReading] = ["clear": .clear, "adult": .adult, "child": .child]
        guard let z = SensorZone(name: w[1]), let r = readings[w[2]] else {
            return "error: zone takes one of \(SensorZone.names.joined(separator: ", ")) and clear|adult|child"
        }
        board.set(.sensor(z, r))
    case ("walk", 2), ("walk", 3):
        guard let d = PassageDirection(name: w[1]) else { return "error: walk entry|exit [child]" }
        let reading: SensorReading = w.count == 3 && w[2] == "child" ? .child : .adult
        board.play(PassageScript.walk(d, start: clock.monotonicNanos(), reading: reading))
    case ("answer", 2) where ["on", "off"].contains(w[1]): board.setAnswering(w[1] == "on")
    case ("status", 1): break
    default: return "error: unknown control line '\(line)'"
    }
    let s = board.snapshot
    return
        "ok: flaps \(s.flaps) (commanded \(s.commanded.flaps)), unpaid \(s.commanded.unpaid), paid \(s.commanded.paid), buzzer \(s.commanded.buzzer), watchdog \(s.watchdogTripped ? "tripped" : "fed"), heartbeats \(s.heartbeats), answering \(s.answering)"
}

/// Writes one line to standard output unbuffered (a test or a script reads it from a pipe).
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
