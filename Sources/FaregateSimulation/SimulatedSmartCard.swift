import FaregateCore

/// An in-memory contactless card that answers APDUs from a compiled profile.
///
/// Value type, not thread-safe: one owner drives it (a test, or the emulator's connection loop).
/// Records every command it receives so tests can check what the gate sent (and that it never
/// asked for the cardholder file).
public struct SimulatedSmartCard: Sendable {
    /// What the card does with one command.
    public enum Answer: Hashable, Sendable {
        /// Respond with these bytes after `delayMillis`.
        case respond([UInt8], delayMillis: Int)
        /// The card has left the field: no answer.
        case removed
    }

    enum Selection: Hashable, Sendable {
        case none, ppse, tUnion, masterFile, municipalPurse
    }

    public let card: CompiledCard
    public var faults: [CardFault]
    /// Commands received since creation (all taps), raw bytes.
    public private(set) var received: [[UInt8]] = []
    /// APDUs received since the last power-on.
    public private(set) var apduCount = 0
    public private(set) var removed = false
    var selection = Selection.none

    public init(card: CompiledCard, faults: [CardFault] = []) {
        self.card = card
        self.faults = faults
    }

    public var atr: [UInt8] { card.atr }

    /// Power-on or warm reset: selection cleared, APDU count restarted, the card is back in the field.
    public mutating func powerOn() {
        selection = .none
        apduCount = 0
        removed = false
    }

    /// Answers one command APDU, applying faults.
    public mutating func answer(_ bytes: [UInt8]) -> Answer {
        received.append(bytes)
        if removed { return .removed }
        for case .removeAfter(let n) in faults where apduCount >= n {
            removed = true
            return .removed
        }
        apduCount += 1
        var response = respond(bytes)
        var delay = 0
        for fault in faults {
            switch fault {
            case .noApplication where bytes.count > 1 && bytes[1] == 0xA4:
                response = ResponseAPDU(status: .fileNotFound)
            case .wrongStatus(let n, let sw) where n == apduCount:
                response = ResponseAPDU(status: sw)
            case .truncate(let n) where n == apduCount:
                response.data = Array(response.data.prefix(response.data.count / 2))
            case .slow(let n, let ms) where n == apduCount:
                delay = ms
            default:
                break
            }
        }
        return .respond(response.bytes, delayMillis: delay)
    }

    /// The card leaves the field: no further command is answered until `powerOn()`.
    public mutating func remove() { removed = true }

    /// The transmit function of the card application procedures, for tests and `farectl`.
    public mutating func transmit(_ command: CommandAPDU) throws(CardIOError) -> ResponseAPDU {
        switch answer(command.bytes) {
        case .removed:
            throw CardIOError(.cardRemoved, "simulated card left the field")
        case .respond(let bytes, _):
            guard let r = ResponseAPDU(bytes: bytes) else {
                throw CardIOError(.malformedResponse, "response shorter than a status word")
            }
            return r
        }
    }

    /// Commands received as parsed APDUs (unparseable ones skipped).
    public var receivedCommands: [CommandAPDU] { received.compactMap { CommandAPDU(bytes: $0) } }
}

extension SimulatedSmartCard {
    /// Applies SELECT, READ BINARY and GET BALANCE against the compiled card, updating selection.
    mutating func respond(_ bytes: [UInt8]) -> ResponseAPDU {
        guard let c = CommandAPDU(bytes: bytes) else { return ResponseAPDU(status: .wrongLength) }
        guard c.cla == 0x00 || c.cla == 0x80 else { return ResponseAPDU(status: .classNotSupported) }
        switch (c.cla, c.ins) {
        case (0x00, 0xA4):
            return select(c)
        case (0x00, 0xB0):
            return readBinary(c)
        case (0x80, 0x5C):
            return getBalance(c)
        default:
            return ResponseAPDU(status: .instructionNotSupported)
        }
    }

    mutating func select(_ c: CommandAPDU) -> ResponseAPDU {
        let app = card.application
        switch c.p1 {
        case 0x04:
            if c.data == CardApplicationReader.ppseName, app == .tUnion, card.ppse {
                selection = .ppse
                let aidEntry: [UInt8] = [0x61, 0x0A, 0x4F, 0x08] + CardApplicationReader.tUnionAID
                let prop: [UInt8] = [0xBF, 0x0C, UInt8(aidEntry.count)] + aidEntry
                let a5: [UInt8] = [0xA5, UInt8(prop.count)] + prop
                let name: [UInt8] = [0x84, UInt8(c.data.count)] + c.data
                return ResponseAPDU(data: [0x6F, UInt8(name.count + a5.count)] + name + a5, status: .success)
            }
            if c.data == CardApplicationReader.tUnionAID, app == .tUnion {
                selection = .tUnion
                let fci: [UInt8] = [0x6F, 0x0A, 0x84, 0x08] + CardApplicationReader.tUnionAID
                return ResponseAPDU(data: fci, status: card.blocked ? .selectedFileInvalidated : .success)
            }
            return ResponseAPDU(status: .fileNotFound)
        case 0x00:
            guard c.data.count == 2 else { return ResponseAPDU(status: .wrongLength) }
            let fid = UInt16(c.data[0]) << 8 | UInt16(c.data[1])
            if fid == CardApplicationReader.masterFile, app != .none {
                selection = .masterFile
                return ResponseAPDU(data: [0x6F, 0x04, 0x83, 0x02, 0x3F, 0x00], status: .success)
            }
            if fid == CardApplicationReader.municipalDF, app == .beijingMunicipal {
                selection = .municipalPurse
                return ResponseAPDU(
                    data: [0x6F, 0x04, 0x83, 0x02, 0x10, 0x01],
                    status: card.blocked ? .selectedFileInvalidated : .success)
            }
            return ResponseAPDU(status: .fileNotFound)
        default:
            return ResponseAPDU(status: .incorrectP1P2)
        }
    }

    func readBinary(_ c: CommandAPDU) -> ResponseAPDU {
        guard let sfi = c.readBinarySFI else { return ResponseAPDU(status: .incompatibleFileStructure) }
        let visible: Bool
        switch (card.application, selection) {
        case (.tUnion, .tUnion): visible = [0x15, 0x16, 0x17].contains(sfi)
        case (.beijingMunicipal, .masterFile): visible = [0x04, 0x05].contains(sfi)
        default: visible = false
        }
        guard visible, let file = card.files[sfi] else { return ResponseAPDU(status: .fileNotFound) }
        let offset = Int(c.p2)
        guard offset <= file.count else { return ResponseAPDU(status: .wrongParameters) }
        let want = c.le ?? 256
        return ResponseAPDU(data: Array(file[offset..<min(file.count, offset + want)]), status: .success)
    }

    func getBalance(_ c: CommandAPDU) -> ResponseAPDU {
        guard c.p1 == 0x00, c.p2 == 0x02 else { return ResponseAPDU(status: .incorrectP1P2) }
        let purse =
            (card.application == .tUnion && selection == .tUnion && !card.blocked)
            || (card.application == .beijingMunicipal && selection == .municipalPurse)
        guard purse else { return ResponseAPDU(status: .conditionsNotSatisfied) }
        let b = card.balanceWord
        return ResponseAPDU(
            data: [UInt8(b >> 24), UInt8((b >> 16) & 0xFF), UInt8((b >> 8) & 0xFF), UInt8(b & 0xFF)], status: .success)
    }
}
