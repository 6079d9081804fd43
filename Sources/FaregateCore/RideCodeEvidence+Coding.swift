/// The JSON of a ride-code passage's evidence (`JournalEntry`'s `ride_code`, `farectl central
/// clearing --json`): issuer, key id, account, certificate SHA-256 and phone signature as
/// lowercase hex, generated_at, counter, flags, and the clearing mark.
extension RideCodeEvidence: Codable {
    enum Field: String, CodingKey {
        case issuer, keyID = "key_id", account, certificateHash = "cert_sha256", generatedAt = "generated_at"
        case counter, flags, userSignature = "user_sig", clearing
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Field.self)
        func hex(_ f: Field, count: Int) throws -> [UInt8] {
            let text = try c.decode(String.self, forKey: f)
            guard let b = JournalCodec.lowercaseHexBytes(Substring(text)), b.count == count else {
                throw DecodingError.dataCorruptedError(
                    forKey: f, in: c, debugDescription: "must be \(count * 2) lowercase hex digits")
            }
            return b
        }
        let account = try c.decode(UInt64.self, forKey: .account)
        guard account < 1 << CardKey.rideCodeAccountBits else {
            throw DecodingError.dataCorruptedError(forKey: .account, in: c, debugDescription: "must be below 2^52")
        }
        let flags = try c.decode(UInt8.self, forKey: .flags)
        guard flags & ~RideCodeDynamicPart.offlineFlag == 0 else {
            throw DecodingError.dataCorruptedError(forKey: .flags, in: c, debugDescription: "only bit 0 may be set")
        }
        self.init(
            issuerNumber: try c.decode(UInt8.self, forKey: .issuer),
            issuerKeyID: try c.decode(UInt16.self, forKey: .keyID),
            account: account, certificateHash: try hex(.certificateHash, count: 32),
            generatedAt: try c.decode(UInt32.self, forKey: .generatedAt),
            counter: try c.decode(UInt32.self, forKey: .counter), flags: flags,
            userSignature: try hex(.userSignature, count: RideCodeAlgorithm.signatureLength),
            clearing: try c.decode(Bool.self, forKey: .clearing))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Field.self)
        try c.encode(issuerNumber, forKey: .issuer)
        try c.encode(issuerKeyID, forKey: .keyID)
        try c.encode(account, forKey: .account)
        try c.encode(JournalCodec.lowercaseHex(certificateHash), forKey: .certificateHash)
        try c.encode(generatedAt, forKey: .generatedAt)
        try c.encode(counter, forKey: .counter)
        try c.encode(flags, forKey: .flags)
        try c.encode(JournalCodec.lowercaseHex(userSignature), forKey: .userSignature)
        try c.encode(clearing, forKey: .clearing)
    }
}
