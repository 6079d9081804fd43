import COpenSSL

/// An SM2 key pair that signs ride-code certificates and dynamic parts (bench tools and tests;
/// a gate only verifies). The secret scalar is wiped from this object's copy when it goes away.
/// Thread-safe: immutable after init.
public final class SM2KeyPair: @unchecked Sendable {  // invariant: never mutated after init
    /// The 65-byte uncompressed public point `04 ‖ X ‖ Y`.
    public let publicKey: [UInt8]
    private var secret: [UInt8]
    private let key: PKey

    /// A fresh random key pair (`EVP_PKEY_generate`).
    public init() throws(SM2Error) {
        key = try PKey.generate()
        publicKey = try key.publicPoint()
        secret = try key.secretScalar()
    }

    /// The key pair of a 32-byte secret scalar; the public point is derived (`EC_POINT_mul` on
    /// the SM2 group). Refuses 0 and scalars not below the group order.
    public init(secretKey: [UInt8]) throws(SM2Error) {
        guard secretKey.count == SM2.secretKeySize else {
            throw SM2Error(.badKey, "an SM2 secret key is \(SM2.secretKeySize) bytes, got \(secretKey.count)")
        }
        let point = try Self.publicPoint(of: secretKey)
        key = try PKey(publicKey: point, secret: secretKey)
        publicKey = point
        secret = secretKey
    }

    deinit {
        secret.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
    }

    /// The secret scalar, for writing the key file.
    public var secretKeyBytes: [UInt8] { secret }

    /// The `r ‖ s` signature of `message` (SM3, default distinguishing ID); wraps
    /// `EVP_DigestSign`, then converts its DER output.
    public func signature(of message: [UInt8]) throws(SM2Error) -> [UInt8] {
        let der: [UInt8]? = try key.withDigestContext(sign: true) { mctx in
            withBytes(message) { m, n -> [UInt8]? in
                var length = 0
                guard EVP_DigestSign(mctx, nil, &length, m, n) == 1, length > 0, length <= 128 else { return nil }
                var out = [UInt8](repeating: 0, count: length)
                let rc = out.withUnsafeMutableBufferPointer { EVP_DigestSign(mctx, $0.baseAddress, &length, m, n) }
                guard rc == 1 else { return nil }
                return Array(out.prefix(length))
            }
        }
        guard let der else { throw SM2Error.failed(.callFailed, "EVP_DigestSign") }
        return try SM2.rawSignature(der: der)
    }

    /// `secret · G` on the SM2 curve, uncompressed; wraps `EC_GROUP_new_by_curve_name(NID_sm2)`,
    /// `EC_POINT_mul` and `EC_POINT_point2oct`.
    static func publicPoint(of secret: [UInt8]) throws(SM2Error) -> [UInt8] {
        guard let group = EC_GROUP_new_by_curve_name(NID_sm2) else {
            throw SM2Error.failed(.callFailed, "EC_GROUP_new_by_curve_name(SM2)")
        }
        defer { EC_GROUP_free(group) }
        guard let d = secret.withUnsafeBufferPointer({ BN_bin2bn($0.baseAddress, Int32($0.count), nil) }) else {
            throw SM2Error.failed(.callFailed, "BN_bin2bn")
        }
        defer { BN_clear_free(d) }
        guard BN_is_zero(d) == 0, let order = EC_GROUP_get0_order(group), BN_cmp(d, order) < 0 else {
            throw SM2Error(.badKey, "the SM2 secret key must be between 1 and the group order")
        }
        guard let point = EC_POINT_new(group) else { throw SM2Error.failed(.callFailed, "EC_POINT_new") }
        defer { EC_POINT_free(point) }
        guard EC_POINT_mul(group, point, d, nil, nil, nil) == 1 else {
            throw SM2Error.failed(.callFailed, "EC_POINT_mul")
        }
        var out = [UInt8](repeating: 0, count: SM2.publicKeySize)
        let n = out.withUnsafeMutableBufferPointer {
            EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, $0.baseAddress, $0.count, nil)
        }
        guard n == SM2.publicKeySize else { throw SM2Error.failed(.callFailed, "EC_POINT_point2oct") }
        return out
    }
}
