import CFaregateBuildInfo

/// What build this is: the release version and the git commit, for `--version` on both
/// executables, the start-up log and the `faregate_build_info` metric.
///
/// The commit is stamped at build time: `FAREGATE_COMMIT=$(git rev-parse --short HEAD) swift build
/// -c release` (Package.swift hands the variable to the `CFaregateBuildInfo` C target); a plain
/// `swift build` of a clean clone says `unknown`. Only a hex commit id is taken, so the value is
/// safe in a Prometheus label or a log line.
public enum BuildInfo {
    /// The release version of faregate (both executables share it).
    public static let version = "0.1.0"

    /// The git commit the binaries were built from (hex, 7–40 digits), or `unknown`.
    public static let commit = commit(from: String(cString: CFaregateBuildInfo_commit()))

    /// `value` when it is a hex commit id of 7 to 40 digits, otherwise `unknown`.
    public static func commit(from value: String?) -> String {
        guard let value, (7...40).contains(value.count), value.allSatisfy(\.isHexDigit) else { return "unknown" }
        return value.lowercased()
    }

    /// `NAME VERSION (commit COMMIT)`, the first line of `--version`.
    public static func line(_ name: String) -> String { "\(name) \(version) (commit \(commit))" }
}
