import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One `faregated` per journal directory: an advisory lock (`flock(LOCK_EX | LOCK_NB)`) on
/// `DIR/faregated.lock`, held for the life of the value (the descriptor is closed, and the lock
/// released, in `deinit` or when the process ends, however it ends: a `kill -9` frees it too).
///
/// Two daemons on one journal would both hand out sequence numbers from the same last entry and
/// write duplicates (issue 14); the second one is refused before it opens the journal. The file
/// holds the holder's pid (for the refusal's message only: the lock, not the file's content, is
/// what excludes). `flock` rather than `fcntl` record locks: an `fcntl` lock belongs to the
/// process and is dropped when *any* descriptor of the file is closed, a `flock` lock belongs to
/// this one open file description.
///
/// The directory is created 0700 when missing (it holds the journal, the snapshot and the
/// acknowledgement state: nobody but the daemon's user has business there).
public final class InstanceLock: Sendable {
    public struct Error: Swift.Error, CustomStringConvertible, Sendable {
        public var path: String
        /// The pid written by the daemon holding the lock, when it could be read.
        public var holder: Int32?
        public var message: String
        public var description: String { "\(path): \(message)" }
    }

    public let path: String
    private let fd: Int32

    /// Takes the lock for `directory`, creating the directory (0700) and the lock file (0600).
    /// Throws at once, without waiting, when another process holds it.
    public init(directory: String) throws(Error) {
        path = directory + "/faregated.lock"
        try Self.createDirectory(directory)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw Error(path: path, message: "cannot open the lock file (\(String(cString: strerror(errno))))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let holder = Self.readPID(fd)
            close(fd)
            guard code == EWOULDBLOCK else {
                throw Error(path: path, message: "cannot lock (\(String(cString: strerror(code))))")
            }
            let who = holder.map { "faregated pid \($0)" } ?? "another faregated"
            throw Error(
                path: path, holder: holder,
                message:
                    "the journal directory \(directory) is in use by \(who); refusing to start a second daemon on it"
            )
        }
        // Ours now: record the pid for the message a second daemon prints.
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        self.fd = fd
    }

    deinit { close(fd) }

    /// The pid in the lock file; nil when it holds none.
    static func readPID(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Creates `directory` and any missing parents with mode 0700 (an existing one is left as it
    /// is: an operator may have chosen its mode and group).
    static func createDirectory(_ directory: String) throws(Error) {
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw Error(path: directory, message: "cannot create the state directory: \(error.localizedDescription)")
        }
    }
}
