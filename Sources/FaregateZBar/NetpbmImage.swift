/// Netpbm images (PBM P1/P4, PGM P2/P5) as greyscale, for `farectl ride-code decode --image`:
/// the formats `ride-code show` writes and any image tool converts to (`convert x.png x.pgm`).
/// The file is outside input: every size is checked before memory is allocated, and any damage
/// is an error, never a trap.
public enum NetpbmImage {
    public struct FormatError: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The image of netpbm `bytes`.
    public static func decode(_ bytes: [UInt8]) throws(FormatError) -> GreyImage {
        var i = 0
        func fail(_ m: String) -> FormatError { FormatError(description: m) }
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "P"), (1...5).contains(Int(bytes[1]) - 48), bytes[1] != 51
        else { throw fail("not a PBM or PGM image (P1, P2, P4, P5)") }
        let kind = Int(bytes[1]) - 48
        i = 2
        func skipSpaceAndComments() {
            while i < bytes.count {
                if bytes[i] == UInt8(ascii: "#") {
                    while i < bytes.count && bytes[i] != 0x0A { i += 1 }
                } else if [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) {
                    i += 1
                } else {
                    return
                }
            }
        }
        func number() throws(FormatError) -> Int {
            skipSpaceAndComments()
            var n = 0
            var digits = 0
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 {
                guard digits < 6 else { throw fail("a header number is too large") }
                n = n * 10 + Int(bytes[i] - 48)
                digits += 1
                i += 1
            }
            guard digits > 0 else { throw fail("the header is cut short or not a number") }
            return n
        }
        let width = try number()
        let height = try number()
        guard width > 0, height > 0, width <= 1 << 14, height <= 1 << 14 else {
            throw fail("\(width)×\(height) is not an image size this reads (up to 16384)")
        }
        let maxValue = kind == 1 || kind == 4 ? 1 : try number()
        guard (1...255).contains(maxValue) else { throw fail("max value \(maxValue) is not 1…255") }
        var pixels = [UInt8](repeating: 255, count: width * height)
        switch kind {
        case 4, 5:
            guard i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) else {
                throw fail("no space after the header")
            }
            i += 1
            let rowBytes = kind == 4 ? (width + 7) / 8 : width
            guard bytes.count - i >= rowBytes * height else { throw fail("the pixel data is cut short") }
            for y in 0..<height {
                for x in 0..<width {
                    if kind == 4 {
                        let bit = bytes[i + y * rowBytes + x / 8] & (0x80 >> UInt8(x % 8))
                        pixels[y * width + x] = bit != 0 ? 0 : 255
                    } else {
                        pixels[y * width + x] = UInt8(Int(bytes[i + y * width + x]) * 255 / maxValue)
                    }
                }
            }
        default:
            for p in 0..<width * height {
                let v = try number()
                guard v <= maxValue else { throw fail("pixel value \(v) is above \(maxValue)") }
                pixels[p] = kind == 1 ? (v == 1 ? 0 : 255) : UInt8(v * 255 / maxValue)
            }
        }
        guard let image = GreyImage(width: width, height: height, pixels: pixels) else { throw fail("bad size") }
        return image
    }
}
