import FaregateRuntime
import Foundation

/// Sends one request to a running gate and prints the answer (JSON with --json).
func control(_ args: inout Arguments, _ request: [String: Any], text: ([String: Any]) -> String) throws -> Int32 {
    let json = args.flag("--json")
    let socket = try args.value("--socket") ?? GateConfig.defaultControlSocket
    try args.finish()
    let answer = try ControlClient.send(request, to: socket)
    let ok = answer["ok"] as? Bool ?? false
    if json {
        let data = try JSONSerialization.data(withJSONObject: answer, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    } else if ok {
        print(text(answer))
    } else {
        warn("farectl: \(answer["error"] as? String ?? "the gate refused")")
    }
    return ok ? 0 : 1
}

func field(_ a: [String: Any], _ k: String) -> String { a[k].map { "\($0)" } ?? "-" }

func describeEntry(_ e: [String: Any]) -> String {
    "\(field(e, "seq"))\tr\(field(e, "reader"))\t\(field(e, "card"))\t\(field(e, "outcome"))\t\(field(e, "reason"))\t\(field(e, "message_zh")) / \(field(e, "message_en"))"
}

let controlCommands: [Command] = [
    Command(
        ["status"], usage: "status [--socket PATH] [--json]",
        "state of a running gate: table, data age, journal, counters"
    ) {
        args in
        try control(&args, ["command": "status"]) { a in
            [
                "gate_id", "uptime_s", "taps", "rejected", "table_cards", "table_version", "data_age_s",
                "journal_last_sequence",
                "journal_acknowledged", "syncs", "sync_failures", "journal_failures", "reader_losses",
                "last_sync_failure", "barrier_state", "barrier_mode", "barrier_directions", "barrier_enforcement",
                "passages", "alarm", "alarms",
            ]
            .filter { a[$0] != nil }.map { $0.padding(toLength: 24, withPad: " ", startingAt: 0) + field(a, $0) }
            .joined(separator: "\n")
        }
    },
    Command(
        ["tap"],
        usage: "tap --card MEDIUM:NUMBER [--reader N] [--fault removed|malformed|unknown-app|remove-after:N|…] [--socket PATH] [--json]",
        "present a card on a running gate's simulated reader and print the decision"
    ) { args in
        guard let card = try args.value("--card") else { throw CLIError("--card MEDIUM:NUMBER is required") }
        var request: [String: Any] = [
            "command": "tap", "card": card, "reader": try args.int("--reader", default: 0, in: 0...15),
        ]
        if let f = try args.value("--fault") { request["fault"] = f }
        return try control(&args, request, text: describeEntry)
    },
    Command(
        ["lookup"], usage: "lookup --card MEDIUM:NUMBER [--socket PATH] [--json]",
        "what a running gate's table says of a card"
    ) {
        args in
        guard let card = try args.value("--card") else { throw CLIError("--card MEDIUM:NUMBER is required") }
        return try control(&args, ["command": "lookup", "card": card]) { a in
            (a["found"] as? Bool ?? false)
                ? "\(field(a, "card")): \(field(a, "binding")), health \(field(a, "health")), blacklisted \(field(a, "blacklisted")), returned \(field(a, "returned")), suspended \(field(a, "suspended")) (table version \(field(a, "table_version")))"
                : "\(field(a, "card")): not in the table (version \(field(a, "table_version")))"
        }
    },
    Command(["sync-now"], usage: "sync-now [--socket PATH] [--json]", "make a running gate sync with central state now")
    { args in
        try control(&args, ["command": "sync-now"]) { a in
            "synced: table version \(field(a, "table_version")), \(field(a, "table_cards")) cards, journal acknowledged \(field(a, "journal_acknowledged"))"
        }
    },
    Command(
        ["metrics"], usage: "metrics [--socket PATH] [--json]", "a running gate's metrics in the Prometheus text format"
    ) {
        args in
        try control(&args, ["command": "metrics"]) { a in (a["text"] as? String ?? "").trimmingCharacters(in: .newlines)
        }
    },
    Command(
        ["policy", "reload"], usage: "policy reload [--era ERA] [--socket PATH] [--json]",
        "make a running gate reload its policy files (optionally pinning an era); a bad file changes nothing"
    ) { args in
        var request: [String: Any] = ["command": "policy-reload"]
        if let era = try args.value("--era") { request["era"] = era }
        return try control(&args, request) { a in "rules in force: \(field(a, "rules"))" }
    },
    Command(
        ["mode"],
        usage:
            "mode [--set normal|emergency-open|out-of-service|closed] [--directions entry-only|exit-only|bidirectional] [--enforcement enforced|shadow] [--reset-alarm] [--socket PATH] [--json]",
        "staff commands to a running gate's barrier (a change during a passage waits for it to end)"
    ) { args in
        var request: [String: Any] = ["command": "mode"]
        if let m = try args.value("--set") { request["mode"] = m }
        if let d = try args.value("--directions") { request["directions"] = d }
        if let e = try args.value("--enforcement") { request["enforcement"] = e }
        if args.flag("--reset-alarm") { request["reset_alarm"] = true }
        return try control(&args, request) { a in
            "barrier \(field(a, "barrier_state")), mode \(field(a, "barrier_mode")), \(field(a, "barrier_directions")), \(field(a, "barrier_enforcement"))"
        }
    },
    Command(
        ["load-snapshot"], usage: "load-snapshot --file PATH [--socket PATH] [--json]",
        "hand a status-table snapshot file to a running gate; a bad or older file changes nothing"
    ) { args in
        guard let file = try args.value("--file") else { throw CLIError("--file PATH is required") }
        let path = file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
        return try control(&args, ["command": "load-snapshot", "path": path]) { a in
            "table version \(field(a, "table_version")) in service"
        }
    },
]
