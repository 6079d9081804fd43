import FaregateCore
import FaregateSimulation
import FaregateVirtualCard
import Foundation

/// `farectl card …`: virtual cards for a real pcscd (vpcd), and reading cards as a gate sees them.
let cardCommands: [Command] = [
    Command(
        ["card", "emulate"],
        usage: "card emulate --profile FILE [--taps N] [--hold-ms M] [--gap-ms G] [--fault F]... [--port P] [-v]",
        "present a virtual card to pcscd's vpcd driver (faults: remove-after:N wrong-sw:N:SW truncate:N slow:N:MS)"
    ) { args in try cardEmulate(&args) }
]

func cardEmulate(_ args: inout Arguments) throws -> Int32 {
    guard let path = try args.value("--profile") else { throw CLIError("--profile FILE is required") }
    let taps = try args.int("--taps", default: 1, in: 0...10_000_000)
    let hold = try args.int("--hold-ms", default: 1000, in: 0...3_600_000)
    let gap = try args.int("--gap-ms", default: 200, in: 0...3_600_000)
    let port = try args.int("--port", default: Int(VirtualCardEmulator.environmentPort), in: 1...65535)
    let host = try args.value("--host") ?? ProcessInfo.processInfo.environment["FAREGATE_VPCD_HOST"] ?? "127.0.0.1"
    let verbose = args.flag("-v")
    var faults: [CardFault] = []
    while let text = try args.value("--fault") {
        guard let f = CardFault(parsing: text) else { throw CLIError("cannot parse fault '\(text)'") }
        faults.append(f)
    }
    try args.finish()
    let compiled: CompiledCard
    do {
        compiled = try CardProfile.load(path: path).1
    } catch {
        throw CLIError("\(error)")
    }
    var emulator = VirtualCardEmulator(host: host, port: UInt16(port))
    if verbose { emulator.log = { @Sendable (line: String) in warn(line) } }
    var card = SimulatedSmartCard(card: compiled, faults: faults)
    var n = 0
    while taps == 0 || n < taps {
        n += 1
        let r = try emulator.tap(&card, holdMillis: hold)
        warn(
            "tap \(n): \(r.apdus) APDUs answered, \(r.atrRequests) ATR requests"
                + (r.removedEarly ? ", removed early (fault)" : ""))
        if (taps == 0 || n < taps) && gap > 0 { usleep(UInt32(clamping: gap * 1000)) }
    }
    return 0
}
