/// One journal upload as the gate signs it (issue 16.5): the original bytes of its lines, the
/// holes between them and the lines the gate found in its file but did not write, under the
/// gate's Ed25519 signature. Central verifies it (`JournalBatchCheck`), stores the lines byte for
/// byte and refuses (and records for an operator) anything that does not verify.
///
/// The signed message (`message`) is text, one item a line, lengths first, so it has one reading:
/// `faregate journal batch 1`, `gate ID`, `key HEX`, `holes a-b,c-d` (or `holes -`),
/// `lines N`, the N lines, `rejected M`, the M rejected lines. No line holds a newline
/// (`SignedJournalBatch.init` refuses one).
public struct SignedJournalBatch: Hashable, Sendable {
    public var gate: String
    public var publicKey: [UInt8]
    /// The lines of the batch's records as read from the gate's file, ascending sequence.
    public var lines: [String]
    /// Sequences the gate handed out and cannot produce (damaged, missing, or failing its MAC).
    public var holes: [ClosedRange<UInt64>]
    /// Lines in the gate's journal that fail its MAC (a forgery, an edit): reported so central
    /// flags them; never records. Each cut to `maxRejectedLineBytes`.
    public var rejected: [String]
    public var signature: [UInt8]

    /// A rejected line is reported at most this long (a forger could write a huge one).
    public static let maxRejectedLineBytes = 1024
    /// At most this many rejected lines ride in one batch.
    public static let maxRejectedLines = 64

    /// Signs a batch with the gate's key; nil when a line or the gate id holds a newline.
    public init?(
        gate: String, lines: [String], holes: [ClosedRange<UInt64>], rejected: [String],
        signer: some JournalBatchSigner
    ) {
        let cut = rejected.prefix(Self.maxRejectedLines).map { Self.cut($0) }
        guard !gate.contains("\n"), !lines.contains(where: { $0.contains("\n") }) else { return nil }
        self.gate = gate
        publicKey = signer.publicKey
        self.lines = lines
        self.holes = holes
        self.rejected = cut
        signature = []
        signature = signer.signature(of: message)
    }

    /// A batch as received (to be verified).
    public init(
        gate: String, publicKey: [UInt8], lines: [String], holes: [ClosedRange<UInt64>], rejected: [String],
        signature: [UInt8]
    ) {
        self.gate = gate
        self.publicKey = publicKey
        self.lines = lines
        self.holes = holes
        self.rejected = rejected
        self.signature = signature
    }

    /// `line` as a batch reports it: at most `maxRejectedLineBytes`, no newline.
    public static func cutForReport(_ line: String) -> String { cut(line) }

    static func cut(_ line: String) -> String {
        var u = Array(line.utf8.prefix(maxRejectedLineBytes))
        u.removeAll { $0 == UInt8(ascii: "\n") }
        return String(decoding: u, as: UTF8.self)
    }

    /// The bytes the signature covers.
    public var message: [UInt8] {
        var text = "faregate journal batch 1\ngate \(gate)\nkey \(Hex.lowercase(publicKey))\nholes "
        text += holes.isEmpty ? "-" : holes.map { "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ",")
        text += "\nlines \(lines.count)\n"
        for l in lines { text += l + "\n" }
        text += "rejected \(rejected.count)\n"
        for l in rejected { text += l + "\n" }
        return Array(text.utf8)
    }

    /// The lowest and highest sequence the batch covers (records and holes); nil when empty.
    public var range: ClosedRange<UInt64>? {
        let seqs = lines.compactMap { try? JournalCodec.decode(Substring($0)).sequence }
        let lows = seqs + holes.map(\.lowerBound)
        let highs = seqs + holes.map(\.upperBound)
        guard let lo = lows.min(), let hi = highs.max() else { return nil }
        return lo...hi
    }
}

/// Why central refused a signed journal batch: recorded (`journal_refusals`), never acknowledged.
public struct JournalBatchRefusal: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The signature does not verify with the key the batch names.
        public static let badSignature = Code(rawValue: "bad_signature")
        /// The key is not registered for the gate (another gate's, or one never registered).
        public static let unregisteredKey = Code(rawValue: "unregistered_key")
        /// The key was registered for the gate and revoked.
        public static let revokedKey = Code(rawValue: "revoked_key")
        /// A line does not continue the chain of the line before it (in the batch or stored).
        public static let chainBroken = Code(rawValue: "chain_broken")
        /// A line that does not decode, sequences out of order, a J1 line past the first J2 one.
        public static let malformed = Code(rawValue: "malformed")
        /// An upload without a signature for a gate that has a registered key.
        public static let unsigned = Code(rawValue: "unsigned")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "journal batch refused (\(code.rawValue)): \(message)" }
}

