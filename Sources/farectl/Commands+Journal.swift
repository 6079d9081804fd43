import FaregateCore
import FaregateRuntime
import FaregateSodium
import Foundation

extension JournalKeying {
    /// The gate's journal key from FaregateSodium (as the daemon makes and reads it).
    static let gateJournalKey = JournalKeying(
        generate: { try GateJournalKey.generate().secretKeyBytes }, open: { try GateJournalKey(secretKey: $0) })
}

let journalCommands: [Command] = [
    Command(
        ["journal", "key"], usage: "journal key --dir DIR [--json]",
        "print the public half of a gate's journal key (made 0600 in DIR, as the gate would, when there is none) to register centrally"
    ) { args in
        let json = args.flag("--json")
        guard let dir = try args.value("--dir") else {
            throw CLIError("--dir DIR (the gate's journal_dir) is required")
        }
        try args.finish()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CLIError.failed("\(dir) is not a directory; give the gate's journal_dir")
        }
        let (signer, created) = try FileJournal.journalKey(directory: dir, keying: .gateJournalKey)
        struct Out: Encodable {
            var public_key: String
            var created: Bool
        }
        let out = Out(public_key: KeyFile.hex(signer.publicKey), created: created)
        try report(out, json: json) {
            out.public_key
                + (created
                    ? "\n(new key in \(dir)/\(JournalKeyFile.fileName); register it: farectl central gate-keys add GATE \(out.public_key))"
                    : "")
        }
        return 0
    },
    Command(
        ["journal", "tail"], usage: "journal tail [--dir DIR | --socket PATH] [-n N] [--json]",
        "print the last N entries of a gate's journal: from its directory, or from the running gate (the default)"
    ) { args in
        let n = try args.int("-n", default: 20, in: 1...1_000_000)
        guard let dir = try args.value("--dir") else {
            // The running gate, found like every other control command's (`controlSocket`).
            let count = min(n, ControlRequest.journalCounts.upperBound)
            return try control(&args, .journal(count: count)) { a in
                guard case .journal(let entries) = a else { return nil }
                return entries.map(\.textLine).joined(separator: "\n")
            }
        }
        let json = args.flag("--json")
        if try args.value("--socket") != nil { throw CLIError("give --dir DIR or --socket PATH, not both") }
        try args.finish()
        let path = dir + "/journal.log"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError.failed("cannot read \(path)")
        }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").suffix(n)
        var entries: [JournalEntry] = []
        var bad = 0
        for line in lines {
            guard let e = try? JournalCodec.decode(line) else {
                bad += 1
                continue
            }
            entries.append(e)
        }
        // The same `entries` key as the running gate's answer, so `jq .entries` reads both.
        struct Out: Encodable {
            var entries: [JournalEntry]
            var damagedLines: Int
        }
        try report(Out(entries: entries, damagedLines: bad), json: json) {
            entries.map(\.textLine).joined(separator: "\n") + (bad > 0 ? "\n(\(bad) damaged line(s) skipped)" : "")
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
        // Only an existing journal: opening creates what is missing (as the daemon must), and a
        // mistyped directory would then be reported as a healthy, empty journal.
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) else {
            throw CLIError.failed("\(dir) does not exist; give the gate's journal_dir")
        }
        guard isDirectory.boolValue else { throw CLIError.failed("\(dir) is not a directory") }
        guard FileManager.default.fileExists(atPath: dir + "/journal.log") else {
            throw CLIError.failed("\(dir) holds no journal.log; give the gate's journal_dir")
        }
        // With the gate's key when it has one: its lines are checked as the daemon checks them.
        let keyed = FileManager.default.fileExists(atPath: dir + "/" + JournalKeyFile.fileName)
        let journal = try FileJournal(directory: dir, keying: keyed ? .gateJournalKey : nil)
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
