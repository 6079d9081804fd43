import Dispatch
import FaregateCore
import FaregatePCSC
import FaregateRuntime
import FaregateSimulation
import FaregateVirtualCard
import Foundation
import Synchronization

/// `farectl card …`: virtual cards for a real pcscd (vpcd), and reading cards as a gate sees them.
let cardCommands: [Command] = [
    Command(
        ["card", "emulate"],
        usage: "card emulate --profile FILE [--taps N] [--hold-ms M] [--gap-ms G] [--fault F]... [--port P] [-v]",
        "present a virtual card to pcscd's vpcd driver (faults: remove-after:N wrong-sw:N:SW truncate:N slow:N:MS no-app removed malformed unknown-app)"
    ) { args in try cardEmulate(&args) },
    Command(
        ["card", "read"], usage: "card read [--reader NAME] [--timeout-ms N] [-v] [--json]",
        "read one card through PC/SC and print what a gate sees (-v: the APDU exchange)"
    ) { args in try cardRead(&args) },
    Command(
        ["readers"], usage: "readers [--json]",
        "list PC/SC readers and known USB NFC readers; detect pn533_usb holding an ACR122U"
    ) { args in try listReaders(&args) },
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
        throw CLIError.failed("\(error)")
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

/// What `farectl card read --json` prints: what a gate sees, never anything personal.
struct CardReadOutput: Encodable {
    struct Exchange: Encodable {
        var step: String
        var command: String
        var response: String?
        var error: String?
    }
    var reader: String
    var ok: Bool
    var application: String?
    var number: String?
    var storedNumber: String?
    var cityCode: String?
    var cardType: String?
    var balanceFen: Int32?
    var validFrom: String?
    var validUntil: String?
    var applicationBlocked: Bool?
    var disabled: Bool?
    var blacklistedOnCard: Bool?
    var failure: String?
    var failureDetail: String?
    var detectedToReadMillis: Double
    var exchanges: [Exchange]?
}

func cardRead(_ args: inout Arguments) throws -> Int32 {
    let readerName = try args.value("--reader") ?? ProcessInfo.processInfo.environment["FAREGATE_PCSC_READER"]
    let timeout = try args.int("--timeout-ms", default: 30_000, in: 1...3_600_000)
    let verbose = args.flag("-v")
    let json = args.flag("--json")
    try args.finish()

    // pcscd must answer before anything waits on it: a stopped pcscd is an error at once, and one
    // that accepts the connection but never answers (stuck, or a socket unit whose service does
    // not start) would otherwise block libpcsclite, which has no timeout of its own, forever.
    try checkPCSCD(withinMillis: pcscdAnswerMillis)

    let box = Mutex<CardReadReport?>(nil)
    let reader = PCSCCardReader(
        configuration: .init(readerName: readerName, recordExchanges: true), clock: SystemClock(),
        log: { line in if verbose { warn(line) } }, onRead: { report in box.withLock { $0 = report } })
    let timer = DispatchWorkItem { reader.cancel() }
    DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(timeout), execute: timer)
    if !json { warn("waiting for a card on \(readerName ?? "the first PC/SC reader") …") }
    // The wait runs on its own thread so this one can give up on it: `cancel()` interrupts a wait
    // inside pcscd, but not a libpcsclite call to a pcscd that stopped answering mid-way.
    let waited = Mutex<Tap?>(nil)
    let ended = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
        loop: while true {
            switch reader.nextEvent() {
            case .tap(let t):
                waited.withLock { $0 = t }
                break loop
            case .cancelled:
                break loop
            case .readerLost(let why):
                warn("reader: \(why)")
            case .readerRestored:
                warn("reader: back")
            }
        }
        ended.signal()
    }
    guard ended.wait(timeout: .now() + .milliseconds(timeout + pcscdAnswerMillis)) == .success else {
        throw CLIError.failed("pcscd stopped answering: no card read within \(timeout) ms")
    }
    timer.cancel()
    guard let tap = waited.withLock({ $0 }), let readReport = box.withLock({ $0 }) else {
        throw CLIError.failed("no card within \(timeout) ms")
    }
    var out = CardReadOutput(
        reader: readerName ?? "*", ok: false,
        detectedToReadMillis: Double(tap.readAt &- tap.detectedAt) / 1e6)
    switch readReport.outcome {
    case .success(let d):
        out.ok = true
        out.application = d.read.application.description
        out.number = d.read.key.number
        out.storedNumber = d.storedNumber
        out.cityCode = d.cityCode
        out.cardType = d.read.cardType.description
        out.balanceFen = d.read.balanceFen
        out.validFrom = d.read.validFrom?.description
        out.validUntil = d.read.validUntil?.description
        out.applicationBlocked = d.read.applicationBlocked
        out.disabled = d.read.disabled
        out.blacklistedOnCard = d.read.blacklistedOnCard
    case .failure(let e):
        out.failure = e.failure.description
        out.failureDetail = e.description
        out.number = e.key?.number
    }
    if verbose || json {
        out.exchanges = readReport.exchanges.map {
            .init(
                step: $0.step, command: $0.command.description, response: $0.response?.description,
                error: $0.error?.description)
        }
    }
    try report(out, json: json) {
        var lines: [String] = []
        if out.ok {
            lines.append("application:  \(out.application ?? "-")")
            lines.append("number:       \(out.number ?? "-")  (stored \(out.storedNumber ?? "-"))")
            lines.append("city code:    \(out.cityCode ?? "-")")
            lines.append("card type:    \(out.cardType ?? "-")")
            lines.append("balance:      " + (out.balanceFen.map { "\($0) fen (\(yuan($0)) yuan)" } ?? "-"))
            lines.append("valid:        \(out.validFrom ?? "unset") … \(out.validUntil ?? "unset")")
            var flags: [String] = []
            if out.applicationBlocked == true { flags.append("application blocked") }
            if out.disabled == true { flags.append("not enabled") }
            if out.blacklistedOnCard == true { flags.append("blacklisted on card") }
            lines.append("flags:        \(flags.isEmpty ? "none" : flags.joined(separator: ", "))")
        } else {
            lines.append("read failed:  \(out.failureDetail ?? "-")")
            if let n = out.number { lines.append("number:       \(n)") }
        }
        lines.append(String(format: "read in:      %.1f ms after the card was detected", out.detectedToReadMillis))
        for x in out.exchanges ?? [] {
            lines.append("  \(x.step)")
            lines.append("    > \(x.command)")
            lines.append("    < \(x.response ?? "error: \(x.error ?? "?")")")
        }
        return lines.joined(separator: "\n")
    }
    return out.ok ? 0 : 1
}

