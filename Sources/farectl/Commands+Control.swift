import FaregateCore
import FaregateRuntime
import Foundation

/// The control socket of the gate a command talks to: `--socket PATH`, else the environment's
/// `FAREGATE_CONTROL_SOCKET`, else the daemon's default (`GateConfig.defaultControlSocket`). Every
/// command for a running gate resolves it here, so none needs `--socket` when the others do not.
func controlSocket(_ args: inout Arguments) throws(CLIError) -> String {
    if let path = try args.value("--socket") { return path }
    if let path = ProcessInfo.processInfo.environment["FAREGATE_CONTROL_SOCKET"], !path.isEmpty { return path }
    return GateConfig.defaultControlSocket
}

/// Sends one request to a running gate and prints the answer: its wire JSON with `--json`,
/// otherwise `text` of it. `text` returns nil for an answer of the wrong kind. A refusal by the
/// gate is thrown as its `ControlFailure`, which `runCLI` prints (as JSON with `--json`), exit 1.
func control(_ args: inout Arguments, _ request: ControlRequest, text: (ControlResponse) -> String?) throws -> Int32 {
    let json = args.flag("--json")
    let socket = try controlSocket(&args)
    try args.finish()
    let answer = try ControlClient.send(request, to: socket)
    if let failure = answer.failure { throw failure }
    if json {
        print(String(decoding: ControlWire.line(answer).dropLast(), as: UTF8.self))
        return 0
    }
    guard let out = text(answer) else {
        throw CLIError.failed("the gate answered '\(answer.tag)' to '\(request.command.name)'")
    }
    print(out)
    return 0
}

/// A card option as `MEDIUM:NUMBER`, parsed here so a typo is a usage error before any request.
func cardArgument(_ args: inout Arguments) throws -> CardKey {
    guard let text = try args.value("--card") else { throw CLIError("--card MEDIUM:NUMBER is required") }
    guard let key = CardKey(text: text) else { throw CLIError("--card takes MEDIUM:NUMBER, not '\(text)'") }
    return key
}

/// One of `T`'s names from option `name`, or nil when the option is absent.
func namedArgument<T: NamedCase>(_ args: inout Arguments, _ name: String) throws -> T? {
    guard let text = try args.value(name) else { return nil }
    guard let v = T(name: text) else {
        throw CLIError("\(name) takes one of \(T.allCases.map(\.name).joined(separator: ", ")), not '\(text)'")
    }
    return v
}

/// `farectl status`: one field per line, the JSON key as the label.
func statusText(_ s: GateStatusReport) -> String {
    GateStatusReport.Field.allCases.compactMap { field in
        s.text(field).map { field.rawValue.padding(toLength: 24, withPad: " ", startingAt: 0) + $0 }
    }
    .joined(separator: "\n")
}

