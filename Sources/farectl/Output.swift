import FaregateCore
import Foundation

/// Prints a command's report: as one JSON object with `--json`, otherwise as text for a person.
///
/// One key convention for every `--json` output: snake_case, as the configuration, the policy
/// files and the control protocol spell their keys. Report types name their fields in Swift style
/// and the encoder converts them (`messageZH` → `message_zh`); keys that are data (a medium's
/// name in a count by medium) are dictionary keys, which the conversion leaves alone.
func report<T: Encodable>(_ value: T, json: Bool, text: () -> String) throws {
    if json {
        print(String(decoding: try jsonData(value), as: UTF8.self))
    } else {
        print(text())
    }
}

/// `value` as farectl's JSON: snake_case keys, sorted, slashes unescaped (paths read as paths).
func jsonData<T: Encodable>(_ value: T) throws -> Data {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return try encoder.encode(value)
}

/// Writes a line to standard error.
func warn(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// How farectl reports an error. With `--json` it is one JSON object on standard output, so a
/// script reads either the report or the error from the same place and the exit status says
/// which: `{"error": {"code": "usage", "message": "…", "command": "central init"}}`. `code` is
/// `usage` (exit status 2), `unknown_command` (2), `failed` (1), or the gate's own failure code
/// for a control command (`permission_denied`, `unsupported`, `timeout`, …; exit status 1).
/// Without `--json` it is `farectl COMMAND: message` on standard error.
struct ErrorOutput: Encodable {
    struct Body: Encodable {
        var code: String
        var message: String
        var command: String?
    }
    var error: Body
}

/// Prints an error in the form `json` asks for (see `ErrorOutput`) and returns `status`.
func printError(code: String, _ message: String, command: [String]?, json: Bool, status: Int32, usage: String? = nil)
    -> Int32
{
    let name = command.map { $0.joined(separator: " ") }
    if json {
        let out = ErrorOutput(error: .init(code: code, message: message, command: name))
        if let data = try? jsonData(out) { print(String(decoding: data, as: UTF8.self)) }
    } else {
        warn("farectl" + (name.map { " " + $0 } ?? "") + ": " + message)
        if let usage, let name {
            warn("usage: farectl \(usage)\n(farectl \(name) --help for more)")
        }
    }
    return status
}
