import CFaregateBuildInfo

/// What build this is: the release version and the git commit, for `--version`, the start-up log
/// and `faregate_build_info`.
///
/// The commit is stamped at build time: `FAREGATE_COMMIT=$(git rev-parse --short HEAD) swift build
/// -c release` (Package.swift hands the variable to the `CFaregateBuildInfo` C target); a plain
/// `swift build` of a clean clone says `unknown`.
public enum BuildInfo {
    /// The release version of faregate (both executables share it).
    public static let version = "0.1.0"

    /// The git commit the binaries were built from, or `unknown`.
    public static let commit = String(cString: CFaregateBuildInfo_commit())

    /// `NAME VERSION (commit COMMIT)`, the first line of `--version`.
    public static func line(_ name: String) -> String { "\(name) \(version) (commit \(commit))" }
}
