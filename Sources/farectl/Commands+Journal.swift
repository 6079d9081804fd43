import FaregateCore
import FaregateRuntime
import Foundation

let journalCommands: [Command] = [
    Command(
        ["journal", "tail"], usage: "journal tail (--dir DIR | --socket PATH) [-n N] [--json]",
        "print the last N entries of a gate's journal (its directory, or a running gate)"
    ) { args in
        let n = try args.int("-n", default: 20, in: 1...1_000_000)
        if let socket = try args.value("--socket") {
            var forward = Arguments(["--socket", socket] + (args.flag("--json") ? ["--json"] : []))
            try args.finish()
            return try control(&forward, ["command": "journal", "n": min(n, 10_000)]) { a in
                ((a["entries"] as? [[String: Any]]) ?? []).map(describeEntry).joined(separator: "\n")
            }
        }
        let json = args.flag("--json")
        guard let dir = try args.value("--dir") else { throw CLIError("--dir DIR or --socket PATH is required") }
        try args.finish()
        let path = dir + "/journal.log"
        guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read \(path)") }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").suffix(n)
        struct Row: Encodable {
            var seq: UInt64, wall_ms: Int64, reader: UInt16, card: String, kind: String, outcome: String, reason: String
            var message_zh: String, message_en: String, balance_fen: Int32?, data_version: UInt64
        }
        var rows: [Row] = []
        var bad = 0
        for line in lines {
            guard let e = try? JournalCodec.decode(line) else {
                bad += 1
                continue
            }
            rows.append(
                Row(
                    seq: e.sequence, wall_ms: e.wallMillis, reader: e.reader,
                    card: e.key.rawValue == 0 ? "-" : e.key.description,
                    kind: e.kind.description, outcome: e.decision.outcome.description, reason: e.decision.reason.code,
                    message_zh: e.decision.reason.messageZH, message_en: e.decision.reason.messageEN,
                    balance_fen: e.balanceFen,
                    data_version: e.dataVersion))
        }
        try report(rows, json: json) {
            rows.map {
                "\($0.seq)\t\($0.wall_ms)\tr\($0.reader)\t\($0.card)\t\($0.outcome)\t\($0.reason)\t\($0.message_zh)"
            }
            .joined(separator: "\n") + (bad > 0 ? "\n(\(bad) damaged line(s) skipped)" : "")
        }
        return 0
    },
    Command(
        ["journal", "check"], usage: "journal check --dir DIR [--json]",
        "open a gate's journal as the daemon would (recovering a torn tail) and report its state"
    ) { args in
        let json = args.flag("--json")
        guard let dir = try args.value("--dir") else {
            throw CLIError("--dir DIR (the gate's journal_dir) is required")
        }
        try args.finish()
        let journal = try FileJournal(directory: dir)
        struct State: Encodable {
            var last_sequence: UInt64, acknowledged: UInt64, recovery: [String]
        }
        let s = State(
            last_sequence: journal.lastSequence, acknowledged: journal.acknowledged, recovery: journal.recoveryNotes)
        try report(s, json: json) {
            "journal \(dir): last sequence \(s.last_sequence), acknowledged by central \(s.acknowledged)"
                + s.recovery.map { "\n  recovery: \($0)" }.joined()
        }
        return 0
    },
]
