import FaregateCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Key files: one line of lowercase hex (an Ed25519 public or secret key, an ID-hash key).
public enum KeyFile {
    public struct Error: Swift.Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public static func hex(_ bytes: [UInt8]) -> String { Hex.lowercase(bytes) }

    /// Reads the key at `path`, which must hold exactly `bytes` bytes.
    public static func read(_ path: String, bytes: Int) throws(Error) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Error(description: "cannot read key file \(path)")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let out = Hex.bytes(exact: text) else { throw Error(description: "key file \(path) is not hex") }
        guard out.count == bytes else {
            throw Error(description: "key file \(path) holds \(out.count) bytes, expected \(bytes)")
        }
        return out
    }
}

extension KeyFile {
    /// Writes `bytes` as a new key file at `path` (which must not exist): created
    /// `O_CREAT | O_EXCL | O_NOFOLLOW` with its final mode (0600 for a secret, 0644 for a public
    /// key) before the first byte is written, so a secret is never readable by anyone else, not
    /// even for the moment between creation and a chmod (issue 14). A failure removes the file.
    public static func write(_ path: String, _ bytes: [UInt8], secret: Bool) throws(Error) {
        let fd: Int32
        do { fd = try SafeFile.create(path, mode: secret ? 0o600 : 0o644) } catch {
            throw Error(description: "key file \(error)")
        }
        let line = Array((hex(bytes) + "\n").utf8)
        let written = line.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = written == line.count && fsync(fd) == 0
        let code = errno
        close(fd)
        guard synced else {
            unlink(path)
            throw Error(description: "key file \(path): cannot write (\(String(cString: strerror(code))))")
        }
        SafeFile.syncDirectory(of: path)
    }
}
