/// Images of a QR symbol for a person or a scanner: terminal text, PBM (netpbm P4) and PNG.
/// Each has a quiet zone of `margin` light modules (ISO/IEC 18004 asks for 4).
extension QRSymbol {
    /// Two module rows per text line with Unicode half blocks. `lightOnDark` (the default, for
    /// terminals with a dark background) draws light modules as blocks, as scanners need dark
    /// modules on a light field.
    public func terminalText(margin: Int = 4, lightOnDark: Bool = true) -> String {
        let size = width + 2 * margin
        var lines: [String] = []
        var y = 0
        while y < size {
            var line = ""
            for x in 0..<size {
                let top = isDark(x - margin, y - margin) != lightOnDark
                let bottom = y + 1 < size ? isDark(x - margin, y + 1 - margin) != lightOnDark : !lightOnDark
                line += top ? (bottom ? "█" : "▀") : (bottom ? "▄" : " ")
            }
            lines.append(line)
            y += 2
        }
        return lines.joined(separator: "\n")
    }

    /// The image as rows of `scale × scale` pixel modules, `true` dark.
    func pixels(scale: Int, margin: Int) -> (side: Int, dark: (Int, Int) -> Bool) {
        let side = (width + 2 * margin) * scale
        return (side, { x, y in isDark(x / scale - margin, y / scale - margin) })
    }

    /// Binary PBM (P4): 1 bits are black.
    public func pbm(scale: Int = 8, margin: Int = 4) -> [UInt8] {
        let (side, dark) = pixels(scale: max(1, scale), margin: max(0, margin))
        var out = Array("P4\n\(side) \(side)\n".utf8)
        let rowBytes = (side + 7) / 8
        for y in 0..<side {
            var row = [UInt8](repeating: 0, count: rowBytes)
            for x in 0..<side where dark(x, y) { row[x / 8] |= 0x80 >> UInt8(x % 8) }
            out += row
        }
        return out
    }

    /// 8-bit greyscale PNG with stored (uncompressed) deflate blocks: valid for every PNG reader
    /// without a compression library; a symbol image is a few hundred KiB at most.
    public func png(scale: Int = 8, margin: Int = 4) -> [UInt8] {
        let (side, dark) = pixels(scale: max(1, scale), margin: max(0, margin))
        var raw: [UInt8] = []
        raw.reserveCapacity(side * (side + 1))
        for y in 0..<side {
            raw.append(0)  // filter: none
            for x in 0..<side { raw.append(dark(x, y) ? 0 : 255) }
        }
        var z: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let n = min(65_535, raw.count - offset)
            let final: UInt8 = offset + n == raw.count ? 1 : 0
            z += [final, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            z += raw[offset..<offset + n]
            offset += n
        } while offset < raw.count
        z.appendBE(PNGChecksum.adler32(raw))
        var ihdr: [UInt8] = []
        ihdr.appendBE(UInt32(side))
        ihdr.appendBE(UInt32(side))
        ihdr += [8, 0, 0, 0, 0]  // 8 bits, greyscale, deflate, no filter method, no interlace
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        for (type, data) in [("IHDR", ihdr), ("IDAT", z), ("IEND", [])] {
            png.appendBE(UInt32(data.count))
            let chunk = Array(type.utf8) + data
            png += chunk
            png.appendBE(PNGChecksum.crc32(chunk))
        }
        return png
    }
}

enum PNGChecksum {
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return ~c
    }

    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1
        var b: UInt32 = 0
        for x in bytes {
            a = (a + UInt32(x)) % 65_521
            b = (b + a) % 65_521
        }
        return b << 16 | a
    }
}

extension Array where Element == UInt8 {
    mutating func appendBE(_ v: UInt32) {
        self += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }
}
