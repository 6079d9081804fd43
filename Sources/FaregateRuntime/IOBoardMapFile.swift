import FaregateCore

#if canImport(Glibc)
    import Glibc
#endif

/// The one reading of an I/O board register map file (`io.map`, `farectl board emulate --map`,
/// `faregate-modbus-bench --map`): the file's bytes (a map is a few hundred bytes; one larger than
/// `maxBytes` is refused before anything is allocated for it), strictly decoded and checked
/// (`IOBoardMap.parse`: overlaps and missing signals refused with the setting named).
public enum IOBoardMapFile {
    /// Far above any real map (the shipped ones are under 2 KiB).
    public static let maxBytes = 64 * 1024

    /// Why a map file was not taken; the description starts with the path.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case missing(String)
        case unreadable(String, errno: Int32)
        case tooLarge(String, bytes: Int)
        case invalid(String, String)

        public var description: String {
            switch self {
            case .missing(let path): "\(path) does not exist"
            case .unreadable(let path, let code): "\(path) cannot be read: \(String(cString: strerror(code)))"
            case .tooLarge(let path, let n): "\(path) is \(n) bytes, larger than a map can be (\(maxBytes))"
            case .invalid(let path, let why): "\(path): \(why)"
            }
        }
    }

    /// The checked map in the file at `path`.
    public static func read(_ path: String) throws(Failure) -> IOBoardMap {
        let bytes: [UInt8]
        do {
            guard let read = try FileBytes.read(path, maxBytes: maxBytes) else { throw Failure.missing(path) }
            bytes = read
        } catch let f as Failure {
            throw f
        } catch FileBytes.Failure.tooLarge(let n) {
            throw .tooLarge(path, bytes: n)
        } catch FileBytes.Failure.system(let code) {
            throw .unreadable(path, errno: code)
        } catch {
            throw .unreadable(path, errno: EIO)
        }
        do { return try IOBoardMap.parse(bytes) } catch { throw .invalid(path, "\(error)") }
    }
}
