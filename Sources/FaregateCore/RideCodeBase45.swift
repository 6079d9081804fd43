/// Base45 (RFC 9285): bytes as text of the QR code's alphanumeric mode, so a QR symbol carries them
/// in 5.5 bits per character instead of 8. Two bytes `a b` become three characters `c d e` with
/// `a·256 + b = c + d·45 + e·45²`; a last single byte becomes two characters.
///
/// Pure and total: decoding never traps on any input. It refuses a character outside the 45 of
/// the alphabet, a length of 1 mod 3, and a group whose value is too large for its bytes (RFC 9285
/// §6: "ZZZ" is 91 124 > 65 535), and says where.
public enum Base45 {
    /// The 45 characters, in value order (RFC 9285 §4, table 1).
    public static let alphabet: [UInt8] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".utf8)

    /// Value of each byte in the alphabet, 0xFF for bytes outside it.
    static let values: [UInt8] = {
        var v = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { v[Int(c)] = UInt8(i) }
        return v
    }()

    /// Why a text is not Base45; `offset` counts characters (bytes of the text) from its start.
    public enum DecodingError: Error, Hashable, Sendable, CustomStringConvertible {
        /// The byte at `offset` is not one of the 45 characters (lower-case letters are not).
        case notInAlphabet(offset: Int, byte: UInt8)
        /// A text of 3n+1 characters cannot come from any bytes.
        case badLength(Int)
        /// The group starting at `offset` encodes more than its bytes can hold.
        case groupTooLarge(offset: Int)

        public var description: String {
            switch self {
            case .notInAlphabet(let offset, let byte):
                let shown = byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "byte \(byte)"
                return "\(shown) at character \(offset) is not in the Base45 alphabet"
            case .badLength(let n): return "\(n) characters is not a Base45 length (3n or 3n+2)"
            case .groupTooLarge(let offset): return "the group at character \(offset) is larger than its bytes"
            }
        }
    }

    /// The Base45 text of `bytes`.
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 1) / 2 * 3)
        var it = bytes.makeIterator()
        while let a = it.next() {
            if let b = it.next() {
                var n = Int(a) << 8 | Int(b)
                for _ in 0..<3 {
                    out.append(alphabet[n % 45])
                    n /= 45
                }
            } else {
                out.append(alphabet[Int(a) % 45])
                out.append(alphabet[Int(a) / 45])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of Base45 `text` (its UTF-8 bytes).
    public static func decode(_ text: some Collection<UInt8>) throws(DecodingError) -> [UInt8] {
        let count = text.count
        guard count % 3 != 1 else { throw .badLength(count) }
        var out: [UInt8] = []
        out.reserveCapacity(count / 3 * 2 + 1)
        var group: (Int, Int, Int) = (0, 0, 0)
        var filled = 0
        var offset = 0
        for c in text {
            let v = values[Int(c)]
            guard v != 0xFF else { throw .notInAlphabet(offset: offset, byte: c) }
            switch filled {
            case 0: group.0 = Int(v)
            case 1: group.1 = Int(v)
            default: group.2 = Int(v)
            }
            filled += 1
            offset += 1
            if filled == 3 {
                let n = group.0 + group.1 * 45 + group.2 * 45 * 45
                guard n <= 0xFFFF else { throw .groupTooLarge(offset: offset - 3) }
                out.append(UInt8(n >> 8))
                out.append(UInt8(n & 0xFF))
                filled = 0
            }
        }
        if filled == 2 {
            let n = group.0 + group.1 * 45
            guard n <= 0xFF else { throw .groupTooLarge(offset: offset - 2) }
            out.append(UInt8(n))
        }
        return out
    }
}
