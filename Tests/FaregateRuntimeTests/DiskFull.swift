import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `body` while this process may not grow any file past `extraBytes` beyond the current
/// size of `path`: write(2) then fails with EFBIG, exactly where a full disk fails with ENOSPC.
/// (Tests in this target run one at a time, so the process-wide limit touches no other test.)
func whileDiskIsFull<T>(growingPast path: String, by extraBytes: Int, _ body: () throws -> T) throws -> T {
    let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
    signal(SIGXFSZ, SIG_IGN)
    var old = rlimit()
    getrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
    var limited = old
    limited.rlim_cur = rlim_t(size + extraBytes)
    setrlimit(Int32(RLIMIT_FSIZE.rawValue), &limited)
    defer { setrlimit(Int32(RLIMIT_FSIZE.rawValue), &old) }
    return try body()
}
