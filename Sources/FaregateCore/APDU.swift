/// An ISO/IEC 7816-4 status word (SW1 SW2), kept raw so that any value a card sends survives.
///
/// Named members cover the words this project acts on; every other value is still representable
/// and printed as four hex digits.
public struct StatusWord: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(sw1: UInt8, sw2: UInt8) { rawValue = UInt16(sw1) << 8 | UInt16(sw2) }

    public var sw1: UInt8 { UInt8(rawValue >> 8) }
    public var sw2: UInt8 { UInt8(rawValue & 0xFF) }

    /// 9000: normal processing.
    public static let success = StatusWord(rawValue: 0x9000)
    /// 6283: selected file invalidated. On SELECT of a transit application: the application is blocked.
    public static let selectedFileInvalidated = StatusWord(rawValue: 0x6283)
    /// 6700: wrong length (Lc or Le).
    public static let wrongLength = StatusWord(rawValue: 0x6700)
    /// 6981: command incompatible with file structure.
    public static let incompatibleFileStructure = StatusWord(rawValue: 0x6981)
    /// 6982: security status not satisfied.
    public static let securityNotSatisfied = StatusWord(rawValue: 0x6982)
    /// 6985: conditions of use not satisfied.
    public static let conditionsNotSatisfied = StatusWord(rawValue: 0x6985)
    /// 6A81: function not supported.
    public static let functionNotSupported = StatusWord(rawValue: 0x6A81)
    /// 6A82: file or application not found.
    public static let fileNotFound = StatusWord(rawValue: 0x6A82)
    /// 6A86: incorrect parameters P1-P2.
    public static let incorrectP1P2 = StatusWord(rawValue: 0x6A86)
    /// 6B00: wrong parameters (offset outside the file).
    public static let wrongParameters = StatusWord(rawValue: 0x6B00)
    /// 6D00: instruction not supported.
    public static let instructionNotSupported = StatusWord(rawValue: 0x6D00)
    /// 6E00: class not supported.
    public static let classNotSupported = StatusWord(rawValue: 0x6E00)
    /// 6F00: no precise diagnosis.
    public static let noPreciseDiagnosis = StatusWord(rawValue: 0x6F00)

    public var isSuccess: Bool { self == .success }

    /// True for the words that say "there is no such file or application here" (as opposed to a
    /// card that has it but fails): the reader then tries the next application.
    public var meansNotPresent: Bool {
        self == .fileNotFound || self == .functionNotSupported || self == .instructionNotSupported
            || self == .classNotSupported || self == .incorrectP1P2
    }

    public var description: String { Hex.string([sw1, sw2]) }
}

/// A command APDU (ISO/IEC 7816-4 short form: at most 255 data bytes, Le at most 256).
public struct CommandAPDU: Hashable, Sendable, CustomStringConvertible {
    public var cla: UInt8
    public var ins: UInt8
    public var p1: UInt8
    public var p2: UInt8
    public var data: [UInt8]
    /// Expected response length (1…256; 256 is encoded as 00), nil when no response data is expected.
    public var le: Int?

    /// Builds a command; nil when `data` or `le` do not fit the short form.
    public init?(cla: UInt8, ins: UInt8, p1: UInt8, p2: UInt8, data: [UInt8] = [], le: Int? = nil) {
        guard data.count <= 255 else { return nil }
        if let le, !(1...256).contains(le) { return nil }
        self.cla = cla
        self.ins = ins
        self.p1 = p1
        self.p2 = p2
        self.data = data
        self.le = le
    }

    /// Parses the bytes of a short command APDU (cases 1–4); nil for anything else (extended
    /// lengths, an Lc that does not match the data).
    public init?(bytes: some Collection<UInt8>) {
        let b = Array(bytes)
        guard b.count >= 4 else { return nil }
        cla = b[0]
        ins = b[1]
        p1 = b[2]
        p2 = b[3]
        switch b.count {
        case 4:
            data = []
            le = nil
        case 5:
            data = []
            le = b[4] == 0 ? 256 : Int(b[4])
        default:
            let lc = Int(b[4])
            guard lc > 0 else { return nil }  // extended length: not used by transit cards
            if b.count == 5 + lc {
                le = nil
            } else if b.count == 6 + lc {
                le = b[5 + lc] == 0 ? 256 : Int(b[5 + lc])
            } else {
                return nil
            }
            data = Array(b[5..<(5 + lc)])
        }
    }

    /// The encoded command.
    public var bytes: [UInt8] {
        var out: [UInt8] = [cla, ins, p1, p2]
        out.reserveCapacity(6 + data.count)
        if !data.isEmpty {
            out.append(UInt8(data.count))
            out.append(contentsOf: data)
        }
        if let le { out.append(le == 256 ? 0 : UInt8(le)) }
        return out
    }

    public var description: String { Hex.string(bytes) }

    // MARK: Commands the card applications use

    /// SELECT by DF name (AID), first or only occurrence, FCI requested.
    public static func select(aid: [UInt8]) -> CommandAPDU {
        CommandAPDU(unchecked: 0x00, 0xA4, 0x04, 0x00, aid, le: 256)
    }

