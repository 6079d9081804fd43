import FaregateCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The journal's `acked` state file: the highest sequence the central store holds contiguously.
///
/// Format: one line, `SEQUENCE CRC32\n`, the CRC-32 (hex) over the decimal digits, so a torn or
/// flipped file is told from a real number (a flipped digit used to read as a valid, wrong
/// sequence). Files written before the checksum (`SEQUENCE\n`) are still read: gates in service
/// have them. Either way the sequence must be within `JournalEntry.maxSequence`.
///
/// An unreadable file is never fatal: the acknowledgement is only an optimisation of the upload
/// (central upload is idempotent), so the journal then re-uploads from its start.
public enum AckedFile {
    /// The file's bytes for `sequence`.
    public static func encode(_ sequence: UInt64) -> [UInt8] {
        let digits = String(sequence)
        return Array((digits + " " + String(CRC32.checksum(digits.utf8), radix: 16) + "\n").utf8)
    }

    /// The sequence in `bytes`; nil when they are not an `acked` file of either format, the
    /// checksum does not match, or the number is past `JournalEntry.maxSequence`.
    public static func parse(_ bytes: [UInt8]) -> UInt64? {
        // A real file is one short line; anything longer is not one (and is not scanned).
        guard bytes.count <= 64 else { return nil }
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let fields = text.split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count == 1 || fields.count == 2, let sequence = UInt64(fields[0]),
            sequence <= JournalEntry.maxSequence
        else { return nil }
        if fields.count == 2 {
            guard let stored = UInt32(fields[1], radix: 16), stored == CRC32.checksum(fields[0].utf8) else {
                return nil
            }
        }
        return sequence
    }

    /// The sequence in `directory/acked`: 0 when there is no file, nil when it is unreadable
    /// (logged; the caller decides what to count on instead).
    static func read(directory: String) -> UInt64? {
        let path = directory + "/acked"
        let data: [UInt8]
        do {
            guard let read = try FileBytes.read(path, maxBytes: 4096) else { return 0 }
            data = read
        } catch {
            Log.warning("journal \(path): cannot read acknowledged sequence (\(error)); will re-upload from the start")
            return nil
        }
        guard let sequence = parse(data) else {
            let shown = String(decoding: data.prefix(64), as: UTF8.self).debugDescription
            Log.warning("journal \(path): unreadable acknowledged sequence \(shown); will re-upload from the start")
            return nil
        }
        return sequence
    }

    /// Replaces `directory/acked` with `sequence`, durably: an unpredictable temp file created
    /// `O_EXCL` (never through a planted symlink), written, `fsync`ed, renamed over `acked`, and
    /// the directory `fsync`ed so the rename survives a power cut.
    static func write(_ sequence: UInt64, directory: String) throws(JournalError) {
        let target = directory + "/acked"
        var template = Array((directory + "/acked.tmp-XXXXXX").utf8CString)
        // mkstemp: O_CREAT | O_EXCL, mode 0600 (mkostemp would need _GNU_SOURCE; the daemon does
        // not fork, so the descriptor's lack of O_CLOEXEC for these few calls leaks nowhere).
        let fd = template.withUnsafeMutableBufferPointer { t in t.baseAddress.map { mkstemp($0) } ?? -1 }
        guard fd >= 0 else { throw JournalError(path: target, message: "cannot create a temp file", errno: errno) }
        let temp = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var renamed = false
        defer { if !renamed { unlink(temp) } }
        let bytes = encode(sequence)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = written == bytes.count && fsync(fd) == 0
        let code = errno
        close(fd)
        guard synced else {
            throw JournalError(path: temp, message: "cannot write acknowledged sequence", errno: code)
        }
        guard rename(temp, target) == 0 else {
            throw JournalError(path: target, message: "cannot replace acknowledged sequence", errno: errno)
        }
        renamed = true
        let d = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if d >= 0 {
            _ = fsync(d)
            close(d)
        }
    }
}
