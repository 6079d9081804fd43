import FaregateCore
import FaregateRuntime
import Foundation

// farectl: the operator's and bench tester's tool. Each group of commands lives in its own
// Commands+<Topic>.swift file; this table is the only place they meet, and dispatch, every help
// text and the README's command list derive from it (Help.swift).
let commands: [Command] =
    simulateCommands + stationCommands + centralCommands + centralAdminCommands + centralRoleCommands
    + centralJournalCommands + centralIssuerKeyCommands + centralBenchCommands + centralOperationCommands
    + journalCommands + controlCommands
    + policyCommands + policyBenchCommands + cardCommands + snapshotBenchCommands + boardCommands + rideCodeCommands
    + rideCodeBenchCommands

/// One-line summaries of the command groups (`farectl central`, `farectl journal`, …).
let commandGroups: [CommandGroup] = [
    CommandGroup(["simulate"], "run gates and stations in-process on simulated taps"),
    CommandGroup(
        ["central"], "the central store: create, import, bind, health, publish, export, verify, operations, benches"),
    CommandGroup(["journal"], "a gate's journal: print its last entries, check it"),
    CommandGroup(["policy"], "policy files: check, explain a decision, rehearse an office operation, reload a gate"),
    CommandGroup(["card"], "cards through PC/SC: emulate a virtual card for pcscd, read a card"),
    CommandGroup(["board"], "a lane's I/O board over Modbus: emulate one for the bench and the tests"),
    CommandGroup(
        ["ride-code"],
        "ride codes (QR) for the bench: issuer keys, certificates, show, decode, verify, a pty scanner, benches"),
]

func out(_ text: String) { print(text) }

func runCLI(_ argv: [String]) -> Int32 {
    let args = Array(argv.dropFirst())
    let json = args.contains("--json")
    let wantsHelp = args.contains("--help") || args.contains("-h")
    if args.isEmpty {
        warn(topLevelHelp())
        return 2
    }
    if args == ["help"] || args == ["--help"] || args == ["-h"] {
        out(topLevelHelp())
        return 0
    }
    if args == ["help", "--markdown"] {
        out(markdownCommandTable())
        return 0
    }
    if args.first == "--version" {
        guard args.dropFirst().allSatisfy({ $0 == "--json" }) else {
            return printError(
                code: "usage", "--version takes no arguments but --json", command: nil, json: json, status: 2)
        }
        let v = VersionOutput(name: "farectl", version: BuildInfo.version, commit: BuildInfo.commit)
        do { try report(v, json: json) { BuildInfo.line("farectl") } } catch {}
        return 0
    }
    // `farectl help central` is `farectl central --help`.
    if args.first == "help" { return runCLI([argv.first ?? "farectl"] + args.dropFirst() + ["--help"]) }

    // The command words: the longest command whose words begin the line; else the longest group.
    let leading = Array(args.prefix { !$0.hasPrefix("-") })
    let match = commands.filter { leading.starts(with: $0.words) }.max { $0.words.count < $1.words.count }
    guard let command = match else {
        let group = impliedGroups().filter { leading.starts(with: $0) }.max { $0.count < $1.count }
        if let group, leading.count == group.count {
            // `farectl central`: the group's listing; asked for, it is the answer, else a usage error.
            if wantsHelp {
                out(groupHelp(group))
                return 0
            }
            if json {
                return printError(
                    code: "usage", "give a command: " + members(of: group).map(\.name).joined(separator: ", "),
                    command: group, json: true, status: 2)
            }
            warn(groupHelp(group))
            return 2
        }
        let tried =
            leading.isEmpty ? (args.first ?? "") : leading.prefix((group?.count ?? 0) + 1).joined(separator: " ")
        let hint = group.map { "farectl \($0.joined(separator: " ")) --help" } ?? "farectl --help"
        return printError(
            code: "unknown_command", "unknown command '\(tried)' (try \(hint))", command: nil, json: json, status: 2)
    }
    if wantsHelp {
        out(commandHelp(command))
        return 0
    }
    var rest = Arguments(Array(args.dropFirst(command.words.count)))
    do {
        return try command.run(&rest)
    } catch let e as CLIError {
        switch e.kind {
        case .usage:
            return printError(
                code: "usage", e.description, command: command.words, json: json, status: 2, usage: command.usage)
        case .failed:
            return printError(code: "failed", e.description, command: command.words, json: json, status: 1)
        }
    } catch let f as ControlFailure {
        return printError(code: f.code.name, f.message, command: command.words, json: json, status: 1)
    } catch {
        return printError(code: "failed", "\(error)", command: command.words, json: json, status: 1)
    }
}

exit(runCLI(CommandLine.arguments))
