import FaregateRuntime
import Foundation

/// faregated's command line: `--config FILE [--exit-after-script] [--verbose]` to run, or one of
/// `--check-config FILE`, `--version`, `--help`, which print and exit without starting anything.
/// Exit status 2 for a usage error, as `farectl` (README "Exit status").
struct DaemonArguments {
    var configPath: String
    var exitAfterScript = false
    var verbose = false

    static let usage = """
        usage: faregated --config FILE [--exit-after-script] [--verbose]
               faregated --check-config FILE     parse and check the configuration and the files it names, start nothing
               faregated --version               version and git commit
               faregated --help

          --config FILE          the gate's configuration (README "Configuration file"; sample: hardware/faregated.json)
          --exit-after-script    stop once readers.script has played (tests, benches)
          --verbose              log at debug level

        exit status: 0 stopped cleanly (or: the check passed); 1 cannot run (journal not writable, …; or: the
        check found errors); 2 usage or configuration error
        """

    /// Parses `argv` (with the program name first). `--help`, `--version` and `--check-config`
    /// are carried out here and exit; so does a usage error.
    static func parse(_ argv: [String]) -> DaemonArguments {
        var configPath: String?
        var exitAfterScript = false
        var verbose = false
        var args = argv.dropFirst()
        func value(_ option: String) -> String {
            guard let v = args.popFirst(), !v.hasPrefix("--") else { usageError("\(option) needs a FILE") }
            return v
        }
        while let a = args.popFirst() {
            switch a {
            case "--config": configPath = value(a)
            case "--exit-after-script": exitAfterScript = true
            case "--verbose": verbose = true
            case "-h", "--help":
                print(usage)
                exit(0)
            case "--version":
                print(BuildInfo.line("faregated"))
                exit(0)
            case "--check-config":
                let path = value(a)
                guard args.isEmpty else { usageError("--check-config FILE takes no other arguments") }
                exit(ConfigCheck.run(path: path))
            default:
                if let eq = a.firstIndex(of: "="), a[..<eq] == "--config" || a[..<eq] == "--check-config" {
                    args.prepend(contentsOf: [String(a[..<eq]), String(a[a.index(after: eq)...])])
                    continue
                }
                usageError("unknown argument '\(a)'")
            }
        }
        guard let configPath else { usageError("--config FILE is required") }
        return DaemonArguments(configPath: configPath, exitAfterScript: exitAfterScript, verbose: verbose)
    }

    static func usageError(_ message: String) -> Never {
        FileHandle.standardError.write(Data("faregated: \(message)\n\(usage)\n".utf8))
        exit(2)
    }
}

extension ArraySlice {
    fileprivate mutating func prepend(contentsOf items: [Element]) { self = ArraySlice(items + Array(self)) }
}
