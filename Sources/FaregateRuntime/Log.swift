import FaregateCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The daemon's log: one line per message on standard error, which journald captures under
/// systemd.
///
/// Under journald (`JOURNAL_STREAM` names standard error, see `Style.detect`) each line starts with
/// its sd-daemon priority prefix (`<3>` error, `<4>` warning, `<6>` info, `<7>` debug), so
/// `journalctl -p warning` finds warnings and errors, and journald adds the time. Anywhere else
/// each line starts with an ISO-8601 UTC timestamp to the millisecond. Warnings and errors carry
/// `WARNING:` / `ERROR:` either way, so they stand out in plain text too.
///
/// The level (`minimumLevel`, the config's `log_level`) is set once at start, before any thread.
/// Thread-safe: each line is one `write(2)`; a message below the level is never built.
public enum Log {
    public enum Level: Int, Comparable, Sendable, CaseIterable, NamedCase {
        case debug = 0, info, warning, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        /// The spelling of `log_level` in the configuration file.
        public var name: String { ["debug", "info", "warning", "error"][rawValue] }
        /// The syslog priority journald reads from the `<N>` prefix (sd-daemon(3)).
        public var syslogPriority: Int { [7, 6, 4, 3][rawValue] }
        /// What the line says after the time or prefix; info lines say nothing.
        var marker: String { ["DEBUG: ", "", "WARNING: ", "ERROR: "][rawValue] }
    }

    /// How lines start.
    public enum Style: Sendable, Equatable {
        /// `<6>message`: journald adds time, unit and priority.
        case journald
        /// `2025-01-02T03:04:05.678Z message`.
        case timestamped

        /// Journald's style when `journalStream` (the `JOURNAL_STREAM` variable, `DEVICE:INODE`)
        /// names the file standard error is (`stderr`, its device and inode): systemd sets the
        /// variable for a service whose output goes to the journal, and a child whose standard
        /// error was redirected elsewhere must not take the prefixes into a file.
        public static func detect(journalStream: String?, stderr: (device: UInt64, inode: UInt64)?) -> Style {
            guard let journalStream, let stderr else { return .timestamped }
            let parts = journalStream.split(separator: ":")
            guard parts.count == 2, let dev = UInt64(parts[0]), let ino = UInt64(parts[1]) else { return .timestamped }
            return dev == stderr.device && ino == stderr.inode ? .journald : .timestamped
        }

        /// The style for this process: `detect` on its environment and standard error.
        static var current: Style {
            var st = stat()
            let stderr = fstat(2, &st) == 0 ? (UInt64(st.st_dev), UInt64(st.st_ino)) : nil
            return detect(journalStream: ProcessInfo.processInfo.environment["JOURNAL_STREAM"], stderr: stderr)
        }
    }

    nonisolated(unsafe) public static var minimumLevel: Level = .info  // set once at startup, before threads
    /// Decided once, on the first line logged.
    static let style = Style.current
    private static let clock = SystemClock()

    public static func debug(_ m: @autoclosure () -> String) { emit(.debug, m) }
    public static func info(_ m: @autoclosure () -> String) { emit(.info, m) }
    public static func warning(_ m: @autoclosure () -> String) { emit(.warning, m) }
    public static func error(_ m: @autoclosure () -> String) { emit(.error, m) }

    /// Whether a message at `level` is logged (for work done only to build a message).
    public static func enabled(_ level: Level) -> Bool { level >= minimumLevel }

    static func emit(_ level: Level, _ m: () -> String) {
        guard level >= minimumLevel else { return }
        let line = format(level, m(), style: style, wallMillis: clock.wallMillis())
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// One log line with its newline: a pure function of the level, the message, the style and
    /// the time. A newline inside the message would split it into lines journald reads as
    /// separate messages at the default priority, so it is written as `\n`.
    public static func format(_ level: Level, _ message: String, style: Style, wallMillis: Int64) -> String {
        let text = message.contains("\n") ? message.replacingOccurrences(of: "\n", with: "\\n") : message
        switch style {
        case .journald: return "<\(level.syslogPriority)>\(level.marker)\(text)\n"
        case .timestamped: return "\(iso8601(wallMillis: wallMillis)) \(level.marker)\(text)\n"
        }
    }

    /// `wallMillis` (Unix milliseconds) as `YYYY-MM-DDThh:mm:ss.mmmZ`, without Foundation's
    /// formatters (which are not free to share between threads): days to a civil date by Howard
    /// Hinnant's `civil_from_days`.
    public static func iso8601(wallMillis: Int64) -> String {
        let (days, msOfDay) = wallMillis.quotientAndRemainder(dividingBy: 86_400_000)
        let (d, ms) = msOfDay < 0 ? (days - 1, msOfDay + 86_400_000) : (days, msOfDay)
        let z = d + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ v: Int64, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        let seconds = ms / 1000
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(seconds / 3600, 2)):"
            + "\(pad(seconds / 60 % 60, 2)):\(pad(seconds % 60, 2)).\(pad(ms % 1000, 3))Z"
    }
}
