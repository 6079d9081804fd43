/// A fault a simulated or virtual card can be told to produce during one tap: the one fault
/// vocabulary of the project. The same value faults a card read by a simulated reader
/// (`SimulatedCardTransport`) and a card played into a real pcscd (`farectl card emulate`), and
/// both give the same tap and journal reason because both are read by `CardApplicationReader`.
/// APDUs are counted from 1 after power-on.
public enum CardFault: Hashable, Sendable, CustomStringConvertible {
    /// The card leaves the field after answering `n` APDUs (the next one is never answered).
    case removeAfter(Int)
    /// APDU number `n` is answered with `status` and no data.
    case wrongStatus(apdu: Int, status: StatusWord)
    /// APDU number `n` gets only half its data (status still 9000).
    case truncate(apdu: Int)
    /// APDU number `n` is answered after `millis` milliseconds (the emulator sleeps; the
    /// simulation only reports the delay).
    case slow(apdu: Int, millis: Int)
    /// The chip carries no transit application: every SELECT is answered 6A82.
    case noApplication

    /// A card pulled from the field mid-read: after PPSE and the AID (T-Union) or before the MF
    /// (municipal), so the number was never read. Journalled `card_removed` (aborted).
    public static let removedMidRead = CardFault.removeAfter(2)
    /// A card whose third answer is 6F00: T-Union's SFI 15 or the municipal MF. Journalled
    /// `read_error` (`malformed_response`), the number never read.
    public static let malformedResponse = CardFault.wrongStatus(apdu: 3, status: .noPreciseDiagnosis)

    /// The short names tap scripts and the control socket use (`removed`, `malformed`,
    /// `unknown-app`), for the faults above.
    public static let shortNames: [String: CardFault] = [
        "removed": .removedMidRead, "malformed": .malformedResponse, "unknown-app": .noApplication,
    ]

    /// Parses `remove-after:N`, `wrong-sw:N:SW`, `truncate:N`, `slow:N:MS`, `no-app`, or one of
    /// the `shortNames`.
    public init?(parsing text: String) {
        if let named = Self.shortNames[text] {
            self = named
            return
        }
        let parts = text.split(separator: ":").map(String.init)
        guard let kind = parts.first else { return nil }
        let n = parts.count > 1 ? Int(parts[1]) : nil
        switch (kind, parts.count) {
        case ("no-app", 1):
            self = .noApplication
        case ("remove-after", 2):
            guard let n, n >= 0 else { return nil }
            self = .removeAfter(n)
        case ("wrong-sw", 3):
            guard let n, n >= 1, let sw = Hex.bytes(parts[2]), sw.count == 2 else { return nil }
            self = .wrongStatus(apdu: n, status: StatusWord(sw1: sw[0], sw2: sw[1]))
        case ("truncate", 2):
            guard let n, n >= 1 else { return nil }
            self = .truncate(apdu: n)
        case ("slow", 3):
            guard let n, n >= 1, let ms = Int(parts[2]), ms >= 0 else { return nil }
            self = .slow(apdu: n, millis: ms)
        default:
            return nil
        }
    }

    public var description: String {
        switch self {
        case .removeAfter(let n): "remove-after:\(n)"
        case .wrongStatus(let n, let sw): "wrong-sw:\(n):\(Hex.string([sw.sw1, sw.sw2], separator: ""))"
        case .truncate(let n): "truncate:\(n)"
        case .slow(let n, let ms): "slow:\(n):\(ms)"
        case .noApplication: "no-app"
        }
    }
}