/// Central's checks of a signed batch that need no database: structure, chain and signature.
/// The store supplies what it holds (the registered keys' state, the stored line before the batch).
public enum JournalBatchCheck {
    /// The state of the key a batch names, as central holds it for the batch's gate.
    public enum KeyState: Hashable, Sendable {
        /// Registered for the gate and not revoked.
        case active
        case revoked
        /// The gate has registered keys; this is none of them.
        case unregistered
        /// The gate has no key at all yet (never registered, never revoked): the first signed
        /// batch enrols its key (trust on first use, README "Trust model").
        case noneYet
    }

    /// The decoded lines of `batch` when it verifies; throws the refusal otherwise.
    /// - Parameters:
    ///   - signatureValid: whether the Ed25519 signature verifies with `batch.publicKey`.
    ///   - storedLine: the line central holds for a sequence of the gate (nil: none, or a hole).
    public static func verify(
        _ batch: SignedJournalBatch, keyState: KeyState, signatureValid: Bool, storedLine: (UInt64) -> String?
    ) throws(JournalBatchRefusal) -> [JournalCodec.DecodedLine] {
        guard signatureValid else {
            throw JournalBatchRefusal(.badSignature, "the signature does not verify with the key the batch names")
        }
        switch keyState {
        case .active, .noneYet: break
        case .revoked: throw JournalBatchRefusal(.revokedKey, "signed with a revoked key of gate \(batch.gate)")
        case .unregistered:
            throw JournalBatchRefusal(.unregisteredKey, "signed with a key not registered for gate \(batch.gate)")
        }
        var decoded: [JournalCodec.DecodedLine] = []
        decoded.reserveCapacity(batch.lines.count)
        for line in batch.lines {
            let d: JournalCodec.DecodedLine
            do { d = try JournalCodec.decodeLine(Substring(line)) } catch {
                throw JournalBatchRefusal(.malformed, "a line does not decode: \(error)")
            }
            if let last = decoded.last {
                guard d.entry.sequence > last.entry.sequence else {
                    throw JournalBatchRefusal(
                        .malformed, "sequence \(d.entry.sequence) not after \(last.entry.sequence)")
                }
                if last.isChained && !d.isChained {
                    throw JournalBatchRefusal(.malformed, "J1 line \(d.entry.sequence) after a J2 line")
                }
            }
            decoded.append(d)
        }
        for hole in batch.holes {
            guard hole.upperBound <= JournalEntry.maxSequence, hole.lowerBound >= 1 else {
                throw JournalBatchRefusal(.malformed, "hole \(hole) out of range")
            }
            if decoded.contains(where: { hole.contains($0.entry.sequence) }) {
                throw JournalBatchRefusal(.malformed, "hole \(hole) overlaps a record")
            }
        }
        // The chain: a J2 line names the chain value of the line before it; where central has
        // that line (in the batch or stored) the two must agree. Zero restarts a chain (the
        // first line, or a gate that lost the line before: its predecessor is then a hole).
        // Between two lines of the batch, every sequence is a hole the batch declares (the gate
        // sends one for each sequence it cannot produce): a gap without one is a removed line.
        for (i, d) in decoded.enumerated() where i > 0 {
            let gap = (decoded[i - 1].entry.sequence + 1)..<d.entry.sequence
            guard !gap.isEmpty else { continue }
            // Holes are disjoint from each other and from records (the gate makes them so).
            let covered = batch.holes.reduce(UInt64(0)) { n, h in
                let lo = max(h.lowerBound, gap.lowerBound)
                let hi = min(h.upperBound, gap.upperBound - 1)
                return lo <= hi ? n + (hi - lo + 1) : n
            }
            guard covered >= UInt64(gap.count) else {
                throw JournalBatchRefusal(
                    .chainBroken,
                    "sequences \(gap.lowerBound)...\(gap.upperBound - 1) missing from the batch without a hole")
            }
        }
        for (i, d) in decoded.enumerated() {
            guard let previous = d.previous, previous != .zero else { continue }
            let seq = d.entry.sequence
            let before: JournalChainValue?
            if i > 0, decoded[i - 1].entry.sequence == seq - 1 {
                before = decoded[i - 1].chain
            } else if i > 0 {
                continue  // a declared hole before it: no link to check
            } else if let stored = storedLine(seq - 1) {
                before = (try? JournalCodec.decodeLine(Substring(stored)))?.chain
            } else {
                continue  // a hole or nothing before it: no link to check
            }
            guard before == previous else {
                throw JournalBatchRefusal(.chainBroken, "line \(seq) does not continue the chain of line \(seq - 1)")
            }
        }
        return decoded
    }
}
