/// The journal line's ride-code group: the evidence of a passage on a ride code (RIDECODE.md: "an
/// accepted code's journal record keeps the whole dynamic part … so central can settle the ride
/// with the issuer and prove the passage later").
///
/// Eight tab-separated fields at the end of the line, after the shadow fields when there are any
/// and before the CRC:
///
/// `rc key_id cert_sha256 generated_at counter flags user_sig clearing`
///
/// - `rc`: marks the group (no field of the line before it can be `rc`: the last field before it
///   is a number, or a shadow reason code).
/// - `key_id`, `generated_at`, `counter`, `flags`: decimal, as the code carried them.
/// - `cert_sha256`: SHA-256 of the whole certificate (magic … cert_sig), 64 lowercase hex digits.
/// - `user_sig`: the phone's signature, 128 lowercase hex digits.
/// - `clearing`: `clearing` when the ride is settled by inter-city clearing (the issuer is
///   another city's metro app), else `-`; stated as the gate derived it.
///
/// Issuer and account are the line's `key` (a ride-code key), so they are not repeated. Only a
/// `decision` entry that opened has the group; card taps and refusals never do, so their lines are
/// as before. Decoding is strict (lowercase hex of the exact lengths, numbers in range, flags of
/// ride code v1 only): `encode(decode(line)) == line` for every line that decodes.
extension JournalCodec {
    static let rideCodeMarker = "rc"
    static let rideCodeFieldCount = 8
    static let clearingMark = "clearing"

    /// Appends `evidence`'s group to a line's fields.
    static func appendRideCodeFields(_ evidence: RideCodeEvidence, to fields: inout [String]) {
        fields.append(rideCodeMarker)
        fields.append(String(evidence.issuerKeyID))
        fields.append(lowercaseHex(evidence.certificateHash))
        fields.append(String(evidence.generatedAt))
        fields.append(String(evidence.counter))
        fields.append(String(evidence.flags))
        fields.append(lowercaseHex(evidence.userSignature))
        fields.append(evidence.clearing ? clearingMark : "-")
    }

    /// Removes a trailing ride-code group from `fields` and returns it; nil (fields unchanged)
    /// when the line has none.
    static func takeRideCodeFields(_ fields: inout [Substring]) throws(DecodeError) -> [Substring]? {
        // 15 fixed fields come before any group.
        guard fields.count >= 15 + rideCodeFieldCount, fields[fields.count - rideCodeFieldCount] == rideCodeMarker
        else { return nil }
        let group = Array(fields.suffix(rideCodeFieldCount))
        fields.removeLast(rideCodeFieldCount)
        return group
    }

    /// The evidence of a group taken by `takeRideCodeFields`, for an entry of `key`.
    static func decodeRideCodeFields(_ g: [Substring], key: CardKey) throws(DecodeError) -> RideCodeEvidence {
        guard g.count == rideCodeFieldCount, g[0] == rideCodeMarker else { throw .badField("ride_code") }
        guard key.medium == .rideCode else { throw .badField("ride_code_key") }
        func number<T: FixedWidthInteger>(_ i: Int, _ name: String) throws(DecodeError) -> T {
            // Digits only: `Int("+1")` parses, and a sign would not encode back to the same line.
            guard g[i].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let v = T(g[i]) else { throw .badField(name) }
            return v
        }
        func hex(_ i: Int, count: Int, _ name: String) throws(DecodeError) -> [UInt8] {
            guard let b = lowercaseHexBytes(g[i]), b.count == count else { throw .badField(name) }
            return b
        }
        let flags: UInt8 = try number(5, "ride_code_flags")
        guard flags & ~RideCodeDynamicPart.offlineFlag == 0 else { throw .badField("ride_code_flags") }
        let clearing: Bool
        switch g[7] {
        case Substring(clearingMark): clearing = true
        case "-": clearing = false
        default: throw .badField("ride_code_clearing")
        }
        return RideCodeEvidence(
            issuerNumber: key.rideCodeIssuerByte, issuerKeyID: try number(1, "ride_code_key_id"),
            account: key.rideCodeAccount, certificateHash: try hex(2, count: 32, "ride_code_cert_sha256"),
            generatedAt: try number(3, "ride_code_generated_at"), counter: try number(4, "ride_code_counter"),
            flags: flags, userSignature: try hex(6, count: RideCodeAlgorithm.signatureLength, "ride_code_user_sig"),
            clearing: clearing)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Lowercase hex of `bytes`, built in one buffer (the decision thread writes it per passage).
    public static func lowercaseHex(_ bytes: [UInt8]) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            var i = 0
            for b in bytes {
                out[i] = hexDigits[Int(b >> 4)]
                out[i + 1] = hexDigits[Int(b & 0xF)]
                i += 2
            }
            return i
        }
    }

    /// The bytes of lowercase hex text; nil for any other character or an odd count.
    static func lowercaseHexBytes(_ text: Substring) -> [UInt8]? {
        let u = Array(text.utf8)
        guard u.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let h = nibble(u[i]), let l = nibble(u[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }
}
