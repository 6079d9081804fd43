import FaregateCore

/// Ride-code issuer keys and their signed document in the SQLite file (migration 7).
extension SQLiteCentralStore: IssuerKeyStore {
    public func addIssuerKey(_ key: RideCodeIssuerKey, wallMillis: Int64) throws(CentralStoreError) {
        let added = try run("cannot add the issuer key") { () throws(SQLiteError) -> Bool in
            let q = try db.prepare(
                """
                INSERT OR IGNORE INTO issuer_keys(issuer, key_id, alg, public_key, valid_from, valid_until, revoked, added_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """)
            try q.bind(
                .integer(Int64(key.issuer.rawValue)), .integer(Int64(key.keyID)),
                .integer(Int64(key.algorithm.rawValue)),
                .blob(key.publicKey), .integer(Int64(key.validFrom)), .integer(Int64(key.validUntil)),
                .integer(key.revoked ? 1 : 0), .integer(wallMillis))
            try q.run()
            return db.changes > 0
        }
        guard added else {
            throw CentralStoreError(
                .refused,
                "issuer \(key.issuer.rawValue) already has key \(key.keyID) (a key id is never reused; take another)")
        }
    }

    public func revokeIssuerKey(issuer: UInt8, keyID: UInt16, wallMillis: Int64) throws(CentralStoreError) -> Bool {
        try run("cannot revoke the issuer key") { () throws(SQLiteError) -> Bool in
            let q = try db.prepare(
                """
                UPDATE issuer_keys SET revoked = 1, revoked_at = COALESCE(revoked_at, ?)
                WHERE issuer = ? AND key_id = ?
                """)
            try q.bind(.integer(wallMillis), .integer(Int64(issuer)), .integer(Int64(keyID)))
            try q.run()
            return db.changes > 0
        }
    }

    public func issuerKeys() throws(CentralStoreError) -> [RideCodeIssuerKey] {
        let rows = try run("cannot read the issuer keys") { () throws(SQLiteError) -> [IssuerKeyRow] in
            let q = try db.prepare(
                """
                SELECT issuer, key_id, alg, public_key, valid_from, valid_until, revoked
                FROM issuer_keys ORDER BY issuer, key_id
                """)
            var out: [IssuerKeyRow] = []
            while try q.step() {
                out.append(
                    IssuerKeyRow(
                        issuer: q.int64(0), keyID: q.int64(1), alg: q.int64(2), publicKey: q.blob(3),
                        validFrom: q.int64(4), validUntil: q.int64(5), revoked: q.int64(6) != 0))
            }
            return out
        }
        return try rows.map { row throws(CentralStoreError) in try row.key() }
    }

    public func storeIssuerKeyDocument(version: UInt64, sealed: [UInt8]) throws(CentralStoreError) {
        guard let v = Int64(exactly: version) else {
            throw CentralStoreError(.refused, "issuer-key document version \(version) is past 2^63 − 1")
        }
        let stored = try run("cannot store the issuer-key document") { () throws(SQLiteError) -> Bool in
            let q = try db.prepare(
                """
                INSERT INTO issuer_key_document(id, version, document) VALUES (1, ?, ?)
                ON CONFLICT(id) DO UPDATE SET version = excluded.version, document = excluded.document
                WHERE excluded.version > issuer_key_document.version
                """)
            try q.bind(.integer(v), .blob(sealed))
            try q.run()
            return db.changes > 0
        }
        guard stored else {
            throw CentralStoreError(.refused, "a newer issuer-key document than version \(version) is stored")
        }
    }

    public func latestIssuerKeyDocument() throws(CentralStoreError) -> (version: UInt64, sealed: [UInt8])? {
        try run("cannot read the issuer-key document") {
            () throws(SQLiteError) -> (version: UInt64, sealed: [UInt8])? in
            let q = try db.prepare("SELECT version, document FROM issuer_key_document WHERE id = 1")
            guard try q.step() else { return nil }
            return (UInt64(clamping: q.int64(0)), q.blob(1))
        }
    }
}
