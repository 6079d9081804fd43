import Dispatch
import FaregateCore
import Foundation

/// `farectl ride-code emulate --pty`: a QR scanner on a pseudo-terminal (issue 17 part 5). The
/// gate's config names the slave, or the stable `--link`, as a `serial` scanner's `device`, and
/// reads it through the same termios path as a USB CDC scanner at `/dev/ttyACM0`.
let rideCodeEmulateCommand = Command(
    ["ride-code", "emulate"],
    usage:
        "ride-code emulate --pty [--link PATH] [--terminator cr|lf|crlf] [--drain-seconds S] [--hold] [TEXT…]",
    "play a QR scanner on a pseudo-terminal: each TEXT (or each stdin line) sent as a scanned code; stdin control lines !unplug, !replug, !hex BYTES, !drain"
) { args in try rideCodeEmulate(&args) }

func rideCodeEmulate(_ args: inout Arguments) throws -> Int32 {
    guard args.flag("--pty") else { throw CLIError("--pty is required (the only scanner this emulates)") }
    let link = try args.value("--link")
    let terminatorText = try args.value("--terminator") ?? "crlf"
    guard let terminator = ScanTerminator(rawValue: terminatorText) else {
        throw CLIError("--terminator must be cr, lf or crlf, not '\(terminatorText)'")
    }
    let drainSeconds = Double(try args.int("--drain-seconds", default: 10, in: 0...3600))
    let hold = args.flag("--hold")
    var positionals: [String] = []
    while let t = args.positional() { positionals.append(t) }
    try args.finish()
    let texts = positionals

    let scanner = try ScannerPTY(link: link, terminator: terminator)
    say(
        "scanner on \(scanner.slavePath ?? "-")" + (link.map { ", linked at \($0)" } ?? "")
            + ", terminator \(terminator.rawValue)")
    if texts.isEmpty {
        say("lines on stdin are codes; control lines: !unplug, !replug, !hex BYTES, !drain")
    }
    let done = DispatchSemaphore(value: 0)
    let failure = Locked<String?>(nil)
    Thread.detachNewThread {
        do {
            if texts.isEmpty {
                while let line = readLine() { say(try emulatorLine(line, scanner, drainSeconds: drainSeconds)) }
            } else {
                for t in texts { say(try emulatorLine(t, scanner, drainSeconds: drainSeconds)) }
            }
            // The input ended: let the gate read what is queued before the device goes away.
            if !scanner.drain(timeoutSeconds: drainSeconds) {
                warn("ride-code emulate: the gate did not read everything within \(Int(drainSeconds)) s")
            }
        } catch {
            failure.withLock { $0 = "\(error)" }
            done.signal()
            return
        }
        if hold { say("input ended; holding the scanner until SIGTERM or SIGINT") } else { done.signal() }
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
    // The process exits without running deinitialisers: close the pty and remove the link here.
    scanner.abandon()
    if let f = failure.withLock({ $0 }) { throw CLIError.failed(f) }
    return 0
}

/// One input line for the emulator: a code to send, or a control line; returns what to print.
func emulatorLine(_ line: String, _ scanner: ScannerPTY, drainSeconds: Double) throws -> String {
    guard line.hasPrefix("!") else {
        let bytes = Array(line.utf8)
        guard try scanner.send(line: bytes) else { return "unplugged: line dropped (\(bytes.count) bytes)" }
        return "sent \(bytes.count) bytes"
    }
    let words = line.dropFirst().split(separator: " ", omittingEmptySubsequences: true)
    switch (words.first, words.count) {
    case ("unplug", 1):
        // What was sent reaches the gate first: a bench script's "code, then unplug" keeps its code.
        _ = scanner.drain(timeoutSeconds: drainSeconds)
        return scanner.unplug() ? "unplugged" + (scanner.link.map { ": \($0) removed" } ?? "") : "already unplugged"
    case ("replug", 1):
        return "plugged in: \(try scanner.replug())" + (scanner.link.map { ", linked at \($0)" } ?? "")
    case ("drain", 1):
        return scanner.drain(timeoutSeconds: drainSeconds) ? "drained" : "not drained after \(Int(drainSeconds)) s"
    case ("hex", _) where words.count > 1:
        guard let bytes = Hex.bytes(words.dropFirst().joined()), !bytes.isEmpty else {
            return "error: !hex takes hex bytes (0d0a, 01 02 ff)"
        }
        guard try scanner.send(raw: bytes) else { return "unplugged: bytes dropped (\(bytes.count))" }
        return "sent \(bytes.count) bytes"
    default:
        return "error: unknown control line '\(line)' (!unplug, !replug, !hex BYTES, !drain)"
    }
}
