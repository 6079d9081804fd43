import COpenSSL

/// SM2 signatures with the SM3 digest (GM/T 0003.2), as ride code v1 uses them: the default
/// distinguishing ID `1234567812345678`, public keys as the 65-byte uncompressed point
/// `04 ‖ X ‖ Y`, signatures as 64 bytes `r ‖ s` (big-endian, left-padded). OpenSSL speaks DER
/// ECDSA-Sig-Value, so every signature is converted at this boundary, both ways.
///
/// The only module that imports `COpenSSL`. Thread-safe: every call builds its own libcrypto
/// objects and frees them before it returns.
public enum SM2 {
    public static let distinguishingID: [UInt8] = Array("1234567812345678".utf8)
    public static let publicKeySize = 65
    public static let secretKeySize = 32
    public static let signatureSize = 64

    /// True when `signature` (`r ‖ s`) is `publicKey`'s SM2/SM3 signature of `message`; false for
    /// any malformed key or signature (never traps, never throws). Fits `RideCodeSignatureSuite`.
    @Sendable public static func verify(publicKey: [UInt8], message: [UInt8], signature: [UInt8]) -> Bool {
        (try? checkedVerify(publicKey: publicKey, message: message, signature: signature)) ?? false
    }

    /// As `verify`, but says why a key or signature could not be checked at all. Wraps
    /// `EVP_PKEY_CTX_set1_id`, `EVP_MD_CTX_set_pkey_ctx`, `EVP_DigestVerifyInit` (SM3) and
    /// `EVP_DigestVerify`.
    public static func checkedVerify(publicKey: [UInt8], message: [UInt8], signature: [UInt8]) throws(SM2Error)
        -> Bool
    {
        let der = try derSignature(raw: signature)
        let key = try PKey(publicKey: publicKey)
        let rc = try key.withDigestContext(sign: false) { mctx in
            der.withUnsafeBufferPointer { s in
                withBytes(message) { m, n in EVP_DigestVerify(mctx, s.baseAddress, s.count, m, n) }
            }
        }
        // 0 is a signature that does not verify; below 0 an error. Either leaves a queued error.
        _ = SM2Error.drainErrorQueue()
        return rc == 1
    }

    /// DER ECDSA-Sig-Value of a 64-byte `r ‖ s`; wraps `ECDSA_SIG_set0` and `i2d_ECDSA_SIG`.
    public static func derSignature(raw: [UInt8]) throws(SM2Error) -> [UInt8] {
        guard raw.count == signatureSize else {
            throw SM2Error(.badSignature, "an SM2 signature is \(signatureSize) bytes r ‖ s, not \(raw.count)")
        }
        guard let sig = ECDSA_SIG_new() else { throw SM2Error.failed(.callFailed, "ECDSA_SIG_new") }
        defer { ECDSA_SIG_free(sig) }
        let r = raw.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, 32, nil) }
        let s = raw.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress.map { $0 + 32 }, 32, nil) }
        guard let r, let s else {
            BN_free(r)
            BN_free(s)
            throw SM2Error.failed(.callFailed, "BN_bin2bn")
        }
        guard ECDSA_SIG_set0(sig, r, s) == 1 else {
            BN_free(r)
            BN_free(s)
            throw SM2Error.failed(.callFailed, "ECDSA_SIG_set0")
        }
        let length = i2d_ECDSA_SIG(sig, nil)
        guard length > 0 else { throw SM2Error.failed(.callFailed, "i2d_ECDSA_SIG") }
        var out = [UInt8](repeating: 0, count: Int(length))
        let written = out.withUnsafeMutableBufferPointer { b -> Int32 in
            var p = b.baseAddress
            return i2d_ECDSA_SIG(sig, &p)
        }
        guard written == length else { throw SM2Error.failed(.callFailed, "i2d_ECDSA_SIG wrote \(written)") }
        return out
    }

    /// The 64-byte `r ‖ s` of a DER ECDSA-Sig-Value; wraps `d2i_ECDSA_SIG` and `BN_bn2binpad`.
    /// Refuses bytes after the value and integers wider than 32 bytes.
    public static func rawSignature(der: [UInt8]) throws(SM2Error) -> [UInt8] {
        guard !der.isEmpty, der.count <= 128 else {
            throw SM2Error(.badSignature, "\(der.count) bytes is not a DER SM2 signature")
        }
        let parsed: (OpaquePointer?, Int) = der.withUnsafeBufferPointer { b in
            var p = b.baseAddress
            let sig = d2i_ECDSA_SIG(nil, &p, b.count)
            return (sig, p.map { $0 - b.baseAddress.unsafelyUnwrapped } ?? 0)
        }
        guard let sig = parsed.0 else { throw SM2Error.failed(.badSignature, "not DER ECDSA-Sig-Value") }
        defer { ECDSA_SIG_free(sig) }
        guard parsed.1 == der.count else {
            throw SM2Error(.badSignature, "\(der.count - parsed.1) bytes after the DER signature")
        }
        var out = [UInt8](repeating: 0, count: signatureSize)
        let ok = out.withUnsafeMutableBufferPointer { b -> Bool in
            guard let base = b.baseAddress else { return false }
            return BN_bn2binpad(ECDSA_SIG_get0_r(sig), base, 32) == 32
                && BN_bn2binpad(ECDSA_SIG_get0_s(sig), base + 32, 32) == 32
        }
        guard ok else { throw SM2Error(.badSignature, "r or s is wider than 32 bytes") }
        return out
    }
}

