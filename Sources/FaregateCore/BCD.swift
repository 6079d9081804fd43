/// Binary-coded decimal, as transit cards store numbers and dates (two digits per byte, high nibble first).
public enum BCD {
    /// The decimal digits of `bytes`; nil when any nibble is above 9.
    public static func digits(_ bytes: some Sequence<UInt8>) -> String? {
        var out = ""
        for b in bytes {
            let hi = b >> 4, lo = b & 0x0F
            guard hi <= 9, lo <= 9 else { return nil }
            out.unicodeScalars.append(Unicode.Scalar(0x30 + hi))
            out.unicodeScalars.append(Unicode.Scalar(0x30 + lo))
        }
        return out
    }

    /// Encodes an even number of decimal digits; nil for an odd count or a non-digit.
    public static func encode(_ digits: some StringProtocol) -> [UInt8]? {
        let values = digits.unicodeScalars.map { $0.value }
        guard values.count % 2 == 0, values.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(values.count / 2)
        var i = 0
        while i < values.count {
            out.append(UInt8(values[i] - 0x30) << 4 | UInt8(values[i + 1] - 0x30))
            i += 2
        }
        return out
    }

    /// A date stored as BCD `YYYYMMDD` (4 bytes).
    public enum DateField: Hashable, Sendable {
        /// All zero or all FF: the card leaves the field unset.
        case unset
        case date(CalendarDate)
    }

    /// Decodes a 4-byte BCD date; nil when the bytes are not BCD or not a calendar date.
    public static func date(_ bytes: some Collection<UInt8>) -> DateField? {
        guard bytes.count == 4 else { return nil }
        if bytes.allSatisfy({ $0 == 0 }) || bytes.allSatisfy({ $0 == 0xFF }) { return .unset }
        guard let text = digits(bytes), let d = CalendarDate(text) else { return nil }
        return .date(d)
    }

    /// Encodes a date as 4 BCD bytes.
    public static func encode(_ date: CalendarDate) -> [UInt8] {
        let text = String(date.description.filter { $0 != "-" })
        return encode(text) ?? [0, 0, 0, 0]
    }
}
