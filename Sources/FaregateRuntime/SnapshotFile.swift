import FaregateCore
import Glibc

/// Status-table snapshot files: atomic, durable writes and zero-copy loads through `mmap`.
///
/// Write: temp file in the same directory → write header and body → `fsync` → `rename` over the
/// target → `fsync` of the directory (so the rename itself survives a power cut). A reader never
/// sees a half-written file under the target name.
///
/// Load: `mmap` read-only (`MAP_PRIVATE | MAP_POPULATE`), validate with `StatusSnapshot` (header,
/// exact length, checksum, index bounds) and return a table that reads the mapping in place; the
/// mapping is unmapped when the last table using it goes. A file that fails validation throws
/// `SnapshotFileError` naming the file and the problem, and nothing is published: the caller
/// keeps the previous version in service.
///
/// Files are only ever replaced by rename, never modified in place, so a mapping stays valid
/// (it keeps the old inode) while a newer snapshot is written.
public enum SnapshotFile {
    /// Writes `table` to `path` atomically and durably.
    public static func write(_ table: CompactStatusTable, to path: String) throws(SnapshotFileError) {
        // An unpredictable temp name created O_EXCL | O_NOFOLLOW (issue 14: `PATH.tmp-PID` opened
        // without them followed a planted symlink, as root).
        let fd: Int32
        let temp: String
        do { (fd, temp) = try SafeFile.createTemp(beside: path, mode: 0o644) } catch {
            throw SnapshotFileError(path: error.path, problem: .system("open", error.errno))
        }
        var ok = false
        defer {
            if !ok { unlink(temp) }
        }
        do {
            defer { close(fd) }
            let header = StatusSnapshot.header(for: table)
            // (The closure APIs rethrow untyped errors, so the typed error is carried out as a value.)
            if let e = header.withUnsafeBytes({ writeAll(fd, $0, path: temp) }) { throw e }
            if let e = StatusSnapshot.withBody(of: table, { writeAll(fd, $0, path: temp) }) { throw e }
            guard fsync(fd) == 0 else { throw SnapshotFileError(path: temp, problem: .system("fsync", errno)) }
        }
        guard rename(temp, path) == 0 else { throw SnapshotFileError(path: path, problem: .system("rename", errno)) }
        ok = true
        let directory = Self.directory(of: path)
        let dfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dfd >= 0 else { throw SnapshotFileError(path: directory, problem: .system("open directory", errno)) }
        defer { close(dfd) }
        guard fsync(dfd) == 0 else {
            throw SnapshotFileError(path: directory, problem: .system("fsync directory", errno))
        }
    }

    /// Where a loaded table's bytes live.
    public enum Placement: Sendable {
        /// Served straight from the read-only file mapping (zero copy; 4 KiB page-cache pages:
        /// this kernel has no huge pages for file mappings).
        case mapped
        /// Read once into anonymous memory advised for transparent huge pages (`TableMemory`):
        /// one copy at load; afterwards the table no longer depends on the file (a file
        /// truncated in place cannot fault a lookup) and random lookups take fewer page walks.
        /// What `faregated` uses; BENCHMARKS.md has both load times and both lookup times.
        case hugePageCopy
    }

    /// Loads and validates the snapshot at `path` (see `Placement`; `.mapped` by default).
    public static func load(_ path: String, placement: Placement = .mapped) throws(SnapshotFileError)
        -> CompactStatusTable
    {
        switch placement {
        case .mapped: try loadMapped(path)
        case .hugePageCopy: try loadCopied(path)
        }
    }

