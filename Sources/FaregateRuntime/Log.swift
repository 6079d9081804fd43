import Foundation

/// Minimal structured logging to standard error (journald captures it under systemd).
///
/// Thread-safe: each line is one `write(2)`.
public enum Log {
    public enum Level: Int, Comparable, Sendable {
        case debug = 0, info, warning, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        var tag: String { ["debug", "info", "warning", "error"][rawValue] }
    }

    nonisolated(unsafe) public static var minimumLevel: Level = .info  // set once at startup, before threads

    public static func debug(_ m: @autoclosure () -> String) { emit(.debug, m) }
    public static func info(_ m: @autoclosure () -> String) { emit(.info, m) }
    public static func warning(_ m: @autoclosure () -> String) { emit(.warning, m) }
    public static func error(_ m: @autoclosure () -> String) { emit(.error, m) }

    static func emit(_ level: Level, _ m: () -> String) {
        guard level >= minimumLevel else { return }
        FileHandle.standardError.write(Data("faregate \(level.tag): \(m())\n".utf8))
    }
}