    /// SELECT by file identifier (MF 3F00, DF 1001), FCI requested.
    public static func select(fileID: UInt16) -> CommandAPDU {
        CommandAPDU(unchecked: 0x00, 0xA4, 0x00, 0x00, [UInt8(fileID >> 8), UInt8(fileID & 0xFF)], le: 256)
    }

    /// READ BINARY of the transparent file with short file identifier `sfi` (1…30) from `offset`.
    public static func readBinary(sfi: UInt8, offset: UInt8 = 0, length: Int = 256) -> CommandAPDU {
        CommandAPDU(unchecked: 0x00, 0xB0, 0x80 | (sfi & 0x1F), offset, [], le: length)
    }

    /// GET BALANCE of the electronic purse (PBOC / JT/T 978: 80 5C 00 02 04).
    public static let getBalance = CommandAPDU(unchecked: 0x80, 0x5C, 0x00, 0x02, [], le: 4)

    /// For the constant commands above, whose sizes are known to fit.
    init(unchecked cla: UInt8, _ ins: UInt8, _ p1: UInt8, _ p2: UInt8, _ data: [UInt8], le: Int?) {
        self.cla = cla
        self.ins = ins
        self.p1 = p1
        self.p2 = p2
        self.data = data
        self.le = le
    }

    /// The short file identifier when this is a READ BINARY with SFI addressing, else nil.
    public var readBinarySFI: UInt8? {
        guard ins == 0xB0, p1 & 0x80 != 0 else { return nil }
        return p1 & 0x1F
    }
}

/// A response APDU: data followed by the two status bytes.
public struct ResponseAPDU: Hashable, Sendable, CustomStringConvertible {
    public var data: [UInt8]
    public var status: StatusWord

    public init(data: [UInt8] = [], status: StatusWord) {
        self.data = data
        self.status = status
    }

    /// Parses the raw bytes a card answered; nil when there are fewer than two bytes (no status word).
    public init?(bytes: some Collection<UInt8>) {
        let b = Array(bytes)
        guard b.count >= 2 else { return nil }
        data = Array(b[..<(b.count - 2)])
        status = StatusWord(sw1: b[b.count - 2], sw2: b[b.count - 1])
    }

    public var bytes: [UInt8] { data + [status.sw1, status.sw2] }

    public var description: String { Hex.string(bytes) }
}

/// Why a transmit function could not deliver a response: raised by the transport (PC/SC, a
/// simulated card), never by the card applications themselves.
public struct CardIOError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: UInt8, Hashable, Sendable {
        /// The card left the field.
        case cardRemoved
        /// The reader or its driver failed (pcscd gone, reader unplugged, reset by another process).
        case transmitFailed
        /// The card did not answer in time.
        case timeout
        /// The transport returned bytes that are not a response APDU (fewer than two bytes).
        case malformedResponse
        /// Another application holds the reader (PC/SC sharing violation) past the gate's budget.
        case readerBusy
        /// Another application reset the card (PC/SC `SCARD_W_RESET_CARD`): the selected
        /// application is gone with it. `CardReadSession` reconnects and reads again once.
        case cardReset
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind): \(message)" }
}

/// Hex formatting and parsing for APDUs, ATRs and card profiles.
public enum Hex {
    private static let digits: [Character] = Array("0123456789ABCDEF")

    /// Upper-case hex, a space between bytes.
    public static func string(_ bytes: some Sequence<UInt8>, separator: String = " ") -> String {
        var parts: [String] = []
        for b in bytes { parts.append(String([digits[Int(b >> 4)], digits[Int(b & 0xF)]])) }
        return parts.joined(separator: separator)
    }

    /// Parses hex digits, ignoring spaces, colons and dashes; nil on any other character or an odd count.
    public static func bytes(_ text: some StringProtocol) -> [UInt8]? {
        var out: [UInt8] = []
        var high: UInt8?
        for c in text.unicodeScalars {
            if c == " " || c == ":" || c == "-" || c == "\t" || c == "\n" { continue }
            let v: UInt8
            switch c.value {
            case 0x30...0x39: v = UInt8(c.value - 0x30)
            case 0x41...0x46: v = UInt8(c.value - 0x41 + 10)
            case 0x61...0x66: v = UInt8(c.value - 0x61 + 10)
            default: return nil
            }
            if let h = high {
                out.append(h << 4 | v)
                high = nil
            } else {
                high = v
            }
        }
        return high == nil ? out : nil
    }

    /// Lower-case hex, no separators: key files, issuer-key lists, `bytea` literals.
    public static func lowercase(_ bytes: some Sequence<UInt8>) -> String {
        string(bytes, separator: "").lowercased()
    }

    /// Hex digits only (either case), nothing between them; nil on anything else or an odd count.
    public static func bytes(exact text: some StringProtocol) -> [UInt8]? {
        guard text.unicodeScalars.allSatisfy({ $0.properties.isASCIIHexDigit }) else { return nil }
        return bytes(text)
    }
}