private func yuan(_ fen: Int32) -> String { String(format: "%d.%02d", fen / 100, fen % 100) }

/// How long pcscd has to answer a request before `card read` gives up on it.
let pcscdAnswerMillis = 3000

/// Establishes a PC/SC context and lists the readers on another thread, waiting at most
/// `withinMillis` for that: pcscd not running, not answering, or refusing is a `CLIError.failed`
/// that says so. No reader plugged in is an empty list.
func pcscReaders(withinMillis: Int) throws(CLIError) -> [String] {
    let answer = Mutex<Result<[String], PCSCError>?>(nil)
    let answered = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
        let result: Result<[String], PCSCError>
        do throws(PCSCError) {
            result = .success(try PCSCContext().readers())
        } catch {
            result = .failure(error)
        }
        answer.withLock { $0 = result }
        answered.signal()
    }
    guard answered.wait(timeout: .now() + .milliseconds(withinMillis)) == .success,
        let result = answer.withLock({ $0 })
    else {
        throw CLIError.failed(
            "pcscd did not answer within \(withinMillis) ms (is it running? systemctl status pcscd)")
    }
    switch result {
    case .success(let names): return names
    case .failure(let e) where e.status.meansServiceLost:
        throw CLIError.failed("pcscd is not running (\(e)); start it: sudo systemctl start pcscd.socket")
    case .failure(let e): throw CLIError.failed("pcscd: \(e)")
    }
}

/// Fails unless pcscd answers within `withinMillis` (see `pcscReaders`).
func checkPCSCD(withinMillis: Int) throws(CLIError) { _ = try pcscReaders(withinMillis: withinMillis) }
