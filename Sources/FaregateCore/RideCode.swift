/// A signature algorithm of ride code v1 (RIDECODE.md): the byte a certificate carries for the
/// issuer's signature (`cert_alg`) and for the phone's key (`user_alg`).
public enum RideCodeAlgorithm: UInt8, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    /// Pure Ed25519 (RFC 8032).
    case ed25519 = 1
    /// SM2 with SM3 (GM/T 0003.2), distinguishing ID `1234567812345678`, signature `r ‖ s`.
    case sm2 = 2

    /// Length of a public key: 32 for Ed25519, 65 for SM2 (uncompressed point `04 ‖ X ‖ Y`).
    public var publicKeyLength: Int { self == .ed25519 ? 32 : 65 }

    /// Every signature of ride code v1 is 64 bytes (Ed25519's, or SM2's `r ‖ s`).
    public static let signatureLength = 64

    public var description: String { name }

    /// True when `key` has this algorithm's length and, for SM2, the uncompressed-point prefix.
    public func isWellFormedPublicKey(_ key: some Collection<UInt8>) -> Bool {
        key.count == publicKeyLength && (self == .ed25519 || key.first == 0x04)
    }
}

extension RideCodeAlgorithm: NamedCase {
    /// The spelling of the issuer-key file (`"ed25519"`, `"sm2"`).
    public var name: String { self == .ed25519 ? "ed25519" : "sm2" }
}

/// Level 1 of a ride code: the issuer-signed account certificate carrying the phone's key.
public struct RideCodeCertificate: Hashable, Sendable {
    public var certificateAlgorithm: RideCodeAlgorithm
    /// The issuer number (RIDECODE.md's table); kept raw so a number this build does not name
    /// still reaches the issuer rule (check 2) instead of being called malformed.
    public var issuerNumber: UInt8
    public var issuerKeyID: UInt16
    /// The rider's account at the issuer, `< 2^52`.
    public var account: UInt64
    public var validFrom: UInt32
    public var validUntil: UInt32
    public var userAlgorithm: RideCodeAlgorithm
    /// The phone's public key (`userAlgorithm.publicKeyLength` bytes).
    public var userKey: [UInt8]
    /// The issuer's signature over every byte before it.
    public var signature: [UInt8]

    public init(
        certificateAlgorithm: RideCodeAlgorithm, issuerNumber: UInt8, issuerKeyID: UInt16, account: UInt64,
        validFrom: UInt32, validUntil: UInt32, userAlgorithm: RideCodeAlgorithm, userKey: [UInt8],
        signature: [UInt8] = []
    ) {
        self.certificateAlgorithm = certificateAlgorithm
        self.issuerNumber = issuerNumber
        self.issuerKeyID = issuerKeyID
        self.account = account
        self.validFrom = validFrom
        self.validUntil = validUntil
        self.userAlgorithm = userAlgorithm
        self.userKey = userKey
        self.signature = signature
    }

    /// The issuer, when this build names it.
    public var issuer: RideCodeIssuer? { RideCodeIssuer(rawValue: issuerNumber) }

    /// The gate's key for the rider: the ride-code `CardKey` of (issuer, account).
    public var cardKey: CardKey? { CardKey(rideCodeIssuerNumber: issuerNumber, account: account) }

    /// The bytes the issuer signs: magic … user_key.
    public var signedBytes: [UInt8] {
        var b: [UInt8] = RideCode.magic + [RideCode.version, certificateAlgorithm.rawValue, issuerNumber]
        b.appendBigEndian(issuerKeyID)
        b.appendBigEndian(account)
        b.appendBigEndian(validFrom)
        b.appendBigEndian(validUntil)
        b += [userAlgorithm.rawValue, UInt8(truncatingIfNeeded: userKey.count)]
        b += userKey
        return b
    }

    /// The whole certificate: `signedBytes ‖ cert_sig`.
    public var bytes: [UInt8] { signedBytes + signature }
}

