import CZBar

/// An error from libzbar: the scanner could not be made or the image could not be scanned.
public struct ZBarError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { "libzbar: \(message)" }
}

/// A greyscale image, one byte per pixel (0 black … 255 white), row by row.
public struct GreyImage: Hashable, Sendable {
    public let width: Int
    public let height: Int
    public let pixels: [UInt8]

    public init?(width: Int, height: Int, pixels: [UInt8]) {
        guard width > 0, height > 0, width <= 1 << 14, height <= 1 << 14, pixels.count == width * height else {
            return nil
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

/// Reads QR symbols out of an image with libzbar, the only module importing `CZBar`.
public enum ZBarScanner {
    /// The texts of every QR symbol zbar finds in `image` (only QR is enabled). Wraps
    /// `zbar_image_scanner_create`, `zbar_image_scanner_set_config`, `zbar_image_create` with the
    /// `Y800` (greyscale) format, `zbar_scan_image` and the symbol iterator.
    public static func qrTexts(in image: GreyImage) throws(ZBarError) -> [String] {
        guard let scanner = zbar_image_scanner_create() else {
            throw ZBarError(message: "zbar_image_scanner_create failed")
        }
        defer { zbar_image_scanner_destroy(scanner) }
        _ = zbar_image_scanner_set_config(scanner, ZBAR_NONE, ZBAR_CFG_ENABLE, 0)
        guard zbar_image_scanner_set_config(scanner, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1) == 0 else {
            throw ZBarError(message: "zbar_image_scanner_set_config(QR) failed")
        }
        guard let zimage = zbar_image_create() else { throw ZBarError(message: "zbar_image_create failed") }
        defer { zbar_image_destroy(zimage) }
        // fourcc 'Y800': 8-bit greyscale.
        let y800 =
            UInt(UInt8(ascii: "Y")) | UInt(UInt8(ascii: "8")) << 8 | UInt(UInt8(ascii: "0")) << 16
            | UInt(UInt8(ascii: "0")) << 24
        zbar_image_set_format(zimage, y800)
        zbar_image_set_size(zimage, UInt32(image.width), UInt32(image.height))
        // zbar only reads the pixels during zbar_scan_image, inside this borrow; no cleanup handler.
        let found: Int32 = image.pixels.withUnsafeBytes { p in
            zbar_image_set_data(zimage, p.baseAddress, UInt(p.count), nil)
            defer { zbar_image_set_data(zimage, nil, 0, nil) }
            return zbar_scan_image(scanner, zimage)
        }
        guard found >= 0 else { throw ZBarError(message: "zbar_scan_image failed (\(found))") }
        var texts: [String] = []
        var symbol = zbar_image_first_symbol(zimage)
        while let s = symbol {
            if zbar_symbol_get_type(s) == ZBAR_QRCODE, let data = zbar_symbol_get_data(s) {
                let n = Int(zbar_symbol_get_data_length(s))
                texts.append(
                    String(
                        decoding: UnsafeRawBufferPointer(start: data, count: n).bindMemory(to: UInt8.self),
                        as: UTF8.self))
            }
            symbol = zbar_symbol_next(s)
        }
        return texts
    }
}
