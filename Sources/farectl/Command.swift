/// One `farectl` command: the words that select it, a one-line summary, and its body.
///
/// Command groups live in `Commands+<Topic>.swift` files, each contributing a static list that
/// `main.swift` concatenates. The body returns the process exit status (0 success, 1 failure of
/// the operation, 2 usage error).
struct Command: Sendable {
    var words: [String]
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
}