/// Level 2 of a ride code: what the phone signs each time it shows the code.
public struct RideCodeDynamicPart: Hashable, Sendable {
    public var generatedAt: UInt32
    public var counter: UInt32
    /// Bit 0: made while the phone was offline; the other bits are 0.
    public var flags: UInt8
    /// The phone's signature over certificate ‖ generated_at ‖ counter ‖ flags.
    public var signature: [UInt8]

    /// The flag bits ride code v1 defines.
    public static let offlineFlag: UInt8 = 1

    public init(generatedAt: UInt32, counter: UInt32, flags: UInt8, signature: [UInt8] = []) {
        self.generatedAt = generatedAt
        self.counter = counter
        self.flags = flags
        self.signature = signature
    }

    /// generated_at ‖ counter ‖ flags.
    public var signedFields: [UInt8] {
        var b: [UInt8] = []
        b.appendBigEndian(generatedAt)
        b.appendBigEndian(counter)
        b.append(flags)
        return b
    }
}

/// Why a text or byte string is not a ride code v1 (check 1, refused as `ride_code_malformed`).
public struct RideCodeFormatError: Error, Hashable, Sendable, CustomStringConvertible {
    public var problem: String
    public init(_ problem: String) { self.problem = problem }
    public var description: String { problem }
}

/// A parsed ride code v1: certificate and dynamic part, typed, with the exact bytes the two
/// signatures cover. Parsing is check 1 of RIDECODE.md (prefix, Base45, lengths, version,
/// algorithms, nothing trailing), pure and bounds-checked: any input gives a value or a
/// `RideCodeFormatError`, never a trap. It checks no signature and no time.
public struct RideCode: Hashable, Sendable {
    public static let textPrefix = "RC1:"
    public static let magic: [UInt8] = [0x52, 0x43]
    public static let version: UInt8 = 1
    /// Bytes of the certificate before the phone's key (magic … user_key_len).
    public static let certificateHeaderLength = 25
    /// Bytes of the dynamic part.
    public static let dynamicPartLength = 4 + 4 + 1 + RideCodeAlgorithm.signatureLength
    /// The longest code: SM2 phone key.
    public static let maxByteCount = certificateHeaderLength + 65 + 64 + dynamicPartLength
    /// The longest text: prefix and Base45 of `maxByteCount` bytes (345 characters).
    public static let maxTextLength = textPrefix.utf8.count + (maxByteCount / 2) * 3 + (maxByteCount % 2) * 2

    public var certificate: RideCodeCertificate
    public var dynamicPart: RideCodeDynamicPart

    public init(certificate: RideCodeCertificate, dynamicPart: RideCodeDynamicPart) {
        self.certificate = certificate
        self.dynamicPart = dynamicPart
    }

    /// The phone signs the whole certificate (with cert_sig) and the dynamic fields.
    public var userSignedBytes: [UInt8] { certificate.bytes + dynamicPart.signedFields }

    /// All bytes of the code.
    public var bytes: [UInt8] { userSignedBytes + dynamicPart.signature }

    /// The text of the QR symbol: `RC1:` and the Base45 of the bytes.
    public var text: String { Self.textPrefix + Base45.encode(bytes) }

    /// Parses the text a scanner delivers (without its CR/LF).
    public init(text: some StringProtocol) throws(RideCodeFormatError) {
        try self.init(textBytes: Array(text.utf8))
    }

    /// Parses the UTF-8 bytes of a scanned text.
    public init(textBytes: [UInt8]) throws(RideCodeFormatError) {
        // The length bound comes first, so nothing below allocates for an over-long scan.
        guard textBytes.count <= Self.maxTextLength else {
            throw RideCodeFormatError(
                "\(textBytes.count) characters is longer than any ride code (\(Self.maxTextLength))")
        }
        let prefix = Array(Self.textPrefix.utf8)
        guard textBytes.starts(with: prefix) else {
            throw RideCodeFormatError("does not start with \(Self.textPrefix)")
        }
        let bytes: [UInt8]
        do {
            bytes = try Base45.decode(textBytes[prefix.count...])
        } catch {
            throw RideCodeFormatError("not Base45: \(error)")
        }
        try self.init(bytes: bytes)
    }

