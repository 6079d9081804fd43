import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Creating files that others must not read or redirect (issue 14): secrets are created with
/// their final mode before the first byte is written, and files replaced by rename are written
/// through a temp file whose name cannot be guessed, created `O_EXCL | O_NOFOLLOW` (a symlink or
/// file planted at that name fails the open instead of being followed or truncated).
public enum SafeFile {
    public struct Error: Swift.Error, CustomStringConvertible, Sendable {
        public var path: String
        public var message: String
        public var errno: Int32
        public var description: String { "\(path): \(message) (\(String(cString: strerror(errno))))" }
    }

    /// Creates `path` (which must not exist) with `mode` and returns it open for writing. Wraps
    /// `open(O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)`; `fchmod` then sets the
    /// mode exactly (the umask may only have narrowed it). The caller closes the descriptor.
    public static func create(_ path: String, mode: mode_t) throws(Error) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else {
            let code = errno
            throw Error(
                path: path, message: code == EEXIST ? "exists; not overwriting it" : "cannot create", errno: code)
        }
        _ = fchmod(fd, mode)
        return fd
    }

    /// Creates a temp file beside `path` (`PATH.tmp-` and 16 random hex digits), with `mode`;
    /// returns its descriptor and name. Retries a name that exists (a planted one, or a leftover).
    public static func createTemp(beside path: String, mode: mode_t) throws(Error) -> (fd: Int32, path: String) {
        var lastError: Error?
        for _ in 0..<8 {
            var rng = SystemRandomNumberGenerator()
            let suffix = String(rng.next(), radix: 16)
            let temp = path + ".tmp-" + String(repeating: "0", count: 16 - suffix.count) + suffix
            do {
                return (try create(temp, mode: mode), temp)
            } catch {
                guard error.errno == EEXIST || error.errno == ELOOP else { throw error }
                lastError = error
            }
        }
        throw lastError ?? Error(path: path, message: "cannot create a temp file", errno: EEXIST)
    }

    /// Replaces `path` with `bytes` atomically and durably: a temp file (`createTemp`) written
    /// and `fsync`ed, renamed over `path`, then the directory `fsync`ed so the rename survives a
    /// power cut. A failure leaves `path` as it was and removes the temp file.
    public static func replace(_ path: String, with bytes: some Collection<UInt8>, mode: mode_t) throws(Error) {
        let (fd, temp) = try createTemp(beside: path, mode: mode)
        var renamed = false
        defer { if !renamed { unlink(temp) } }
        let data = Array(bytes)
        var written = 0
        var failure: Int32 = 0
        while written < data.count {
            let n = data.withUnsafeBytes { raw in
                raw.baseAddress.map { write(fd, $0 + written, raw.count - written) } ?? 0
            }
            if n < 0 {
                if errno == EINTR { continue }
                failure = errno
                break
            }
            written += n
        }
        if failure == 0, fsync(fd) != 0 { failure = errno }
        close(fd)
        guard failure == 0 else { throw Error(path: temp, message: "cannot write", errno: failure) }
        guard rename(temp, path) == 0 else { throw Error(path: path, message: "cannot replace", errno: errno) }
        renamed = true
        syncDirectory(of: path)
    }

    /// `fsync` of the directory holding `path` (best effort: some file systems refuse it).
    public static func syncDirectory(of path: String) {
        let directory = (path as NSString).deletingLastPathComponent
        let d = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if d >= 0 {
            _ = fsync(d)
            close(d)
        }
    }
}