/// Gives C a valid pointer for any message, a one-byte dummy when it is empty (length 0 then).
func withBytes<R>(_ a: [UInt8], _ body: (UnsafePointer<UInt8>, Int) -> R) -> R {
    a.withUnsafeBufferPointer { b in
        if let p = b.baseAddress { return body(p, b.count) }
        let dummy: UInt8 = 0
        return withUnsafePointer(to: dummy) { body($0, 0) }
    }
}

/// An owned `EVP_PKEY` of type SM2, freed (`EVP_PKEY_free`) with this object.
final class PKey {
    let pkey: OpaquePointer

    private init(_ pkey: OpaquePointer) { self.pkey = pkey }
    deinit { EVP_PKEY_free(pkey) }

    /// The public key of a 65-byte uncompressed point; wraps `EVP_PKEY_fromdata` with group SM2
    /// (OpenSSL checks that the point is on the curve).
    convenience init(publicKey: [UInt8]) throws(SM2Error) {
        guard publicKey.count == SM2.publicKeySize, publicKey.first == 0x04 else {
            throw SM2Error(.badKey, "an SM2 public key is 65 bytes 04 ‖ X ‖ Y, got \(publicKey.count)")
        }
        self.init(try Self.fromData(publicKey: publicKey, secret: nil))
    }

    /// The key pair of a secret scalar and its public point.
    convenience init(publicKey: [UInt8], secret: [UInt8]) throws(SM2Error) {
        self.init(try Self.fromData(publicKey: publicKey, secret: secret))
    }