let controlCommands: [Command] = [
    Command(
        ["status"], usage: "status [--socket PATH] [--json]",
        "state of a running gate: table, data age, journal, counters"
    ) {
        args in
        try control(&args, .status) { a in
            guard case .status(let s) = a else { return nil }
            return statusText(s)
        }
    },
    Command(
        ["tap"],
        usage:
            "tap --card MEDIUM:NUMBER [--reader N] [--fault removed|malformed|unknown-app|remove-after:N|…] | --ride-code TEXT [--scanner N] [--socket PATH] [--json]",
        "present a card on a running gate's simulated reader (or hand a scanned ride-code text to its simulated scanner) and print the decision; a tap that could not be journalled exits 1 with what the rider was told"
    ) { args in
        if let text = try args.value("--ride-code") {
            let scanner = UInt16(try args.int("--scanner", default: 0, in: 0...15))
            return try control(&args, .scan(text: text, scanner: scanner)) { a in
                guard case .tap(let entry) = a else { return nil }
                return entry.textLine
            }
        }
        let card = try cardArgument(&args)
        let reader = UInt16(try args.int("--reader", default: 0, in: 0...15))
        var fault: CardFault?
        if let text = try args.value("--fault") {
            guard let f = CardFault(parsing: text) else {
                throw CLIError(
                    "--fault takes removed, malformed, unknown-app, no-app, remove-after:N, wrong-sw:N:SW, truncate:N "
                        + "or slow:N:MS, not '\(text)'")
            }
            fault = f
        }
        return try control(&args, .tap(card: card, reader: reader, fault: fault)) { a in
            guard case .tap(let entry) = a else { return nil }
            return entry.textLine
        }
    },
    Command(
        ["lookup"], usage: "lookup --card MEDIUM:NUMBER [--socket PATH] [--json]",
        "what a running gate's table says of a card"
    ) {
        args in
        let card = try cardArgument(&args)
        return try control(&args, .lookup(card: card)) { a in
            guard case .lookup(let l) = a else { return nil }
            guard let s = l.status else { return "\(l.card.text): not in the table (version \(l.tableVersion))" }
            return "\(l.card.text): \(s.binding), health \(s.health), blacklisted \(s.isBlacklisted), "
                + "returned \(s.isReturned), suspended \(s.isSuspended) (table version \(l.tableVersion))"
        }
    },
    Command(["sync-now"], usage: "sync-now [--socket PATH] [--json]", "make a running gate sync with central state now")
    { args in
        try control(&args, .syncNow) { a in
            guard case .synced(let s) = a else { return nil }
            return
                "synced: table version \(s.tableVersion), \(s.tableCards) cards, journal acknowledged \(s.journalAcknowledged)"
        }
    },
    Command(
        ["metrics"], usage: "metrics [--socket PATH] [--json]", "a running gate's metrics in the Prometheus text format"
    ) {
        args in
        try control(&args, .metrics) { a in
            guard case .metrics(let text) = a else { return nil }
            return text.trimmingCharacters(in: .newlines)
        }
    },
    Command(
        ["policy", "reload"], usage: "policy reload [--era ERA] [--socket PATH] [--json]",
        "make a running gate reload its policy files (optionally pinning an era); a bad file changes nothing"
    ) { args in
        let era = try args.value("--era")
        return try control(&args, .policyReload(era: era)) { a in
            guard case .policyReloaded(let rules) = a else { return nil }
            return "rules in force: \(rules)"
        }
    },
    Command(
        ["mode"],
        usage:
            "mode [--set normal|emergency-open|out-of-service|closed] [--directions entry-only|exit-only|bidirectional] [--enforcement enforced|shadow] [--reset-alarm] [--socket PATH] [--json]",
        "staff commands to a running gate's barrier; prints the state after them; each is logged and journalled (a change during a passage waits for it to end)"
    ) { args in
        let change = ControlRequest.ModeChange(
            mode: try namedArgument(&args, "--set"), directions: try namedArgument(&args, "--directions"),
            enforcement: try namedArgument(&args, "--enforcement"), resetAlarm: args.flag("--reset-alarm"))
        return try control(&args, .mode(change)) { a in
            guard case .mode(_, let s) = a else { return nil }
            let b = s.barrier
            return "barrier \(b?.state ?? "-"), mode \(b?.mode.name ?? "-"), \(b?.directions.name ?? "-"), "
                + (b?.enforcement.name ?? "-")
        }
    },
    Command(
        ["load-snapshot"], usage: "load-snapshot --file PATH [--socket PATH] [--json]",
        "hand a table to a running gate: a signed bundle (central export) with a pinned key, else a status snapshot; a bad, unsigned or older one changes nothing"
    ) { args in
        guard let file = try args.value("--file") else { throw CLIError("--file PATH is required") }
        let path = file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
        return try control(&args, .loadSnapshot(path: path)) { a in
            guard case .snapshotLoaded(let v) = a else { return nil }
            return "table version \(v) in service"
        }
    },
]