    /// Reads the whole file into table memory with `read`, then validates it in place.
    static func loadCopied(_ path: String) throws(SnapshotFileError) -> CompactStatusTable {
        let (fd, size) = try openSnapshot(path)
        defer { close(fd) }
        let memory = TableMemory(byteCount: size)
        let destination = memory.mutableBytes
        var done = 0
        while done < size {
            let n = read(fd, destination + done, min(size - done, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw SnapshotFileError(path: path, problem: .system("read", errno))
            }
            // The file shrank under us (it is only ever replaced by rename, so this is damage).
            if n == 0 {
                throw SnapshotFileError(
                    path: path, problem: .format(.truncated(expectedBytes: size, actualBytes: done)))
            }
            done += n
        }
        do {
            return try StatusSnapshot.table(
                validating: UnsafeRawBufferPointer(start: destination, count: size), owner: memory)
        } catch {
            throw SnapshotFileError(path: path, problem: .format(error))
        }
    }

    /// Opens `path` read-only and returns the descriptor and the file size, after reading and
    /// checking the header alone: a file whose size is not exactly what its header declares, or
    /// whose body is past `StatusSnapshot.maxBodyBytes`, is refused before anything is mapped or
    /// allocated for it (issue 13: a huge file handed to `load-snapshot` used to get memory for
    /// its whole size first, and the gate aborted). The caller closes the descriptor.
    static func openSnapshot(_ path: String) throws(SnapshotFileError) -> (fd: Int32, size: Int) {
        // O_NONBLOCK: opening a FIFO someone named as a snapshot returns at once (and is refused
        // below) instead of blocking the control thread; it changes nothing for regular files.
        // O_NOFOLLOW: a symlink is refused (ELOOP) rather than followed to whatever it names.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW)
        guard fd >= 0 else { throw SnapshotFileError(path: path, problem: .system("open", errno)) }
        var ok = false
        defer { if !ok { close(fd) } }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SnapshotFileError(path: path, problem: .system("fstat", errno)) }
        // Not a regular file (a FIFO, a device): its size says nothing, and reading could block.
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw SnapshotFileError(path: path, problem: .format(.notASnapshot))
        }
        let size = Int(st.st_size)
        var header = [UInt8](repeating: 0, count: StatusSnapshot.headerSize)
        let got = header.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard got >= 0 else { throw SnapshotFileError(path: path, problem: .system("read", errno)) }
        // (The closure API rethrows untyped errors, so the typed error is carried out as a value.)
        let checked = header.withUnsafeBytes { h in
            Result { () throws(StatusSnapshotError) in
                try StatusSnapshot.layout(ofHeader: UnsafeRawBufferPointer(rebasing: h[0..<got]))
            }
        }
        let layout: StatusSnapshot.Layout
        switch checked {
        case .success(let l): layout = l
        case .failure(let e): throw SnapshotFileError(path: path, problem: .format(e))
        }
        guard size >= layout.fileLength else {
            throw SnapshotFileError(
                path: path, problem: .format(.truncated(expectedBytes: layout.fileLength, actualBytes: size)))
        }
        guard size == layout.fileLength else {
            throw SnapshotFileError(
                path: path, problem: .format(.trailingBytes(expectedBytes: layout.fileLength, actualBytes: size)))
        }
        ok = true
        return (fd, size)
    }

    /// Maps and validates the snapshot at `path`.
    static func loadMapped(_ path: String) throws(SnapshotFileError) -> CompactStatusTable {
        let (fd, size) = try openSnapshot(path)
        defer { close(fd) }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0),
            base != UnsafeMutableRawPointer(bitPattern: -1)
        else { throw SnapshotFileError(path: path, problem: .system("mmap", errno)) }
        let mapping = FileMapping(base: base, size: size)
        do {
            return try StatusSnapshot.table(
                validating: UnsafeRawBufferPointer(start: base, count: size), owner: mapping)
        } catch {
            throw SnapshotFileError(path: path, problem: .format(error))
        }
    }

    /// Writes all of `bytes`, retrying short writes and EINTR; the error, if any, as a value.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) -> SnapshotFileError? {
        guard var p = bytes.baseAddress else { return nil }
        var left = bytes.count
        while left > 0 {
            let n = Glibc.write(fd, p, min(left, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                return SnapshotFileError(path: path, problem: .system("write", errno))
            }
            p += n
            left -= n
        }
        return nil
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

/// A read-only file mapping, unmapped when the last table using it is freed.
final class FileMapping: @unchecked Sendable {
    // @unchecked Sendable: the mapping is PROT_READ and never changes; munmap runs in deinit only.
    let base: UnsafeMutableRawPointer
    let size: Int
    init(base: UnsafeMutableRawPointer, size: Int) {
        self.base = base
        self.size = size
    }
    deinit { munmap(base, size) }
}

/// A snapshot file that could not be written or loaded: which file, and what is wrong with it.
public struct SnapshotFileError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Problem: Equatable, Sendable {
        /// A system call failed with `errno`.
        case system(String, Int32)
        /// The bytes are not a valid snapshot.
        case format(StatusSnapshotError)
        /// A valid snapshot, but older than the table in service (version, version in service).
        case olderThanInService(UInt64, UInt64)
        /// A gate with a pinned key was handed something that is not a bundle of publications
        /// verified with that key for its network and environment (an unsigned table, a foreign
        /// key, another environment's publication, a version past 2^63 − 1).
        case unverified(SyncVerificationError)
        /// Larger than a gate reads (bytes, limit).
        case tooLarge(Int, Int)
    }
    public var path: String
    public var problem: Problem

    public init(path: String, problem: Problem) {
        self.path = path
        self.problem = problem
    }

    public var description: String {
        switch problem {
        case .system(let call, let code): "status snapshot \(path): \(call) failed: \(String(cString: strerror(code)))"
        case .format(let e): "status snapshot \(path): \(e)"
        case .olderThanInService(let v, let current):
            "status snapshot \(path): version \(v) is older than version \(current) in service; refused"
        case .unverified(let e): "signed table \(path): refused: \(e)"
        case .tooLarge(let size, let limit):
            "signed table \(path): \(size) bytes, past the \(limit)-byte limit; refused"
        }
    }
}
