import FaregateCore
import Foundation

/// A virtual contactless card described as data (`seeds/cards/*.json`): what its chip holds.
///
/// The fields say what a person knows about a card (application, number, type, balance,
/// validity, flags); `files` may override any file with raw hex for malformed-card cases.
/// `SimulatedSmartCard` answers APDUs from a compiled profile, in tests and in `farectl card emulate`.
public struct CardProfile: Codable, Hashable, Sendable {
    /// Which application the chip carries.
    public enum Application: String, Codable, Hashable, Sendable {
        case tUnion = "t-union"
        case beijingMunicipal = "beijing-municipal"
        /// A contactless chip with no transit application (a bank card, an access badge).
        case none
    }

    public var description: String?
    /// Answer-to-reset, hex.
    public var atr: String
    public var application: Application
    /// T-Union: the 19 digits the gate shows (stored with a leading 0) or all 20 stored digits.
    /// Municipal: the 16-digit serial. Ignored for `none`.
    public var number: String?
    /// Issuer city code (T-Union SFI 15 bytes 2–3), 4 digits; default 1000 (Beijing).
    public var cityCode: String?
    /// normal, student, senior, test, military, or a number 0–255.
    public var cardType: String?
    public var balanceFen: Int?
    /// Raw GET BALANCE word, 8 hex digits, overriding `balanceFen` (e.g. with the top bit set).
    public var balanceWord: String?
    /// YYYY-MM-DD; absent = unset (zeros) on the card.
    public var validFrom: String?
    public var validUntil: String?
    /// The application answers SELECT with 6283.
    public var blocked: Bool?
    /// Municipal: enable flag 02 (default true).
    public var enabled: Bool?
    /// Municipal: SFI 05 byte 0 = A5.
    public var blacklisted: Bool?
    /// T-Union: the card answers SELECT PPSE (default true).
    public var ppse: Bool?
    /// Raw file overrides, keyed by SFI in hex ("15", "17", "04", "05"), value hex bytes.
    public var files: [String: String]?

    public init(
        description: String? = nil, atr: String, application: Application, number: String? = nil,
        cityCode: String? = nil, cardType: String? = nil, balanceFen: Int? = nil, validFrom: String? = nil,
        validUntil: String? = nil, blocked: Bool? = nil, enabled: Bool? = nil, blacklisted: Bool? = nil,
        ppse: Bool? = nil, files: [String: String]? = nil
    ) {
        self.description = description
        self.atr = atr
        self.application = application
        self.number = number
        self.cityCode = cityCode
        self.cardType = cardType
        self.balanceFen = balanceFen
        self.validFrom = validFrom
        self.validUntil = validUntil
        self.blocked = blocked
        self.enabled = enabled
        self.blacklisted = blacklisted
        self.ppse = ppse
        self.files = files
    }

    /// A typical contactless ISO 14443-4 ATR as PC/SC readers synthesise it. It announces T=1, so
    /// it ends in its check byte TCK (0A: the XOR of T0 … the last historical byte, ISO/IEC 7816-3).
    public static let defaultATR = "3B 8A 80 01 80 31 80 65 B0 84 41 3D 47 5A 0A"
}

/// A profile that does not describe a card: names the file and the field.
public struct CardProfileError: Error, Hashable, Sendable, CustomStringConvertible {
    public var source: String
    public var field: String
    public var message: String

    public init(source: String, field: String, message: String) {
        self.source = source
        self.field = field
        self.message = message
    }

    public var description: String { "\(source): \(field): \(message)" }
}

/// The chip contents a profile compiles to: ATR and the files of each application.
public struct CompiledCard: Hashable, Sendable {
    public var atr: [UInt8]
    public var application: CardProfile.Application
    public var ppse: Bool
    public var blocked: Bool
    /// Files of the selected application (T-Union ADF or municipal MF), keyed by SFI.
    public var files: [UInt8: [UInt8]]
    /// The 4 bytes GET BALANCE returns, big-endian.
    public var balanceWord: UInt32
}

