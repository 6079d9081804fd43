import FaregateRuntime

// Help texts, all derived from the command table (`commands`, `commandGroups` in main.swift).

/// The exit statuses every command uses, for `farectl --help`, each command's help and README.
let exitStatusText = """
    exit status: 0 done; 1 refused or failed (the gate said no, a file cannot be read, a card read
    failed); 2 usage error (unknown command or argument, a missing or malformed option)
    """

/// The conventions every command shares, for `farectl --help`.
let conventionsText = """
    --help, -h      on every command and group: its usage and what it does
    --json          on every command that reports: one JSON object on standard output, snake_case
                    keys; an error is then {"error": {"code": …, "message": …, "command": …}},
                    also on standard output (code: usage, unknown_command, failed, or the gate's)
    --socket PATH   commands for a running gate: its control socket; default
                    $FAREGATE_CONTROL_SOCKET, else \(GateConfig.defaultControlSocket)
    --version       farectl's version and the git commit it was built from
    """

/// A two-column listing: name padded to a column, then the summary.
func listing(_ rows: [(String, String)]) -> String {
    let width = min(30, (rows.map(\.0.count).max() ?? 0) + 2)
    return rows.map { name, summary in
        let head = "  " + name
        return head.count < width + 2
            ? head + String(repeating: " ", count: width + 2 - head.count) + summary
            : head + "\n" + String(repeating: " ", count: width + 2) + summary
    }.joined(separator: "\n")
}

/// Every group `commands` implies (each proper prefix of a command's words), in table order.
func impliedGroups() -> [[String]] {
    var seen: [[String]] = []
    for c in commands {
        for n in stride(from: 1, to: c.words.count, by: 1) {
            let prefix = Array(c.words.prefix(n))
            if !seen.contains(prefix) { seen.append(prefix) }
        }
    }
    return seen
}

func groupSummary(_ words: [String]) -> String {
    commandGroups.first { $0.words == words }?.summary ?? "commands: farectl \(words.joined(separator: " ")) --help"
}

/// Commands directly under `words` (one more word), then deeper ones, in table order.
func members(of words: [String]) -> [Command] {
    commands.filter { $0.words.count > words.count && $0.words.starts(with: words) }
}

/// `farectl --help`: top-level commands and groups with their summaries, conventions, exit codes.
func topLevelHelp() -> String {
    var rows: [(String, String)] = []
    var shown: Set<String> = []
    for c in commands {
        let first = c.words[0]
        if c.words.count == 1 {
            let more = members(of: c.words).map(\.name)
            rows.append((first, c.summary + (more.isEmpty ? "" : " (also: \(more.joined(separator: ", ")))")))
        } else if !shown.contains(first) && !commands.contains(where: { $0.words == [first] }) {
            rows.append((first + " …", groupSummary([first])))
        }
        shown.insert(first)
    }
    return """
        usage: farectl COMMAND [options]        farectl COMMAND --help for its options

        commands:
        \(listing(rows))

        \(conventionsText)

        \(exitStatusText)
        """
}

/// `farectl central --help` (and plain `farectl central`): the group's commands.
func groupHelp(_ words: [String]) -> String {
    let name = words.joined(separator: " ")
    let rows = members(of: words).map { ($0.name, $0.summary) }
    return """
        farectl \(name): \(groupSummary(words))

        commands:
        \(listing(rows))

        farectl \(name) COMMAND --help for a command's options
        """
}

/// `farectl status --help`: usage, summary, the notes that apply, exit codes, subcommands.
func commandHelp(_ c: Command) -> String {
    var parts = ["usage: farectl \(c.usage)", c.summary]
    var notes: [String] = []
    if c.usage.contains("--socket") {
        notes.append(
            "--socket PATH: the gate's control socket (default $FAREGATE_CONTROL_SOCKET, else "
                + "\(GateConfig.defaultControlSocket))")
    }
    if c.usage.contains("--json") {
        notes.append(
            "--json: one JSON object on standard output, snake_case keys; errors as {\"error\": {…}} there too")
    }
    if !notes.isEmpty { parts.append(notes.joined(separator: "\n")) }
    parts.append(exitStatusText)
    let sub = members(of: c.words)
    if !sub.isEmpty { parts.append("commands under farectl \(c.name):\n" + listing(sub.map { ($0.name, $0.summary) })) }
    return parts.joined(separator: "\n\n")
}

/// The README's command table (`farectl help --markdown`); `CLITests` checks README.md holds it.
func markdownCommandTable() -> String {
    func cell(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|") }
    var lines = ["| command | what |", "| --- | --- |"]
    for c in commands { lines.append("| `farectl \(cell(c.usage))` | \(cell(c.summary)) |") }
    return lines.joined(separator: "\n")
}

/// `farectl --version`.
struct VersionOutput: Encodable {
    var name: String
    var version: String
    var commit: String
}
