/// One `farectl` command: the words that select it, its usage line, a one-line summary, and its
/// body.
///
/// Every command is a row of the one table in `main.swift` (`commands`); dispatch, `--help` of a
/// command and of a group, `farectl --help` and the README's command list (`farectl help
/// --markdown`) are all derived from it. The body returns the process exit status: 0 success,
/// 1 the operation was refused or failed, 2 usage error (see `exitStatusText`).
struct Command: Sendable {
    var words: [String]
    /// The usage line without the leading `farectl `.
    var usage: String
    var summary: String
    var run: @Sendable (inout Arguments) throws -> Int32

    init(
        _ words: [String], usage: String, _ summary: String, run: @escaping @Sendable (inout Arguments) throws -> Int32
    ) {
        self.words = words
        self.usage = usage
        self.summary = summary
        self.run = run
    }

    var name: String { words.joined(separator: " ") }
}

/// A group of commands that share leading words (`central`, `journal`): `farectl central` and
/// `farectl central --help` list its commands. Every proper prefix of a command's words is a
/// group; this gives the group its one-line summary for `farectl --help`.
struct CommandGroup: Sendable {
    var words: [String]
    var summary: String

    init(_ words: [String], _ summary: String) {
        self.words = words
        self.summary = summary
    }

    var name: String { words.joined(separator: " ") }
}
