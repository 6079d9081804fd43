/// The 128-bit chain value of a J2 journal line: the gate's keyed MAC over the line's body, which
/// names the chain value of the line before (`JournalCodec`). Hex in the line: 32 lower-case digits.
public struct JournalChainValue: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    /// Where a chain starts: the first line of a journal, or a line whose predecessor the gate
    /// could no longer read when it restarted (an empty file after a rotation it lost).
    public static let zero = JournalChainValue(high: 0, low: 0)

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// The value of the first 16 bytes of `bytes` (big-endian); nil when there are fewer.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count >= 16 else { return nil }
        var h: UInt64 = 0
        var l: UInt64 = 0
        for (i, b) in bytes.prefix(16).enumerated() {
            if i < 8 { h = h << 8 | UInt64(b) } else { l = l << 8 | UInt64(b) }
        }
        high = h
        low = l
    }

    /// Exactly 32 hex digits (either case); nil on anything else.
    public init?(hex: some StringProtocol) {
        let u = hex.utf8
        guard u.count == 32, u.allSatisfy({ Self.digit($0) != nil }) else { return nil }
        var h: UInt64 = 0
        var l: UInt64 = 0
        for (i, c) in u.enumerated() {
            // Checked above: every byte is a hex digit.
            let d = UInt64(Self.digit(c) ?? 0)
            if i < 16 { h = h << 4 | d } else { l = l << 4 | d }
        }
        high = h
        low = l
    }

    private static func digit(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// 32 lower-case hex digits.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 0, count: 32)
        for i in 0..<16 {
            out[i] = digits[Int((high >> UInt64(60 - 4 * i)) & 0xf)]
            out[16 + i] = digits[Int((low >> UInt64(60 - 4 * i)) & 0xf)]
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hex }
}

/// The gate's keyed MAC for journal lines (FaregateSodium's `GateJournalKey`: BLAKE2b-128 keyed
/// with a key derived from the gate's secret). Computed once per line on the writer thread, so it
/// must be cheap (a few hundred nanoseconds for a 150-byte line). Thread-safe.
public protocol JournalLineAuthenticator: Sendable {
    func mac(_ body: UnsafeRawBufferPointer) -> JournalChainValue
}

/// The gate's journal key: the line MAC and the signature of each upload batch (Ed25519).
public protocol JournalBatchSigner: JournalLineAuthenticator {
    /// The Ed25519 public key central has registered for the gate.
    var publicKey: [UInt8] { get }
    func signature(of message: [UInt8]) -> [UInt8]
}
