import CQREncode
import Foundation

/// An error from libqrencode: the text does not fit a QR symbol, or the library failed.
public struct QREncodeError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    /// `errno` as libqrencode left it (`EINVAL`, `ENOMEM`, `ERANGE` for a text too long).
    public var errno: Int32
    public var description: String { "libqrencode: \(message) (errno \(errno))" }
}

/// A QR symbol: `width × width` modules, row by row, `true` for a dark module. Renders itself as
/// terminal text and as PBM and PNG images (pure Swift; no image library).
public struct QRSymbol: Hashable, Sendable {
    public let version: Int
    public let width: Int
    public let modules: [Bool]

    public init(version: Int, width: Int, modules: [Bool]) {
        self.version = version
        self.width = width
        self.modules = modules
    }

    /// Dark at (x, y); the quiet zone and everything outside the symbol is light.
    public func isDark(_ x: Int, _ y: Int) -> Bool {
        guard x >= 0, y >= 0, x < width, y < width else { return false }
        return modules[y * width + x]
    }
}

/// QR encoding through libqrencode, the only module importing `CQREncode`.
public enum QREncoder {
    public enum Level: Sendable { case low, medium, quartile, high }

    /// The smallest symbol of `text` at `level`; libqrencode chooses the modes, so a ride code's
    /// text (Base45: the QR alphanumeric set) is coded in alphanumeric mode. Wraps
    /// `QRcode_encodeString` (case-sensitive) and `QRcode_free`.
    public static func encode(_ text: String, level: Level = .medium) throws(QREncodeError) -> QRSymbol {
        let l: QRecLevel =
            switch level {
            case .low: QR_ECLEVEL_L
            case .medium: QR_ECLEVEL_M
            case .quartile: QR_ECLEVEL_Q
            case .high: QR_ECLEVEL_H
            }
        guard !text.utf8.contains(0) else { throw QREncodeError(message: "text holds a NUL byte", errno: EINVAL) }
        guard let code = QRcode_encodeString(text, 0, l, QR_MODE_8, 1) else {
            throw QREncodeError(message: "QRcode_encodeString failed", errno: Foundation.errno)
        }
        defer { QRcode_free(code) }
        let width = Int(code.pointee.width)
        guard width > 0, width <= 177, let data = code.pointee.data else {
            throw QREncodeError(message: "QRcode_encodeString gave width \(width)", errno: 0)
        }
        // Bit 0 of each byte is the module's colour (1 dark); the other bits are libqrencode's own.
        let modules = (0..<width * width).map { data[$0] & 1 == 1 }
        return QRSymbol(version: Int(code.pointee.version), width: width, modules: modules)
    }
}
