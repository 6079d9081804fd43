import FaregateCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// How the journal gets its key (issue 16.5): the runtime does not link libsodium, so the
/// composition root hands in the two operations (FaregateSodium's `GateJournalKey`).
public struct JournalKeying: Sendable {
    /// A fresh 64-byte Ed25519 secret key.
    public var generate: @Sendable () throws -> [UInt8]
    /// The signer of a secret key read from the key file.
    public var open: @Sendable ([UInt8]) throws -> any JournalBatchSigner

    public init(
        generate: @escaping @Sendable () throws -> [UInt8],
        open: @escaping @Sendable ([UInt8]) throws -> any JournalBatchSigner
    ) {
        self.generate = generate
        self.open = open
    }
}

/// The gate's journal key file, `journal.key` in the journal directory: the 64-byte Ed25519
/// secret key as one hex line, then `legacy-ceiling N`, the highest sequence of the journal when
/// the key was made (J1 lines, written before there was a key, are trusted up to it and no
/// further: a J1 line numbered after it is one the gate did not write).
///
/// Created `O_CREAT | O_EXCL | O_NOFOLLOW` with mode 0600 before the first byte is written (never
/// chmod-ed after); a key file whose mode grants anything to group or others is refused, as is
/// one owned by another user: whoever could read it could forge the gate's lines.
public enum JournalKeyFile {
    public static let fileName = "journal.key"

    public struct Loaded {
        public var secretKey: [UInt8]
        public var legacyCeiling: UInt64
        public var created: Bool
    }

    /// Reads the key in `directory`, or makes one (`generate`) with `legacyCeiling` when there is
    /// none. Errors name the file and the problem.
    public static func loadOrCreate(
        directory: String, legacyCeiling: () -> UInt64, generate: () throws -> [UInt8]
    ) throws(KeyFile.Error) -> Loaded {
        let path = directory + "/" + fileName
        var st = stat()
        if lstat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFREG else {
                throw KeyFile.Error(description: "\(path) is not a regular file")
            }
            guard st.st_mode & 0o077 == 0 else {
                throw KeyFile.Error(
                    description:
                        "\(path) has mode \(String(st.st_mode & 0o777, radix: 8)); a gate key must be 0600 (refused)")
            }
            guard st.st_uid == geteuid() else {
                throw KeyFile.Error(description: "\(path) belongs to another user (refused)")
            }
            return try read(path)
        }
        guard errno == ENOENT else {
            throw KeyFile.Error(description: "\(path): cannot stat (\(String(cString: strerror(errno))))")
        }
        let secret: [UInt8]
        do { secret = try generate() } catch {
            throw KeyFile.Error(description: "cannot generate a gate key: \(error)")
        }
        let ceiling = legacyCeiling()
        let fd: Int32
        do { fd = try SafeFile.create(path, mode: 0o600) } catch {
            throw KeyFile.Error(description: "key file \(error)")
        }
        let text = Array((KeyFile.hex(secret) + "\nlegacy-ceiling \(ceiling)\n").utf8)
        let written = text.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = written == text.count && fsync(fd) == 0
        let code = errno
        close(fd)
        guard synced else {
            unlink(path)
            throw KeyFile.Error(description: "key file \(path): cannot write (\(String(cString: strerror(code))))")
        }
        SafeFile.syncDirectory(of: path)
        return Loaded(secretKey: secret, legacyCeiling: ceiling, created: true)
    }

    static func read(_ path: String) throws(KeyFile.Error) -> Loaded {
        guard let data = FileManager.default.contents(atPath: path), data.count < 4096 else {
            throw KeyFile.Error(description: "cannot read key file \(path)")
        }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        guard lines.count == 2, let secret = Hex.bytes(exact: lines[0]), secret.count == 64,
            lines[1].hasPrefix("legacy-ceiling "), let ceiling = UInt64(lines[1].dropFirst("legacy-ceiling ".count)),
            ceiling <= JournalEntry.maxSequence
        else { throw KeyFile.Error(description: "key file \(path) is not a gate journal key") }
        return Loaded(secretKey: secret, legacyCeiling: ceiling, created: false)
    }
}
