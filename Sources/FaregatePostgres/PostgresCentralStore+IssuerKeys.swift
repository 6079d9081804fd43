import FaregateCore

/// Ride-code issuer keys and their signed document on PostgreSQL (migration 7).
extension PostgresCentralStore: IssuerKeyStore {
    public func addIssuerKey(_ key: RideCodeIssuerKey, wallMillis: Int64) throws(CentralStoreError) {
        let added = try run("cannot add the issuer key") { () throws(PostgresError) -> Bool in
            try conn.query(
                """
                INSERT INTO issuer_keys(issuer, key_id, alg, public_key, valid_from, valid_until, revoked, added_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING
                """,
                [
                    String(key.issuer.rawValue), String(key.keyID), String(key.algorithm.rawValue),
                    PostgresHex.literal(key.publicKey), String(key.validFrom), String(key.validUntil),
                    key.revoked ? "true" : "false", String(wallMillis),
                ]
            ).affected > 0
        }
        guard added else {
            throw CentralStoreError(
                .refused,
                "issuer \(key.issuer.rawValue) already has key \(key.keyID) (a key id is never reused; take another)")
        }
    }

    public func revokeIssuerKey(issuer: UInt8, keyID: UInt16, wallMillis: Int64) throws(CentralStoreError) -> Bool {
        try run("cannot revoke the issuer key") { () throws(PostgresError) -> Bool in
            try conn.query(
                """
                UPDATE issuer_keys SET revoked = true, revoked_at = COALESCE(revoked_at, $1)
                WHERE issuer = $2 AND key_id = $3
                """, [String(wallMillis), String(issuer), String(keyID)]
            ).affected > 0
        }
    }

    public func issuerKeys() throws(CentralStoreError) -> [RideCodeIssuerKey] {
        let r = try run("cannot read the issuer keys") { () throws(PostgresError) in
            try conn.query(
                """
                SELECT issuer, key_id, alg, public_key, valid_from, valid_until, revoked
                FROM issuer_keys ORDER BY issuer, key_id
                """)
        }
        var out: [RideCodeIssuerKey] = []
        for row in 0..<r.rows {
            let parsed = IssuerKeyRow(
                issuer: r.int64(row, 0) ?? -1, keyID: r.int64(row, 1) ?? -1, alg: r.int64(row, 2) ?? -1,
                publicKey: r.bytes(row, 3) ?? [], validFrom: r.int64(row, 4) ?? -1,
                validUntil: r.int64(row, 5) ?? -1, revoked: r.text(row, 6) == "t")
            out.append(try parsed.key())
        }
        return out
    }

    public func storeIssuerKeyDocument(version: UInt64, sealed: [UInt8]) throws(CentralStoreError) {
        guard version <= UInt64(Int64.max) else {
            throw CentralStoreError(.refused, "issuer-key document version \(version) is past 2^63 − 1")
        }
        let stored = try run("cannot store the issuer-key document") { () throws(PostgresError) -> Bool in
            try conn.query(
                """
                INSERT INTO issuer_key_document(id, version, document) VALUES (1, $1, $2)
                ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, document = EXCLUDED.document
                WHERE EXCLUDED.version > issuer_key_document.version
                """, [String(version), PostgresHex.literal(sealed)]
            ).affected > 0
        }
        guard stored else {
            throw CentralStoreError(.refused, "a newer issuer-key document than version \(version) is stored")
        }
    }

    public func latestIssuerKeyDocument() throws(CentralStoreError) -> (version: UInt64, sealed: [UInt8])? {
        try run("cannot read the issuer-key document") {
            () throws(PostgresError) -> (version: UInt64, sealed: [UInt8])? in
            let r = try conn.query("SELECT version, document FROM issuer_key_document WHERE id = 1")
            guard r.rows > 0, let v = r.int64(0, 0), let d = r.bytes(0, 1) else { return nil }
            return (UInt64(clamping: v), d)
        }
    }
}