extension CardProfile {
    /// Loads and compiles a profile file; every error names the file and the field.
    public static func load(path: String) throws(CardProfileError) -> (CardProfile, CompiledCard) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw CardProfileError(source: path, field: "file", message: "cannot read: \(error.localizedDescription)")
        }
        return try decode(data, source: path)
    }

    /// Decodes and compiles profile JSON.
    public static func decode(_ data: Data, source: String) throws(CardProfileError) -> (CardProfile, CompiledCard) {
        let profile: CardProfile
        do {
            profile = try JSONDecoder().decode(CardProfile.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw CardProfileError(source: source, field: key.stringValue, message: "missing")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw CardProfileError(
                source: source, field: ctx.codingPath.map(\.stringValue).joined(separator: "."),
                message: "wrong type: \(ctx.debugDescription)")
        } catch let DecodingError.dataCorrupted(ctx) {
            let field = ctx.codingPath.map(\.stringValue).joined(separator: ".")
            throw CardProfileError(source: source, field: field.isEmpty ? "json" : field, message: ctx.debugDescription)
        } catch {
            throw CardProfileError(source: source, field: "json", message: "\(error)")
        }
        return (profile, try profile.compile(source: source))
    }

    /// Builds the chip's files from the profile's fields, then applies raw overrides.
    public func compile(source: String = "profile") throws(CardProfileError) -> CompiledCard {
        func fail(_ field: String, _ message: String) -> CardProfileError {
            CardProfileError(source: source, field: field, message: message)
        }
        guard let atrBytes = Hex.bytes(atr), (2...33).contains(atrBytes.count) else {
            throw fail("atr", "must be 2–33 bytes of hex")
        }
        func dateBytes(_ text: String?, _ field: String) throws(CardProfileError) -> [UInt8] {
            guard let text else { return [0, 0, 0, 0] }
            guard let d = CalendarDate(text) else { throw fail(field, "'\(text)' is not a date YYYY-MM-DD") }
            return BCD.encode(d)
        }
        let balance = balanceFen ?? 0
        guard (0...0x7FFF_FFFF).contains(balance) else { throw fail("balanceFen", "must be 0…2147483647") }
        var word = UInt32(balance)
        if let balanceWord {
            guard let b = Hex.bytes(balanceWord), b.count == 4 else {
                throw fail("balanceWord", "must be 8 hex digits")
            }
            word = UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])
        }
        var files: [UInt8: [UInt8]] = [:]
        switch application {
        case .tUnion:
            guard var digits = number, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw fail("number", "a T-Union card needs its number (19 or 20 digits)")
            }
            if digits.count == 19 { digits = "0" + digits }
            guard digits.count == 20, let numberBCD = BCD.encode(digits) else {
                throw fail("number", "must be 19 or 20 digits, not \(digits.count)")
            }
            let city = cityCode ?? "1000"
            guard city.count == 4, let cityBCD = BCD.encode(city) else { throw fail("cityCode", "must be 4 digits") }
            var sfi15: [UInt8] = [0x90, 0x00] + cityBCD + [0x00, 0x00, 0x00, 0x00]  // issuer identifier
            sfi15 += [0x02, 0x01]  // application type, version
            sfi15 += numberBCD
            sfi15 += try dateBytes(validFrom, "validFrom")
            sfi15 += try dateBytes(validUntil, "validUntil")
            sfi15 += [0x00, 0x00]
            files[0x15] = sfi15
            // SFI 16 (cardholder) exists on real cards; the simulation fills it with a marker, never
            // with a name, so a test can prove the gate does not read it.
            files[0x16] = Array("CARDHOLDER-FILE-MUST-NOT-BE-READ".utf8)
            var sfi17 = [UInt8](repeating: 0, count: 48)
            sfi17[10] = try typeByte()
            files[0x17] = sfi17
        case .beijingMunicipal:
            guard let digits = number, digits.count == 16, let serial = BCD.encode(digits) else {
                throw fail("number", "a municipal card needs its 16-digit serial")
            }
            var sfi04 = serial + [0x00, (enabled ?? true) ? 0x02 : 0x01]
            sfi04 += [UInt8](repeating: 0, count: 14)
            sfi04 += try dateBytes(validFrom, "validFrom")
            sfi04 += try dateBytes(validUntil, "validUntil")
            files[0x04] = sfi04
            files[0x05] = [(blacklisted ?? false) ? 0xA5 : 0x00] + [UInt8](repeating: 0, count: 15)
        case .none:
            break
        }
        for (sfiText, hex) in files_ {
            guard let sfi = UInt8(sfiText, radix: 16), (1...30).contains(sfi) else {
                throw fail("files.\(sfiText)", "key must be an SFI 01–1E in hex")
            }
            guard let bytes = Hex.bytes(hex), bytes.count <= 256 else {
                throw fail("files.\(sfiText)", "must be at most 256 bytes of hex")
            }
            files[sfi] = bytes
        }
        return CompiledCard(
            atr: atrBytes, application: application, ppse: ppse ?? true, blocked: blocked ?? false, files: files,
            balanceWord: word)

        func typeByte() throws(CardProfileError) -> UInt8 {
            guard let t = cardType else { return CardType.normal.rawValue }
            if let named = CardType.allCases.first(where: { $0.description == t }) { return named.rawValue }
            guard let n = UInt8(t) else { throw fail("cardType", "'\(t)' is not a card type name or 0–255") }
            return n
        }
    }

    private var files_: [String: String] { files ?? [:] }
}
