import FaregateCore

/// A scripted sequence of presentations for simulated readers, one per line:
///
/// ```
/// # delay_ms  reader  medium:number            [fault]
/// 0           0       transit-card:1000751000000000001
/// 250         1       ride-code:10000042
/// 100         0       transit-card:1000751000000000002  removed
/// ```
///
/// `delay_ms` is the wait after the previous line; `fault` is a `CardFault`: `removed`,
/// `malformed`, `unknown-app`, or any of `farectl card emulate --fault` (`remove-after:3`).
/// Blank lines and `#` comments are ignored.
public struct TapScript: Sendable, Equatable {
    public struct Step: Sendable, Equatable {
        public var delayMillis: Int
        public var reader: Int
        public var card: SimulatedCard
    }

    public var steps: [Step]

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    public init(parsing text: String) throws(ParseError) {
        var steps: [Step] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if f.isEmpty { continue }
            guard f.count == 3 || f.count == 4 else {
                throw ParseError(line: n + 1, message: "expected 'delay_ms reader medium:number [fault]'")
            }
            guard let delay = Int(f[0]), delay >= 0 else {
                throw ParseError(line: n + 1, message: "bad delay '\(f[0])'")
            }
            guard let reader = Int(f[1]), (0..<16).contains(reader) else {
                throw ParseError(line: n + 1, message: "bad reader '\(f[1])' (0–15)")
            }
            let parts = f[2].split(separator: ":")
            guard parts.count == 2, let medium = Medium(name: String(parts[0])) else {
                throw ParseError(
                    line: n + 1, message: "bad medium in '\(f[2])' (e.g. transit-card:1000751000000000001)")
            }
            guard let key = CardKey(medium: medium, number: parts[1]) else {
                throw ParseError(line: n + 1, message: "'\(parts[1])' is not a valid \(medium) number")
            }
            var card = SimulatedCard.medium(key)
            if f.count == 4 {
                guard let fault = CardFault(parsing: String(f[3])) else {
                    throw ParseError(line: n + 1, message: "unknown fault '\(f[3])' (removed, malformed, unknown-app)")
                }
                card.faults = [fault]
            }
            steps.append(Step(delayMillis: delay, reader: reader, card: card))
        }
        self.steps = steps
    }
}
