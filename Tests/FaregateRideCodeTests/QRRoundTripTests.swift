import FaregateCore
import FaregateQREncode
import FaregateZBar
import XCTest

/// libqrencode → image → libzbar gives back the ride code's text, for both image formats.
final class QRRoundTripTests: XCTestCase {
    func testRenderedCodesDecodeToTheSameText() throws {
        for (c, u) in RideCodeFixture.algorithmPairs {
            let text = try RideCodeFixture(cert: c, user: u).code().text
            let symbol = try QREncoder.encode(text)
            XCTAssertEqual(symbol.modules.count, symbol.width * symbol.width)
            let pbm = try NetpbmImage.decode(symbol.pbm(scale: 4))
            XCTAssertEqual(pbm.width, (symbol.width + 8) * 4)
            XCTAssertEqual(try ZBarScanner.qrTexts(in: pbm), [text], "\(c)/\(u)")
            // The PGM a converter would make from the PNG decodes too.
            let grey = GreyImage(width: pbm.width, height: pbm.height, pixels: pbm.pixels)
            XCTAssertEqual(try ZBarScanner.qrTexts(in: try XCTUnwrap(grey)), [text])
            // Alphanumeric mode keeps the longest code (345 characters) within version 11 at level M
            // (capacity 362); in 8-bit mode it would need version 14.
            XCTAssertLessThanOrEqual(symbol.version, 11, "\(c)/\(u)")
        }
    }

    func testBlankImageHasNoCode() throws {
        let blank = try XCTUnwrap(GreyImage(width: 64, height: 64, pixels: [UInt8](repeating: 255, count: 4096)))
        XCTAssertEqual(try ZBarScanner.qrTexts(in: blank), [])
    }

    func testPNGIsWellFormed() throws {
        let png = try QREncoder.encode("RC1:TEST").png(scale: 2)
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        XCTAssertEqual(Array(png.suffix(12)), [0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82])
    }

    func testTerminalTextHasOneLinePerTwoRows() throws {
        let s = try QREncoder.encode("RC1:TEST")
        let lines = s.terminalText().split(separator: "\n")
        XCTAssertEqual(lines.count, (s.width + 8 + 1) / 2)
        XCTAssertTrue(lines.allSatisfy { $0.count == s.width + 8 })
    }

    func testNetpbmRefusals() {
        let bad: [[UInt8]] = [
            [], Array("P6\n1 1\n255\n\0\0\0".utf8), Array("P4\n".utf8), Array("P4\n8 8\n".utf8) + [0],
            Array("P5\n99999999 1\n255\n".utf8), Array("P2\n2 1\n3\n1 9".utf8), Array("P5\n0 4\n255\n".utf8),
        ]
        for b in bad { XCTAssertThrowsError(try NetpbmImage.decode(b), String(decoding: b, as: UTF8.self)) }
        XCTAssertEqual(try NetpbmImage.decode(Array("P1\n# c\n2 1\n1 0".utf8)).pixels, [0, 255])
    }
}
