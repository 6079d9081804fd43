/// Making ride codes: what an issuer and a phone do. The gate never signs; bench tools, the
/// station simulation and tests do, through the adapters' signers passed in as closures.
extension RideCodeCertificate {
    /// This certificate with `cert_sig` set to `sign(signedBytes)` (the issuer's key).
    public func signed<E: Error>(by sign: ([UInt8]) throws(E) -> [UInt8]) throws(E) -> RideCodeCertificate {
        var c = self
        c.signature = try sign(signedBytes)
        return c
    }
}

extension RideCode {
    /// The code a phone shows: its dynamic part signed by `sign` (the phone's key) over the
    /// certificate and the dynamic fields.
    public init<E: Error>(
        certificate: RideCodeCertificate, generatedAt: UInt32, counter: UInt32, flags: UInt8 = 0,
        signedBy sign: ([UInt8]) throws(E) -> [UInt8]
    ) throws(E) {
        let unsigned = RideCodeDynamicPart(generatedAt: generatedAt, counter: counter, flags: flags)
        let signature = try sign(certificate.bytes + unsigned.signedFields)
        self.init(
            certificate: certificate,
            dynamicPart: RideCodeDynamicPart(
                generatedAt: generatedAt, counter: counter, flags: flags, signature: signature))
    }
}
