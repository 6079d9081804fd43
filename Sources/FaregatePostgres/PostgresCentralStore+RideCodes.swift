import FaregateCore

/// Ride-code evidence (migration 7): stored by `uploadJournal` with the record it came in (a
/// gate's own login may insert its own rows only), read for settlement (`farectl central clearing`).
extension PostgresCentralStore: RideCodeEvidenceStore {
    /// Stores `evidence` of `entry`; inside the upload's transaction, after its journal row.
    func storeEvidence(gate: String, entry: JournalEntry, _ evidence: RideCodeEvidence) throws(PostgresError) {
        try conn.query(
            """
            INSERT INTO ride_code_evidence(gate_id, seq, wall_ms, issuer, account, key_id, counter, generated_at,
                cert_sha256, flags, user_sig, clearing)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING
            """,
            [
                gate, String(entry.sequence), String(entry.wallMillis), String(evidence.issuerNumber),
                String(evidence.account), String(evidence.issuerKeyID), String(evidence.counter),
                String(evidence.generatedAt), PostgresHex.literal(evidence.certificateHash), String(evidence.flags),
                PostgresHex.literal(evidence.userSignature), evidence.clearing ? "true" : "false",
            ])
    }

    public func rideCodeRides(issuer: UInt8?, clearingOnly: Bool) throws(CentralStoreError) -> [RideCodeRide] {
        try run("cannot read ride-code evidence") { () throws(PostgresError) in
            let r = try conn.query(
                """
                SELECT gate_id, seq, wall_ms, issuer, account, key_id, counter, generated_at, cert_sha256, flags,
                       user_sig, clearing
                FROM ride_code_evidence WHERE ($1::smallint IS NULL OR issuer = $1) AND (NOT $2::boolean OR clearing)
                ORDER BY gate_id, seq
                """, [issuer.map { String($0) }, clearingOnly ? "true" : "false"])
            var out: [RideCodeRide] = []
            for row in 0..<r.rows {
                // Written from typed values; read back in range (a row edited by hand is refused).
                guard let gate = r.text(row, 0), let seq = r.int64(row, 1).flatMap({ UInt64(exactly: $0) }),
                    let wall = r.int64(row, 2), let issuer = r.int64(row, 3).flatMap({ UInt8(exactly: $0) }),
                    let account = r.int64(row, 4).flatMap({ UInt64(exactly: $0) }),
                    let keyID = r.int64(row, 5).flatMap({ UInt16(exactly: $0) }),
                    let counter = r.int64(row, 6).flatMap({ UInt32(exactly: $0) }),
                    let made = r.int64(row, 7).flatMap({ UInt32(exactly: $0) }), let certHash = r.bytes(row, 8),
                    let flags = r.int64(row, 9).flatMap({ UInt8(exactly: $0) }), let userSig = r.bytes(row, 10),
                    let clearing = r.text(row, 11)
                else {
                    throw PostgresError(
                        sqlstate: nil, message: "ride_code_evidence row \(row) is out of range or incomplete")
                }
                out.append(
                    RideCodeRide(
                        gate: gate, sequence: seq, wallMillis: wall,
                        evidence: RideCodeEvidence(
                            issuerNumber: issuer, issuerKeyID: keyID, account: account, certificateHash: certHash,
                            generatedAt: made, counter: counter, flags: flags, userSignature: userSig,
                            clearing: clearing == "t")))
            }
            return out
        }
    }
}
