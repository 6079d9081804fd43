import FaregateCore

/// Signed publications in the SQLite file.
extension SQLiteCentralStore: PublicationStore {
    public func storePublication(_ p: SignedPublication) throws(CentralStoreError) {
        try run("cannot store publication") { () throws(SQLiteError) in
            try db.transaction { () throws(SQLiteError) in
                if p.manifest.kind == .snapshot {
                    // `<=`: the same snapshot signed again (by a new key, after a rotation) replaces it.
                    let d = try db.prepare("DELETE FROM publications WHERE kind = ? AND to_version <= ?")
                    try d.bind(.integer(Int64(p.manifest.kind.rawValue)), .integer(Int64(p.manifest.toVersion)))
                    try d.run()
                }
                let q = try db.prepare(
                    "INSERT OR IGNORE INTO publications(kind, from_version, to_version, envelope, body) VALUES (?, ?, ?, ?, ?)"
                )
                try q.bind(
                    .integer(Int64(p.manifest.kind.rawValue)), .integer(Int64(p.manifest.fromVersion)),
                    .integer(Int64(p.manifest.toVersion)), .blob(p.envelope), .blob(p.body))
                try q.run()
            }
        }
    }

    public func deltas(after version: UInt64, limit: Int) throws(CentralStoreError) -> [SignedPublication] {
        try run("cannot read publications") { () throws(SQLiteError) in
            let q = try db.prepare(
                """
                SELECT from_version, to_version, envelope, CASE WHEN length(body) <= ?3 THEN body END, length(body)
                FROM publications WHERE kind = 2 AND to_version > ?1 ORDER BY to_version LIMIT ?2
                """)
            // Versions are below 2^63 wherever they are parsed; a caller's larger one finds nothing.
            guard let after = Int64(exactly: version) else { return [] }
            try q.bind(
                .integer(after), .integer(Int64(clamping: limit)), .integer(Int64(PublicationLimits.maxBodyBytes)))
            var out: [SignedPublication] = []
            var next = version
            while try q.step() {
                guard UInt64(q.int64(0)) == next else { break }  // gap: the caller falls back to a snapshot
                // A body past the limit was not fetched: the chain stops there, as at a gap.
                guard q.int64(4) <= Int64(PublicationLimits.maxBodyBytes) else { break }
                guard let p = Self.publication(kind: .delta, envelope: q.blob(2), body: q.blob(3)) else { break }
                out.append(p)
                next = UInt64(q.int64(1))
            }
            return out
        }
    }

    public func latestSnapshot() throws(CentralStoreError) -> SignedPublication? {
        let row = try run("cannot read publications") { () throws(SQLiteError) -> (SignedPublication?, Int64)? in
            let q = try db.prepare(
                """
                SELECT envelope, CASE WHEN length(body) <= ? THEN body END, length(body)
                FROM publications WHERE kind = 1 ORDER BY to_version DESC LIMIT 1
                """)
            try q.bind(.integer(Int64(PublicationLimits.maxBodyBytes)))
            guard try q.step() else { return nil }
            let size = q.int64(2)
            guard size <= Int64(PublicationLimits.maxBodyBytes) else { return (nil, size) }
            return (Self.publication(kind: .snapshot, envelope: q.blob(0), body: q.blob(1)), size)
        }
        guard let (publication, size) = row else { return nil }
        // A body past the limit was not fetched: refused, the table in service stays.
        guard size <= Int64(PublicationLimits.maxBodyBytes) else {
            throw PublicationLimits.tooLarge(kind: .snapshot, bytes: size)
        }
        return publication
    }

    public func lastSignedVersion() throws(CentralStoreError) -> UInt64 {
        try run("cannot read publications") { () throws(SQLiteError) in
            let q = try db.prepare("SELECT COALESCE(max(to_version), 0) FROM publications WHERE kind = 2")
            return try q.step() ? UInt64(q.int64(0)) : 0
        }
    }

    public func storeTimestamp(_ sealed: [UInt8]) throws(CentralStoreError) {
        try run("cannot store the timestamp statement") { () throws(SQLiteError) in
            let q = try db.prepare("INSERT OR REPLACE INTO sync_timestamp(id, statement) VALUES (1, ?)")
            try q.bind(.blob(sealed))
            try q.run()
        }
    }

    public func latestTimestamp() throws(CentralStoreError) -> [UInt8]? {
        try run("cannot read the timestamp statement") { () throws(SQLiteError) in
            let q = try db.prepare("SELECT statement FROM sync_timestamp WHERE id = 1")
            return try q.step() ? q.blob(0) : nil
        }
    }

    public func discardPublications() throws(CentralStoreError) {
        try run("cannot discard publications") { () throws(SQLiteError) in
            try db.transaction { () throws(SQLiteError) in
                try db.execute("DELETE FROM publications")
                try db.execute("DELETE FROM sync_timestamp")
            }
        }
    }

    public func storeKeySet(_ sealed: [UInt8], version: UInt64) throws(CentralStoreError) {
        guard version <= SyncManifest.maxVersion else {
            throw CentralStoreError(.refused, "key set version \(version) is past the limit")
        }
        try run("cannot store the key set") { () throws(SQLiteError) in
            let q = try db.prepare("INSERT INTO key_sets(version, sealed) VALUES (?, ?)")
            try q.bind(.integer(Int64(version)), .blob(sealed))
            try q.run()
        }
    }

    public func latestKeySet() throws(CentralStoreError) -> [UInt8]? {
        try run("cannot read the key set") { () throws(SQLiteError) in
            let q = try db.prepare(
                "SELECT sealed FROM key_sets WHERE length(sealed) <= 4096 ORDER BY version DESC LIMIT 1")
            return try q.step() ? q.blob(0) : nil
        }
    }

    /// The stored row as a publication; the manifest is parsed unverified (the gate verifies).
    static func publication(kind: SyncManifest.Kind, envelope: [UInt8], body: [UInt8]) -> SignedPublication? {
        guard envelope.count == SyncManifest.sealedSize,
            let m = try? SyncManifest(canonical: envelope.prefix(SyncManifest.encodedSize))
        else { return nil }
        return SignedPublication(manifest: m, envelope: envelope, body: body)
    }
}
