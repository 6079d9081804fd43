import Foundation

/// The version and git commit of this build: one place for `--version` on both executables and
/// the `faregate_build_info` metric.
///
/// `version` is the release this source tree is (changed with each release). The commit cannot
/// be known to a plain `swift build` of a clean clone without a build plugin or a generated
/// source file, and the project has neither, so it is `unknown` unless the installed binary is
/// told: the environment variable `FAREGATE_BUILD_COMMIT` (set it in the unit or by the packaging
/// step, e.g. `Environment=FAREGATE_BUILD_COMMIT=<git rev-parse HEAD>`). Only a hex commit id is
/// taken from it, so the value is safe to put in a Prometheus label or a log line.
public enum BuildInfo {
    public static let version = "0.1.0"

    /// The git commit (hex, 7–40 digits), or `unknown`.
    public static let commit: String = commit(from: ProcessInfo.processInfo.environment["FAREGATE_BUILD_COMMIT"])

    /// `value` when it is a hex commit id of 7 to 40 digits, otherwise `unknown`.
    public static func commit(from value: String?) -> String {
        guard let value, (7...40).contains(value.count), value.allSatisfy(\.isHexDigit) else { return "unknown" }
        return value.lowercased()
    }

    /// `faregated 0.1.0 (commit abc1234)`.
    public static func line(_ program: String) -> String { "\(program) \(version) (commit \(commit))" }
}
