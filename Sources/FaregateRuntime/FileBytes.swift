#if canImport(Glibc)
    import Glibc
#endif

/// Reads a whole (small or state) file with POSIX calls, refusing one larger than the caller's
/// limit before allocating for it.
///
/// Why not `FileManager.contents(atPath:)`: the fuzzer found that it leaks 4 KiB on every read of
/// an empty file on Linux (swift-foundation's `Data+Reading.swift` zero-size path mallocs a chunk
/// for files that report size 0, and a zero-length result never frees it) — and an empty
/// `journal.log` is what every gate has after a rotation; it also allocates whatever size the
/// file has, where an `acked` file is one short line.
enum FileBytes {
    enum Failure: Error, Equatable {
        /// `open`, `fstat` or `read` failed with this errno.
        case system(Int32)
        /// The file is larger than the limit (its size).
        case tooLarge(Int)
    }

    /// The file's bytes; nil when it does not exist.
    static func read(_ path: String, maxBytes: Int) throws(Failure) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw .system(errno)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .system(errno) }
        let size = Int(st.st_size)
        guard size <= maxBytes else { throw .tooLarge(size) }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { b in
                b.baseAddress.map { Glibc.read(fd, $0 + done, size - done) } ?? 0
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(errno)
            }
            if n == 0 { break }  // the file shrank meanwhile: what was there
            done += n
        }
        return done == size ? bytes : Array(bytes[..<done])
    }
}
