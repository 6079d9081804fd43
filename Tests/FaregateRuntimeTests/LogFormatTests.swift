import FaregateRuntime
import XCTest

/// The log line as a pure function of level, message, style and time; the style from
/// `JOURNAL_STREAM` and standard error's identity.
final class LogFormatTests: XCTestCase {
    func testJournaldLinesCarryTheirPriority() {
        let rows: [(Log.Level, String)] = [
            (.debug, "<7>DEBUG: tap seq=3\n"), (.info, "<6>tap seq=3\n"), (.warning, "<4>WARNING: tap seq=3\n"),
            (.error, "<3>ERROR: tap seq=3\n"),
        ]
        for (level, expected) in rows {
            XCTAssertEqual(Log.format(level, "tap seq=3", style: .journald, wallMillis: 0), expected, level.name)
        }
    }

    func testOtherwiseEveryLineStartsWithItsUTCTime() {
        let rows: [(Log.Level, Int64, String)] = [
            (.info, 0, "1970-01-01T00:00:00.000Z gate up\n"),
            (.warning, 1_700_000_000_123, "2023-11-14T22:13:20.123Z WARNING: gate up\n"),
            (.error, 951_782_400_999, "2000-02-29T00:00:00.999Z ERROR: gate up\n"),
            (.debug, 4_107_542_399_001, "2100-02-28T23:59:59.001Z DEBUG: gate up\n"),
            (.info, -1, "1969-12-31T23:59:59.999Z gate up\n"),
        ]
        for (level, ms, expected) in rows {
            XCTAssertEqual(Log.format(level, "gate up", style: .timestamped, wallMillis: ms), expected, "\(ms)")
        }
    }

    /// A message with a newline stays one line (journald would read two messages, the second at
    /// the default priority).
    func testAMessageIsAlwaysOneLine() {
        for style in [Log.Style.journald, .timestamped] {
            let line = Log.format(.error, "bad\nfile", style: style, wallMillis: 5)
            XCTAssertEqual(line.filter { $0 == "\n" }.count, 1, line)
            XCTAssertTrue(line.hasSuffix("bad\\nfile\n"), line)
        }
    }

    func testJournaldStyleOnlyWhenJournalStreamNamesStandardError() {
        let stderr: (device: UInt64, inode: UInt64) = (64769, 123_456)
        let rows: [(String?, (device: UInt64, inode: UInt64)?, Log.Style, UInt)] = [
            ("64769:123456", stderr, .journald, #line),
            (nil, stderr, .timestamped, #line),
            ("64769:999", stderr, .timestamped, #line),  // stderr redirected away from the journal
            ("1:123456", stderr, .timestamped, #line),
            ("64769", stderr, .timestamped, #line),
            ("x:y", stderr, .timestamped, #line),
            ("64769:123456", nil, .timestamped, #line),
        ]
        for (stream, fd, expected, line) in rows {
            XCTAssertEqual(Log.Style.detect(journalStream: stream, stderr: fd), expected, line: line)
        }
    }

    func testLevelsAreOrderedAndNamedAsTheConfigSpellsThem() {
        XCTAssertEqual(Log.Level.names, ["debug", "info", "warning", "error"])
        XCTAssertEqual(Log.Level.allCases.map(\.syslogPriority), [7, 6, 4, 3])
        XCTAssertTrue(Log.Level.debug < .info && Log.Level.info < .warning && Log.Level.warning < .error)
    }

    func testBuildCommitIsAHexIdOrUnknown() {
        XCTAssertEqual(BuildInfo.commit(from: nil), "unknown")
        XCTAssertEqual(BuildInfo.commit(from: "ABCDEF1"), "abcdef1")
        XCTAssertEqual(BuildInfo.commit(from: String(repeating: "a", count: 40)), String(repeating: "a", count: 40))
        for bad in ["", "abc", "abcdefg", "abc\"def0", String(repeating: "a", count: 41)] {
            XCTAssertEqual(BuildInfo.commit(from: bad), "unknown", bad)
        }
        XCTAssertTrue(BuildInfo.line("faregated").hasPrefix("faregated \(BuildInfo.version) (commit "))
    }
}
