import FaregateCore

/// Ride-code evidence (migration 7): stored by `uploadJournal` with the record it came in, read
/// for settlement (`farectl central clearing`).
extension SQLiteCentralStore: RideCodeEvidenceStore {
    static let insertEvidence = """
        INSERT OR IGNORE INTO ride_code_evidence(gate_id, seq, wall_ms, issuer, account, key_id, counter,
            generated_at, cert_sha256, flags, user_sig, clearing)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    /// Stores `evidence` of `entry` with `insert` (`insertEvidence`); inside the upload's transaction.
    func storeEvidence(
        _ insert: SQLiteStatement, gate: String, entry: JournalEntry, _ evidence: RideCodeEvidence
    ) throws(SQLiteError) {
        try insert.bind(
            .text(gate), .integer(Int64(entry.sequence)), .integer(entry.wallMillis),
            .integer(Int64(evidence.issuerNumber)), .integer(Int64(evidence.account)),
            .integer(Int64(evidence.issuerKeyID)), .integer(Int64(evidence.counter)),
            .integer(Int64(evidence.generatedAt)), .blob(evidence.certificateHash), .integer(Int64(evidence.flags)),
            .blob(evidence.userSignature), .integer(evidence.clearing ? 1 : 0))
        try insert.run()
    }

    public func rideCodeRides(issuer: UInt8?, clearingOnly: Bool) throws(CentralStoreError) -> [RideCodeRide] {
        try run("cannot read ride-code evidence") { () throws(SQLiteError) in
            let q = try db.prepare(
                """
                SELECT gate_id, seq, wall_ms, issuer, account, key_id, counter, generated_at, cert_sha256, flags,
                       user_sig, clearing
                FROM ride_code_evidence WHERE (?1 IS NULL OR issuer = ?1) AND (?2 = 0 OR clearing = 1)
                ORDER BY gate_id, seq
                """)
            try q.bind(issuer.map { .integer(Int64($0)) } ?? .null, .integer(clearingOnly ? 1 : 0))
            var out: [RideCodeRide] = []
            while try q.step() {
                // The columns were written from typed values; read back in range (a store edited
                // by hand is refused, never trapped on).
                guard let issuer = UInt8(exactly: q.int64(3)), let account = UInt64(exactly: q.int64(4)),
                    let keyID = UInt16(exactly: q.int64(5)), let counter = UInt32(exactly: q.int64(6)),
                    let made = UInt32(exactly: q.int64(7)), let flags = UInt8(exactly: q.int64(9)),
                    let seq = UInt64(exactly: q.int64(1))
                else {
                    throw SQLiteError(code: .corrupt, message: "ride_code_evidence row of \(q.text(0)) out of range")
                }
                out.append(
                    RideCodeRide(
                        gate: q.text(0), sequence: seq, wallMillis: q.int64(2),
                        evidence: RideCodeEvidence(
                            issuerNumber: issuer, issuerKeyID: keyID, account: account, certificateHash: q.blob(8),
                            generatedAt: made, counter: counter, flags: flags, userSignature: q.blob(10),
                            clearing: q.int64(11) != 0)))
            }
            return out
        }
    }
}
