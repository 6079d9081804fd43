/// One public key of a ride-code issuer (RIDECODE.md, "Issuer keys"): it verifies the
/// certificates the issuer signed with key `keyID` and is usable for codes made between `validFrom`
/// and `validUntil` unless revoked.
public struct RideCodeIssuerKey: Hashable, Sendable {
    public var issuer: RideCodeIssuer
    public var keyID: UInt16
    public var algorithm: RideCodeAlgorithm
    public var publicKey: [UInt8]
    public var validFrom: UInt32
    public var validUntil: UInt32
    public var revoked: Bool

    public init(
        issuer: RideCodeIssuer, keyID: UInt16, algorithm: RideCodeAlgorithm, publicKey: [UInt8], validFrom: UInt32,
        validUntil: UInt32, revoked: Bool = false
    ) {
        self.issuer = issuer
        self.keyID = keyID
        self.algorithm = algorithm
        self.publicKey = publicKey
        self.validFrom = validFrom
        self.validUntil = validUntil
        self.revoked = revoked
    }

    /// True when the key may verify a code made at `generatedAt` (check 3, with the lookup).
    public func isUsable(at generatedAt: UInt32) -> Bool {
        !revoked && validFrom <= generatedAt && generatedAt <= validUntil
    }
}

extension RideCodeIssuerKey: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case issuer, keyID = "key_id", alg, publicKey = "public_key", validFrom = "valid_from"
        case validUntil = "valid_until", revoked
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let number = try c.decode(UInt8.self, forKey: .issuer)
        guard let issuer = RideCodeIssuer(rawValue: number) else {
            throw DecodingError.dataCorruptedError(
                forKey: .issuer, in: c,
                debugDescription: "must be an issuer number of RIDECODE.md ("
                    + StrictJSON.alternatives(RideCodeIssuer.allCases.map { String($0.rawValue) }) + "), not \(number)")
        }
        self.issuer = issuer
        keyID = try c.decode(UInt16.self, forKey: .keyID)
        algorithm = try c.decodeName(RideCodeAlgorithm.self, forKey: .alg)
        let hex = try c.decode(String.self, forKey: .publicKey)
        guard let key = Hex.bytes(exact: hex) else {
            throw DecodingError.dataCorruptedError(
                forKey: .publicKey, in: c, debugDescription: "must be hex (pairs of 0-9 a-f), not '\(hex.prefix(16))…'")
        }
        guard key.count == algorithm.publicKeyLength else {
            throw DecodingError.dataCorruptedError(
                forKey: .publicKey, in: c,
                debugDescription: "must be \(algorithm.publicKeyLength) bytes for \(algorithm.name), not \(key.count)")
        }
        guard algorithm.isWellFormedPublicKey(key) else {
            throw DecodingError.dataCorruptedError(
                forKey: .publicKey, in: c, debugDescription: "must be an uncompressed SM2 point (04 ‖ X ‖ Y)")
        }
        publicKey = key
        validFrom = try c.decode(UInt32.self, forKey: .validFrom)
        validUntil = try c.decode(UInt32.self, forKey: .validUntil)
        guard validFrom <= validUntil else {
            throw DecodingError.dataCorruptedError(
                forKey: .validUntil, in: c, debugDescription: "must not be before valid_from (\(validFrom))")
        }
        revoked = try c.decode(Bool.self, forKey: .revoked)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(issuer.rawValue, forKey: .issuer)
        try c.encode(keyID, forKey: .keyID)
        try c.encodeName(algorithm, forKey: .alg)
        try c.encode(Hex.lowercase(publicKey), forKey: .publicKey)
        try c.encode(validFrom, forKey: .validFrom)
        try c.encode(validUntil, forKey: .validUntil)
        try c.encode(revoked, forKey: .revoked)
    }
}

/// The issuer keys a gate holds: at most one key per (issuer, key id).
///
/// Its file form (bench tools; central sends the same list) is RIDECODE.md's JSON array, read with
/// the strict JSON reader: unknown or missing fields, bad hex, a key of the wrong length for its
/// algorithm and a second entry for the same (issuer, key_id) are refused with the field named
/// (`[3].key_id duplicates [1] (issuer 2, key 7)`). Immutable once built; thread-safe.
public struct RideCodeIssuerKeyList: Hashable, Sendable {
    public private(set) var keys: [RideCodeIssuerKey]
    private var index: [UInt32: Int]

    /// Largest key list file accepted (a few hundred keys is a few tens of KiB).
    public static let maxFileBytes = 1 << 20

    /// The list of `keys`; fails on the first (issuer, key id) that appears twice, with both places.
    public init(_ keys: [RideCodeIssuerKey]) throws(RideCodeIssuerKeyList.DuplicateKey) {
        var index: [UInt32: Int] = [:]
        for (i, k) in keys.enumerated() {
            let id = Self.slot(k.issuer.rawValue, k.keyID)
            if let first = index[id] { throw DuplicateKey(first: first, second: i, key: k) }
            index[id] = i
        }
        self.keys = keys
        self.index = index
    }

    public static let empty = RideCodeIssuerKeyList()
    private init() {
        keys = []
        index = [:]
    }

    /// A second entry for an (issuer, key id) already in the list.
    public struct DuplicateKey: Error, Hashable, Sendable, CustomStringConvertible {
        public var first: Int
        public var second: Int
        public var key: RideCodeIssuerKey
        public var description: String {
            "[\(second)].key_id duplicates [\(first)] (issuer \(key.issuer.rawValue), key \(key.keyID))"
        }
    }

    static func slot(_ issuer: UInt8, _ keyID: UInt16) -> UInt32 { UInt32(issuer) << 16 | UInt32(keyID) }

    /// The key `keyID` of issuer number `issuer`, if the list has it (revoked or not).
    public func key(issuer: UInt8, keyID: UInt16) -> RideCodeIssuerKey? {
        index[Self.slot(issuer, keyID)].map { keys[$0] }
    }

    /// Reads the JSON file form.
    public static func decode(json bytes: [UInt8]) throws(JSONDecodingError) -> RideCodeIssuerKeyList {
        var limits = StrictJSONReader.Limits()
        limits.maxBytes = maxFileBytes
        let keys = try StrictJSON.decode([RideCodeIssuerKey].self, from: bytes, limits: limits)
        do {
            return try RideCodeIssuerKeyList(keys)
        } catch {
            let problem = "duplicates [\(error.first)] (issuer \(error.key.issuer.rawValue), key \(error.key.keyID))"
            let path: [any CodingKey] = [JSONIndexKey(error.second), JSONKey("key_id")]
            // The text parsed above, so reading it again succeeds; only its positions are wanted.
            guard let root = try? StrictJSONReader.read(bytes, limits: limits) else {
                throw JSONDecodingError(
                    position: JSONPosition(line: 1, column: 1), field: "[\(error.second)].key_id", problem: problem)
            }
            throw StrictJSON.located(path, in: root, problem)
        }
    }
}