    /// A fresh random key pair; wraps `EVP_PKEY_keygen_init` and `EVP_PKEY_generate`.
    static func generate() throws(SM2Error) -> PKey {
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, "SM2", nil) else {
            throw SM2Error.failed(.callFailed, "EVP_PKEY_CTX_new_from_name(SM2)")
        }
        defer { EVP_PKEY_CTX_free(ctx) }
        var pkey: OpaquePointer?
        guard EVP_PKEY_keygen_init(ctx) == 1, EVP_PKEY_generate(ctx, &pkey) == 1, let pkey else {
            throw SM2Error.failed(.callFailed, "EVP_PKEY_generate(SM2)")
        }
        return PKey(pkey)
    }

    private static func fromData(publicKey: [UInt8], secret: [UInt8]?) throws(SM2Error) -> OpaquePointer {
        guard let bld = OSSL_PARAM_BLD_new() else { throw SM2Error.failed(.callFailed, "OSSL_PARAM_BLD_new") }
        defer { OSSL_PARAM_BLD_free(bld) }
        var bn: OpaquePointer?
        defer { BN_clear_free(bn) }
        if let secret {
            bn = secret.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, Int32($0.count), nil) }
            guard bn != nil else { throw SM2Error.failed(.callFailed, "BN_bin2bn") }
        }
        // The builder keeps the pointers it is given until OSSL_PARAM_BLD_to_param copies the
        // values, so the point's bytes are borrowed across the whole build.
        let built: UnsafeMutablePointer<OSSL_PARAM>? = publicKey.withUnsafeBytes { pub in
            guard OSSL_PARAM_BLD_push_utf8_string(bld, faregate_param_group_name(), faregate_group_sm2(), 0) == 1,
                OSSL_PARAM_BLD_push_octet_string(bld, faregate_param_pub_key(), pub.baseAddress, pub.count) == 1,
                bn == nil || OSSL_PARAM_BLD_push_BN(bld, faregate_param_priv_key(), bn) == 1
            else { return nil }
            return OSSL_PARAM_BLD_to_param(bld)
        }
        guard let params = built else { throw SM2Error.failed(.callFailed, "OSSL_PARAM_BLD") }
        defer { OSSL_PARAM_free(params) }
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, "SM2", nil) else {
            throw SM2Error.failed(.callFailed, "EVP_PKEY_CTX_new_from_name(SM2)")
        }
        defer { EVP_PKEY_CTX_free(ctx) }
        var pkey: OpaquePointer?
        let selection = secret == nil ? faregate_evp_pkey_public_key() : faregate_evp_pkey_keypair()
        guard EVP_PKEY_fromdata_init(ctx) == 1, EVP_PKEY_fromdata(ctx, &pkey, selection, params) == 1, let pkey else {
            throw SM2Error.failed(.badKey, "not an SM2 key (EVP_PKEY_fromdata)")
        }
        return pkey
    }

    /// The 65-byte public point; wraps `EVP_PKEY_get_octet_string_param("pub")`.
    func publicPoint() throws(SM2Error) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: SM2.publicKeySize)
        var length = 0
        let rc = out.withUnsafeMutableBufferPointer {
            EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, $0.baseAddress, $0.count, &length)
        }
        guard rc == 1, length == SM2.publicKeySize, out[0] == 0x04 else {
            throw SM2Error.failed(.callFailed, "EVP_PKEY_get_octet_string_param(pub)")
        }
        return out
    }

    /// The 32-byte secret scalar; wraps `EVP_PKEY_get_bn_param("priv")` and `BN_bn2binpad`.
    func secretScalar() throws(SM2Error) -> [UInt8] {
        var bn: OpaquePointer?
        guard EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &bn) == 1, let bn else {
            throw SM2Error.failed(.callFailed, "EVP_PKEY_get_bn_param(priv)")
        }
        defer { BN_clear_free(bn) }
        var out = [UInt8](repeating: 0, count: SM2.secretKeySize)
        let n = out.withUnsafeMutableBufferPointer { BN_bn2binpad(bn, $0.baseAddress, 32) }
        guard n == 32 else { throw SM2Error.failed(.callFailed, "BN_bn2binpad(priv)") }
        return out
    }

    /// Runs `body` on a digest context set up for SM2 with SM3 and the default distinguishing ID:
    /// `EVP_PKEY_CTX_new`, `EVP_PKEY_CTX_set1_id`, `EVP_MD_CTX_set_pkey_ctx`, then
    /// `EVP_DigestSignInit` or `EVP_DigestVerifyInit` with `EVP_sm3()`.
    func withDigestContext<R>(sign: Bool, _ body: (OpaquePointer) -> R) throws(SM2Error) -> R {
        guard let mctx = EVP_MD_CTX_new() else { throw SM2Error.failed(.callFailed, "EVP_MD_CTX_new") }
        guard let pctx = EVP_PKEY_CTX_new(pkey, nil) else {
            EVP_MD_CTX_free(mctx)
            throw SM2Error.failed(.callFailed, "EVP_PKEY_CTX_new")
        }
        // The MD context does not own a pkey context given by EVP_MD_CTX_set_pkey_ctx: free both.
        defer {
            EVP_MD_CTX_free(mctx)
            EVP_PKEY_CTX_free(pctx)
        }
        let idSet = SM2.distinguishingID.withUnsafeBytes {
            EVP_PKEY_CTX_set1_id(pctx, $0.baseAddress, Int32($0.count))
        }
        guard idSet == 1 else { throw SM2Error.failed(.callFailed, "EVP_PKEY_CTX_set1_id") }
        EVP_MD_CTX_set_pkey_ctx(mctx, pctx)
        let rc =
            sign
            ? EVP_DigestSignInit(mctx, nil, EVP_sm3(), nil, pkey)
            : EVP_DigestVerifyInit(mctx, nil, EVP_sm3(), nil, pkey)
        guard rc == 1 else { throw SM2Error.failed(.callFailed, sign ? "EVP_DigestSignInit" : "EVP_DigestVerifyInit") }
        return body(mctx)
    }
}
