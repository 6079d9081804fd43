import Foundation

// farectl: the operator's and bench tester's tool. Each group of commands lives in its own
// Commands+<Topic>.swift file; this list is the only place they meet.
let commands: [Command] =
    simulateCommands + stationCommands + centralCommands + centralAdminCommands + centralBenchCommands
    + centralOperationCommands + journalCommands + controlCommands + policyCommands + policyBenchCommands
    + cardCommands + snapshotBenchCommands + boardCommands

func printUsage() {
    print("usage: farectl <command> [options]   (every command that reports takes --json)\n")
    for c in commands {
        let head = "  " + c.usage
        print(
            head.count < 48
                ? head + String(repeating: " ", count: 48 - head.count) + c.summary
                : head + "\n" + String(repeating: " ", count: 48) + c.summary)
    }
}

func runCLI(_ argv: [String]) -> Int32 {
    let args = Array(argv.dropFirst())
    if args.isEmpty || args == ["help"] || args == ["--help"] || args == ["-h"] {
        printUsage()
        return args.isEmpty ? 2 : 0
    }
    // Longest match of command words.
    let match = commands.filter { args.starts(with: $0.words) }.max { $0.words.count < $1.words.count }
    guard let command = match else {
        FileHandle.standardError.write(
            Data("farectl: unknown command '\(args.prefix(2).joined(separator: " "))' (try farectl help)\n".utf8))
        return 2
    }
    var rest = Arguments(Array(args.dropFirst(command.words.count)))
    do {
        return try command.run(&rest)
    } catch let e as CLIError {
        FileHandle.standardError.write(
            Data("farectl \(command.words.joined(separator: " ")): \(e)\nusage: farectl \(command.usage)\n".utf8))
        return 2
    } catch {
        FileHandle.standardError.write(Data("farectl \(command.words.joined(separator: " ")): \(error)\n".utf8))
        return 1
    }
}

exit(runCLI(CommandLine.arguments))
