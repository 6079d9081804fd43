import FaregateCore

/// Signed publications on PostgreSQL.
extension PostgresCentralStore: PublicationStore {
    public func storePublication(_ p: SignedPublication) throws(CentralStoreError) {
        try run("cannot store publication") { () throws(PostgresError) in
            try conn.transaction { () throws(PostgresError) in
                let kind = String(p.manifest.kind.rawValue)
                if p.manifest.kind == .snapshot {
                    try conn.query(
                        // `<=`: the same snapshot signed again (by a new key) replaces it.
                        "DELETE FROM publications WHERE kind = $1 AND to_version <= $2",
                        [kind, String(p.manifest.toVersion)])
                }
                try conn.query(
                    """
                    INSERT INTO publications(kind, from_version, to_version, envelope, body) VALUES ($1, $2, $3, $4, $5)
                    ON CONFLICT DO NOTHING
                    """,
                    [
                        kind, String(p.manifest.fromVersion), String(p.manifest.toVersion),
                        PostgresHex.literal(p.envelope),
                        PostgresHex.literal(p.body),
                    ])
            }
        }
    }

    public func deltas(after version: UInt64, limit: Int) throws(CentralStoreError) -> [SignedPublication] {
        try run("cannot read publications") { () throws(PostgresError) in
            let r = try conn.query(
                """
                SELECT from_version, to_version, envelope,
                       CASE WHEN octet_length(body) <= $3 THEN body END, octet_length(body)
                FROM publications WHERE kind = 2 AND to_version > $1 ORDER BY to_version LIMIT $2
                """, [String(version), String(limit), String(PublicationLimits.maxBodyBytes)])
            var out: [SignedPublication] = []
            var next = version
            for row in 0..<r.rows {
                // A body past the limit was not fetched: the chain stops there, as at a gap.
                guard let size = r.int64(row, 4), size <= Int64(PublicationLimits.maxBodyBytes) else { break }
                guard let from = r.int64(row, 0), UInt64(from) == next, let to = r.int64(row, 1),
                    let p = Self.publication(kind: .delta, envelope: r.bytes(row, 2), body: r.bytes(row, 3))
                else { break }  // gap or damaged row: the caller falls back to a snapshot
                out.append(p)
                next = UInt64(to)
            }
            return out
        }
    }

    public func latestSnapshot() throws(CentralStoreError) -> SignedPublication? {
        let r = try run("cannot read publications") { () throws(PostgresError) in
            try conn.query(
                """
                SELECT envelope, CASE WHEN octet_length(body) <= $1 THEN body END, octet_length(body)
                FROM publications WHERE kind = 1 ORDER BY to_version DESC LIMIT 1
                """, [String(PublicationLimits.maxBodyBytes)])
        }
        guard r.rows > 0 else { return nil }
        // A body past the limit was not fetched: refused, the table in service stays.
        let size = r.int64(0, 2) ?? 0
        guard size <= Int64(PublicationLimits.maxBodyBytes) else {
            throw PublicationLimits.tooLarge(kind: .snapshot, bytes: size)
        }
        return Self.publication(kind: .snapshot, envelope: r.bytes(0, 0), body: r.bytes(0, 1))
    }

    public func lastSignedVersion() throws(CentralStoreError) -> UInt64 {
        try run("cannot read publications") { () throws(PostgresError) in
            UInt64(
                try conn.query("SELECT COALESCE(max(to_version), 0) FROM publications WHERE kind = 2").int64(0, 0) ?? 0)
        }
    }

    public func storeTimestamp(_ sealed: [UInt8]) throws(CentralStoreError) {
        try run("cannot store the timestamp statement") { () throws(PostgresError) in
            try conn.query(
                """
                INSERT INTO sync_timestamp(id, statement) VALUES (1, $1)
                ON CONFLICT (id) DO UPDATE SET statement = EXCLUDED.statement
                """, [PostgresHex.literal(sealed)])
        }
    }

    public func latestTimestamp() throws(CentralStoreError) -> [UInt8]? {
        try run("cannot read the timestamp statement") { () throws(PostgresError) in
            let r = try conn.query("SELECT statement FROM sync_timestamp WHERE id = 1")
            return r.rows == 0 ? nil : r.bytes(0, 0)
        }
    }

    public func discardPublications() throws(CentralStoreError) {
        try run("cannot discard publications") { () throws(PostgresError) in
            try conn.transaction { () throws(PostgresError) in
                _ = try conn.query("DELETE FROM publications")
                _ = try conn.query("DELETE FROM sync_timestamp")
            }
        }
    }

    public func storeKeySet(_ sealed: [UInt8], version: UInt64) throws(CentralStoreError) {
        guard version <= SyncManifest.maxVersion else {
            throw CentralStoreError(.refused, "key set version \(version) is past the limit")
        }
        try run("cannot store the key set") { () throws(PostgresError) in
            _ = try conn.query(
                "INSERT INTO key_sets(version, sealed) VALUES ($1, $2)", [String(version), PostgresHex.literal(sealed)])
        }
    }

    public func latestKeySet() throws(CentralStoreError) -> [UInt8]? {
        try run("cannot read the key set") { () throws(PostgresError) in
            let r = try conn.query(
                "SELECT sealed FROM key_sets WHERE length(sealed) <= 4096 ORDER BY version DESC LIMIT 1")
            return r.rows == 0 ? nil : r.bytes(0, 0)
        }
    }

    /// The stored row as a publication; the manifest is parsed unverified (the gate verifies).
    static func publication(kind: SyncManifest.Kind, envelope: [UInt8]?, body: [UInt8]?) -> SignedPublication? {
        guard let envelope, let body, envelope.count == SyncManifest.sealedSize,
            let m = try? SyncManifest(canonical: envelope.prefix(SyncManifest.encodedSize))
        else { return nil }
        return SignedPublication(manifest: m, envelope: envelope, body: body)
    }
}
