import COpenSSL

/// An error from the SM2 adapter over OpenSSL's libcrypto: which step failed, and OpenSSL's own
/// reason from its error queue (`ERR_get_error`), which the funnel empties.
public struct SM2Error: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// A public or secret key of the wrong length or not on the curve.
        public static let badKey = Code(rawValue: "bad_key")
        /// A signature that is not 64 bytes `r ‖ s`, or not DER ECDSA-Sig-Value.
        public static let badSignature = Code(rawValue: "bad_signature")
        /// A libcrypto call failed (out of memory, a provider without SM2).
        public static let callFailed = Code(rawValue: "call_failed")
    }

    public var code: Code
    public var message: String
    /// OpenSSL's error string for the first queued error, if there was one.
    public var openSSLReason: String?

    public init(_ code: Code, _ message: String, openSSLReason: String? = nil) {
        self.code = code
        self.message = message
        self.openSSLReason = openSSLReason
    }

    public var description: String {
        "libcrypto \(code.rawValue): \(message)" + (openSSLReason.map { " (\($0))" } ?? "")
    }

    /// The error for a failed call, taking (and clearing) OpenSSL's error queue.
    static func failed(_ code: Code, _ message: String) -> SM2Error {
        SM2Error(code, message, openSSLReason: drainErrorQueue())
    }

    /// The first queued error as text; empties the queue so a later call starts clean.
    static func drainErrorQueue() -> String? {
        let first = ERR_get_error()
        ERR_clear_error()
        guard first != 0 else { return nil }
        var buf = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(first, &buf, buf.count)
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
