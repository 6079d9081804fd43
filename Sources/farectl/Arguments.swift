/// Command-line arguments of one `farectl` command, consumed as they are read.
///
/// Flags (`--json`), options with values (`--db FILE` or `--db=FILE`) and positionals. After a
/// command has read what it knows, `finish()` reports anything left over as an error, so typos
/// are never silently ignored.
struct Arguments {
    private var items: [String]

    init(_ items: [String]) { self.items = items }

    /// True (and consumed) when `name` is present.
    mutating func flag(_ name: String) -> Bool {
        guard let i = items.firstIndex(of: name) else { return false }
        items.remove(at: i)
        return true
    }

    /// The value of option `name`, or nil when absent.
    mutating func value(_ name: String) throws(CLIError) -> String? {
        if let i = items.firstIndex(where: { $0.hasPrefix(name + "=") }) {
            let v = String(items[i].dropFirst(name.count + 1))
            items.remove(at: i)
            return v
        }
        guard let i = items.firstIndex(of: name) else { return nil }
        guard i + 1 < items.count else { throw CLIError("option \(name) needs a value") }
        let v = items[i + 1]
        items.removeSubrange(i...(i + 1))
        return v
    }

    /// The value of option `name` parsed as an integer in `range`.
    mutating func int(_ name: String, default def: Int, in range: ClosedRange<Int> = 0...Int.max) throws(CLIError)
        -> Int
    {
        guard let text = try value(name) else { return def }
        guard let n = Int(text), range.contains(n) else {
            throw CLIError(
                "option \(name) takes a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
        }
        return n
    }

    /// The next positional argument, or nil.
    mutating func positional() -> String? {
        guard let i = items.firstIndex(where: { !$0.hasPrefix("--") }) else { return nil }
        return items.remove(at: i)
    }

    /// Fails when arguments are left that no one read.
    func finish() throws(CLIError) {
        if !items.isEmpty { throw CLIError("unknown argument(s): \(items.joined(separator: " "))") }
    }
}

/// What stops a command: a usage error (exit status 2, printed with the command's usage) or a
/// refusal or failure of the operation itself (`CLIError.failed`, exit status 1: a file that cannot
/// be read, a key that exists, a gate that is not there).
struct CLIError: Error, CustomStringConvertible {
    enum Kind { case usage, failed }
    var kind: Kind
    var description: String
    /// A usage error: the command line itself is wrong.
    init(_ message: String) {
        kind = .usage
        description = message
    }
    /// The operation was refused or failed; the command line was fine.
    static func failed(_ message: String) -> CLIError {
        var e = CLIError(message)
        e.kind = .failed
        return e
    }
}
