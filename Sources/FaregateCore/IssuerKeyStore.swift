/// Central's ride-code issuer keys (issue 17.3): the table office and admin staff edit
/// (`farectl central issuer-keys add|revoke|list`), and the signed document the publisher makes
/// of it (`central issuer-keys publish`) for gates to fetch. On PostgreSQL the gate role reads
/// both and writes neither.
public protocol IssuerKeyStore {
    /// Adds a key; refused (`.refused`) when the store has one for the same (issuer, key id),
    /// revoked or not: a key id is never reused for other key material.
    func addIssuerKey(_ key: RideCodeIssuerKey, wallMillis: Int64) throws(CentralStoreError)
    /// Marks a key revoked; false when the store has no such key. Revoking twice is harmless.
    func revokeIssuerKey(issuer: UInt8, keyID: UInt16, wallMillis: Int64) throws(CentralStoreError) -> Bool
    /// Every key, revoked ones included, in (issuer, key id) order.
    func issuerKeys() throws(CentralStoreError) -> [RideCodeIssuerKey]
    /// Stores a sealed document as the newest; refused (`.refused`) unless `version` is higher
    /// than the stored one's.
    func storeIssuerKeyDocument(version: UInt64, sealed: [UInt8]) throws(CentralStoreError)
    /// The newest sealed document and its version (as stored: the gate verifies); nil before the first.
    func latestIssuerKeyDocument() throws(CentralStoreError) -> (version: UInt64, sealed: [UInt8])?
}

extension SyncPublisher {
    /// Signs the store's issuer keys as the next document version (the stored one's plus one),
    /// issued `nowMillis`, valid for `validForMillis`, and stores it. Run by whoever holds the
    /// publication key after keys change, and at least once per validity period (a gate takes
    /// no expired document, so an old one withheld by a central that stopped publishing is noticed).
    @discardableResult
    public static func storeIssuerKeys(
        in store: some IssuerKeyStore, scope: SyncScope, signer: some ManifestSigner, nowMillis: Int64,
        validForMillis: Int64
    ) throws(CentralStoreError) -> IssuerKeyDocument {
        let stored = try store.issuerKeys()
        guard stored.count <= IssuerKeyDocument.maxKeys else {
            throw CentralStoreError(
                .refused, "\(stored.count) issuer keys; one document carries at most \(IssuerKeyDocument.maxKeys)")
        }
        let keys: RideCodeIssuerKeyList
        do { keys = try RideCodeIssuerKeyList(stored) } catch {
            throw CentralStoreError(
                .corrupt, "the issuer key table holds \(error.key.issuer) key \(error.key.keyID) twice")
        }
        let previous = try store.latestIssuerKeyDocument()?.version ?? 0
        guard previous < SyncManifest.maxVersion else {
            throw CentralStoreError(.refused, "issuer-key document version \(previous) is at the limit")
        }
        let (expires, overflow) = nowMillis.addingReportingOverflow(validForMillis)
        let d = IssuerKeyDocument(
            scope: scope, version: previous + 1, issuedAtMillis: nowMillis,
            expiresAtMillis: overflow ? .max : expires, keys: keys)
        try store.storeIssuerKeyDocument(version: d.version, sealed: d.sealed(by: signer))
        return d
    }
}

/// One row of a store's issuer key table as read, before it is a `RideCodeIssuerKey`: every
/// column is range-checked (a row written around the stores' checks is `.corrupt`, never a trap).
public struct IssuerKeyRow: Sendable {
    public var issuer: Int64
    public var keyID: Int64
    public var alg: Int64
    public var publicKey: [UInt8]
    public var validFrom: Int64
    public var validUntil: Int64
    public var revoked: Bool

    public init(
        issuer: Int64, keyID: Int64, alg: Int64, publicKey: [UInt8], validFrom: Int64, validUntil: Int64,
        revoked: Bool
    ) {
        self.issuer = issuer
        self.keyID = keyID
        self.alg = alg
        self.publicKey = publicKey
        self.validFrom = validFrom
        self.validUntil = validUntil
        self.revoked = revoked
    }

    public func key() throws(CentralStoreError) -> RideCodeIssuerKey {
        guard let number = UInt8(exactly: issuer), let issuer = RideCodeIssuer(rawValue: number),
            let keyID = UInt16(exactly: keyID), let alg = UInt8(exactly: alg).flatMap(RideCodeAlgorithm.init),
            alg.isWellFormedPublicKey(publicKey), let from = UInt32(exactly: validFrom),
            let until = UInt32(exactly: validUntil), from <= until
        else {
            throw CentralStoreError(.corrupt, "issuer key row (issuer \(self.issuer), key \(self.keyID)) is not valid")
        }
        return RideCodeIssuerKey(
            issuer: issuer, keyID: keyID, algorithm: alg, publicKey: publicKey, validFrom: from, validUntil: until,
            revoked: revoked)
    }
}
