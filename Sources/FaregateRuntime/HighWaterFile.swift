import FaregateCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The journal's `high-water` state file: the highest sequence the gate has ever handed out
/// (issue 16.6). It outlives rotation and a lost journal tail, so a sequence is never numbered
/// twice: at start the next sequence comes after max(journal, `acked`, high-water, central).
///
/// Format: two fixed slots of `slotSize` bytes, each one line
/// `HW1 GENERATION SEQUENCE CRC32` padded with spaces to the slot's last byte, a newline. A write
/// goes to the slot of the older generation (`pwrite` + `fdatasync`), so a torn write damages at
/// most the slot being written and the other one still holds the previous mark (which is never
/// behind a sequence anyone saw: the journal append that raises the mark returns, and its entries
/// are uploaded, only after the write is durable). Read: the valid slot of the highest generation.
///
/// A file that exists but has no valid slot is refused (`HighWaterFile.Failure.unreadable`): the
/// gate must not start numbering at 1 again; the operator checks central's highest record for the
/// gate and removes the file (the next start then rebuilds it from the journal and central).
public final class HighWaterFile: @unchecked Sendable {
    // @unchecked Sendable: `fd`, `generation` and `mark` are touched only by the journal's writer
    // thread (and by `init`).
    public static let slotSize = 64
    public static let fileName = "high-water"

    public enum Failure: Error, Equatable, CustomStringConvertible, Sendable {
        /// The file exists and neither slot holds a valid mark.
        case unreadable(path: String)
        /// A system call failed (errno).
        case system(path: String, what: String, errno: Int32)

        public var description: String {
            switch self {
            case .unreadable(let path):
                "\(path): no valid high-water mark in either slot; refusing to number sequences again from the journal alone (check central's highest record for this gate, then remove the file)"
            case .system(let path, let what, let code): "\(path): \(what) (\(String(cString: strerror(code))))"
            }
        }
    }

    public let path: String
    private let fd: Int32
    private let fsyncEnabled: Bool
    private var generation: UInt64
    /// The mark last made durable.
    public private(set) var mark: UInt64
    /// Whether `init` created the file (first start, or the file was gone): the mark is then
    /// only what the journal itself remembers, and central's highest record must be asked.
    public let created: Bool

    /// The bytes of one slot holding `sequence` at `generation`.
    public static func encodeSlot(generation: UInt64, sequence: UInt64) -> [UInt8] {
        let body = "HW1 \(generation) \(sequence)"
        var line = Array((body + " " + String(CRC32.checksum(body.utf8), radix: 16)).utf8)
        line.append(contentsOf: [UInt8](repeating: UInt8(ascii: " "), count: max(0, slotSize - 1 - line.count)))
        line.append(UInt8(ascii: "\n"))
        return line
    }

    /// (generation, sequence) of a slot; nil when it is not a valid slot.
    public static func parseSlot(_ bytes: ArraySlice<UInt8>) -> (generation: UInt64, sequence: UInt64)? {
        guard bytes.count == slotSize, bytes.last == UInt8(ascii: "\n") else { return nil }
        let text = String(decoding: bytes.dropLast(), as: UTF8.self)
        let f = text.split(separator: " ")
        guard f.count == 4, f[0] == "HW1", let generation = UInt64(f[1]), let sequence = UInt64(f[2]),
            sequence <= JournalEntry.maxSequence, let crc = UInt32(f[3], radix: 16),
            crc == CRC32.checksum("HW1 \(f[1]) \(f[2])".utf8)
        else { return nil }
        return (generation, sequence)
    }

    /// The newest valid slot of a whole file's bytes; nil when there is none.
    public static func parse(_ bytes: [UInt8]) -> (generation: UInt64, sequence: UInt64)? {
        guard bytes.count == 2 * slotSize else { return nil }
        let slots = [parseSlot(bytes[0..<slotSize]), parseSlot(bytes[slotSize..<(2 * slotSize)])].compactMap { $0 }
        return slots.max { $0.generation < $1.generation }
    }

    /// Opens `directory/high-water`, creating it with `floor` (durably: temp file, fsync, rename,
    /// directory fsync) when it does not exist. An existing mark below `floor` is raised to it.
    public init(directory: String, floor: UInt64, fsync: Bool = true) throws(Failure) {
        path = directory + "/" + Self.fileName
        fsyncEnabled = fsync
        let existing: [UInt8]?
        do { existing = try FileBytes.read(path, maxBytes: 4096) } catch {
            if case .system(let code) = error { throw .system(path: path, what: "cannot read", errno: code) }
            throw .unreadable(path: path)
        }
        if let existing {
            guard let (g, s) = Self.parse(existing) else { throw .unreadable(path: path) }
            generation = g
            mark = s
            created = false
        } else {
            var bytes = Self.encodeSlot(generation: 1, sequence: floor)
            bytes += Self.encodeSlot(generation: 0, sequence: floor)
            var written = true
            do throws(SafeFile.Error) {
                if fsync {
                    try SafeFile.replace(path, with: bytes, mode: 0o600)
                } else {
                    // Throwaway runs (`journal_fsync: false`, the fuzz targets): no fsync.
                    let fd = try SafeFile.create(path, mode: 0o600)
                    written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count
                    close(fd)
                }
            } catch {
                throw .system(path: error.path, what: error.message, errno: error.errno)
            }
            guard written else { throw .system(path: path, what: "cannot write the high-water mark", errno: EIO) }
            generation = 1
            mark = floor
            created = true
        }
        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw .system(path: path, what: "cannot open for writing", errno: errno) }
        if mark < floor { try raise(to: floor) }
    }

    deinit { close(fd) }

    /// Makes `sequence` the durable mark (nothing to do when the mark is already there or past it).
    public func raise(to sequence: UInt64) throws(Failure) {
        guard sequence > mark else { return }
        let next = generation &+ 1
        let bytes = Self.encodeSlot(generation: next, sequence: sequence)
        let offset = off_t(Int(next % 2) * Self.slotSize)
        let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, offset) }
        guard n == bytes.count else {
            throw .system(path: path, what: "cannot write the high-water mark", errno: n < 0 ? errno : EIO)
        }
        if fsyncEnabled && fdatasync(fd) != 0 {
            throw .system(path: path, what: "cannot make the high-water mark durable", errno: errno)
        }
        generation = next
        mark = sequence
    }
}