    /// Parses the bytes of a code.
    public init(bytes: [UInt8]) throws(RideCodeFormatError) {
        var r = RideCodeBytes(bytes)
        guard let magic = r.take(2), magic.elementsEqual(Self.magic) else {
            throw RideCodeFormatError("no RC magic")
        }
        guard let version = r.byte() else { throw RideCodeFormatError("truncated before version") }
        guard version == Self.version else { throw RideCodeFormatError("version \(version) is not 1") }
        guard let certAlgByte = r.byte(), let issuer = r.byte(), let keyID = r.uint16(), let account = r.uint64(),
            let validFrom = r.uint32(), let validUntil = r.uint32(), let userAlgByte = r.byte(),
            let userKeyLength = r.byte()
        else { throw RideCodeFormatError("truncated certificate header (\(bytes.count) bytes)") }
        guard let certAlg = RideCodeAlgorithm(rawValue: certAlgByte) else {
            throw RideCodeFormatError("certificate algorithm \(certAlgByte) is not known")
        }
        guard let userAlg = RideCodeAlgorithm(rawValue: userAlgByte) else {
            throw RideCodeFormatError("phone key algorithm \(userAlgByte) is not known")
        }
        guard account < 1 << CardKey.rideCodeAccountBits else {
            throw RideCodeFormatError("account \(account) is not below 2^52")
        }
        guard Int(userKeyLength) == userAlg.publicKeyLength else {
            throw RideCodeFormatError(
                "phone key length \(userKeyLength) is not \(userAlg.publicKeyLength) for \(userAlg.name)")
        }
        guard let userKey = r.take(Int(userKeyLength)), let certSig = r.take(RideCodeAlgorithm.signatureLength)
        else { throw RideCodeFormatError("truncated certificate (\(bytes.count) bytes)") }
        guard userAlg.isWellFormedPublicKey(userKey) else {
            throw RideCodeFormatError("SM2 phone key is not an uncompressed point (04 ‖ X ‖ Y)")
        }
        guard let generatedAt = r.uint32(), let counter = r.uint32(), let flags = r.byte(),
            let userSig = r.take(RideCodeAlgorithm.signatureLength)
        else { throw RideCodeFormatError("truncated dynamic part (\(bytes.count) bytes)") }
        guard flags & ~RideCodeDynamicPart.offlineFlag == 0 else {
            throw RideCodeFormatError("flags \(flags) set bits other than bit 0")
        }
        guard r.remaining == 0 else { throw RideCodeFormatError("\(r.remaining) bytes after the phone's signature") }
        certificate = RideCodeCertificate(
            certificateAlgorithm: certAlg, issuerNumber: issuer, issuerKeyID: keyID, account: account,
            validFrom: validFrom, validUntil: validUntil, userAlgorithm: userAlg, userKey: Array(userKey),
            signature: Array(certSig))
        dynamicPart = RideCodeDynamicPart(
            generatedAt: generatedAt, counter: counter, flags: flags, signature: Array(userSig))
    }
}

/// Big-endian reads that return nil past the end instead of trapping.
struct RideCodeBytes {
    let bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func take(_ n: Int) -> ArraySlice<UInt8>? {
        guard n >= 0, n <= remaining else { return nil }
        defer { offset += n }
        return bytes[offset..<offset + n]
    }

    mutating func byte() -> UInt8? { take(1)?.first }

    mutating func uint<T: FixedWidthInteger & UnsignedInteger>(_: T.Type) -> T? {
        guard let s = take(MemoryLayout<T>.size) else { return nil }
        return s.reduce(T(0)) { $0 << 8 | T($1) }
    }

    mutating func uint16() -> UInt16? { uint(UInt16.self) }
    mutating func uint32() -> UInt32? { uint(UInt32.self) }
    mutating func uint64() -> UInt64? { uint(UInt64.self) }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        for i in stride(from: MemoryLayout<T>.size - 1, through: 0, by: -1) {
            append(UInt8(truncatingIfNeeded: value >> (i * 8)))
        }
    }
}
