import FaregateCore
import FaregateSodium

/// Journal authenticity on PostgreSQL (issue 16.5), as on SQLite: signed batches, gate keys,
/// refusals. The checks are `JournalBatchCheck`'s; this file holds what they need from the database.
extension PostgresCentralStore: GateKeyStore {
    public func uploadSignedJournal(_ batch: SignedJournalBatch) throws(CentralStoreError) {
        let gate = batch.gate
        let keyHex = Hex.lowercase(batch.publicKey)
        let signatureValid = batch.hasValidSignature
        let refusal = try run("cannot store signed journal of gate \(gate)") {
            () throws(PostgresError) -> JournalBatchRefusal? in
            try conn.transaction { () throws(PostgresError) -> JournalBatchRefusal? in
                try lockGateInTransaction(gate)
                let state = try keyStateInTransaction(gate: gate, keyHex: keyHex)
                // The line before the batch's first, the only stored one the chain check may need
                // (the others are in the batch or behind a hole).
                var before: (UInt64, String)?
                if let first = batch.lines.first.flatMap({ try? JournalCodec.decode(Substring($0)) }),
                    first.sequence > 1
                {
                    let r = try conn.query(
                        "SELECT record FROM journal WHERE gate_id = $1 AND seq = $2",
                        [gate, String(first.sequence - 1)])
                    if r.rows > 0, let text = r.text(0, 0) { before = (first.sequence - 1, text) }
                }
                let decoded: [JournalCodec.DecodedLine]
                do throws(JournalBatchRefusal) {
                    decoded = try JournalBatchCheck.verify(
                        batch, keyState: state, signatureValid: signatureValid,
                        storedLine: { seq in before?.0 == seq ? before?.1 : nil })
                } catch {
                    return error
                }
                if state == .noneYet {
                    try conn.query(
                        """
                        INSERT INTO gate_keys(gate_id, public_key, state, origin, added_at)
                        VALUES ($1, $2, 'active', 'first_use', \(Self.nowMillis))
                        """, [gate, keyHex])
                }
                var batchID: Int64?
                if !batch.lines.isEmpty || !batch.holes.isEmpty {
                    let r = try conn.query(
                        """
                        INSERT INTO journal_batches(gate_id, public_key, message, signature, received_at)
                        VALUES ($1, $2, $3, $4, \(Self.nowMillis)) RETURNING id
                        """,
                        [gate, keyHex, PostgresHex.literal(batch.message), PostgresHex.literal(batch.signature)])
                    batchID = r.int64(0, 0)
                }
                try storeRecordsInTransaction(
                    gate: gate, entries: decoded.map(\.entry), records: batch.lines, batchID: batchID)
                try storeHolesInTransaction(
                    gate: gate, ranges: batch.holes,
                    reason: JournalRefusal.signedHoleReason)
                for line in batch.rejected {
                    try refusalInTransaction(gate: gate, JournalRefusal.Note(notAuthenticLine: line))
                }
                return nil
            }
        }
        guard let refusal else { return }
        try run("cannot record refusal of gate \(gate)") { () throws(PostgresError) in
            try refusalInTransaction(gate: gate, JournalRefusal.Note(refusing: refusal, batch: batch))
        }
        throw CentralStoreError(.refused, refusal.description)
    }

    func keyStateInTransaction(gate: String, keyHex: String) throws(PostgresError) -> JournalBatchCheck.KeyState {
        let r = try conn.query(
            """
            SELECT (SELECT state FROM gate_keys WHERE gate_id = $1 AND public_key = $2),
                   (SELECT count(*) FROM gate_keys WHERE gate_id = $1),
                   (SELECT count(*) FROM gate_keys WHERE public_key = $2)
            """, [gate, keyHex])
        if let state = r.text(0, 0) { return state == "active" ? .active : .revoked }
        return r.int64(0, 1) == 0 && r.int64(0, 2) == 0 ? .noneYet : .unregistered
    }

    func refusalInTransaction(gate: String, _ note: JournalRefusal.Note) throws(PostgresError) {
        try conn.query(
            """
            INSERT INTO journal_refusals(gate_id, code, message, sequences, sample, seen_at)
            VALUES ($1, $2, $3, $4, $5, \(Self.nowMillis))
            ON CONFLICT (gate_id, code, sequences, sample)
            DO UPDATE SET times = journal_refusals.times + 1, seen_at = excluded.seen_at
            """, [gate, note.code, note.message, note.sequences, note.sample])
    }

    /// An unsigned upload (records or holes) for a gate with a journal key is refused and recorded.
    func refuseUnsignedForKeyedGate(_ gate: String, _ sequences: String) throws(CentralStoreError) {
        let keyed = try run("cannot read keys of gate \(gate)") { () throws(PostgresError) -> Bool in
            try conn.query("SELECT 1 FROM gate_keys WHERE gate_id = $1 LIMIT 1", [gate]).rows > 0
        }
        guard keyed else { return }
        let refusal = JournalBatchRefusal(.unsigned, "an unsigned upload for gate \(gate), which has a journal key")
        try run("cannot record refusal of gate \(gate)") { () throws(PostgresError) in
            try refusalInTransaction(gate: gate, JournalRefusal.Note(unsigned: refusal, sequences: sequences))
        }
        throw CentralStoreError(.refused, refusal.description)
    }

    public func addGateKey(gate: String, publicKey: [UInt8]) throws(CentralStoreError) {
        guard publicKey.count == 32 else { throw CentralStoreError(.refused, "a gate key is 32 bytes") }
        let hex = Hex.lowercase(publicKey)
        let problem = try run("cannot register key of gate \(gate)") { () throws(PostgresError) -> String? in
            try conn.transaction { () throws(PostgresError) -> String? in
                let r = try conn.query("SELECT gate_id, state FROM gate_keys WHERE public_key = $1 FOR UPDATE", [hex])
                if r.rows > 0 {
                    guard r.text(0, 0) == gate else { return "the key is registered for gate \(r.text(0, 0) ?? "")" }
                    guard r.text(0, 1) == "active" else { return "the key was revoked; a revoked key stays revoked" }
                    try conn.query(
                        "UPDATE gate_keys SET origin = 'registered' WHERE gate_id = $1 AND public_key = $2",
                        [gate, hex])
                    return nil
                }
                try conn.query(
                    """
                    INSERT INTO gate_keys(gate_id, public_key, state, origin, added_at)
                    VALUES ($1, $2, 'active', 'registered', \(Self.nowMillis))
                    """, [gate, hex])
                return nil
            }
        }
        if let problem { throw CentralStoreError(.refused, problem) }
    }

    public func revokeGateKey(gate: String, publicKey: [UInt8]) throws(CentralStoreError) {
        let hex = Hex.lowercase(publicKey)
        let r = try run("cannot revoke key of gate \(gate)") { () throws(PostgresError) in
            try conn.query(
                """
                UPDATE gate_keys SET state = 'revoked', revoked_at = \(Self.nowMillis)
                WHERE gate_id = $1 AND public_key = $2 RETURNING 1
                """, [gate, hex])
        }
        guard r.rows > 0 else { throw CentralStoreError(.refused, "gate \(gate) has no such key") }
    }

    public func gateKeys(gate: String?) throws(CentralStoreError) -> [GateJournalKeyRecord] {
        try run("cannot read gate keys") { () throws(PostgresError) in
            let r = try conn.query(
                """
                SELECT gate_id, public_key, state, origin, added_at FROM gate_keys
                WHERE $1::text IS NULL OR gate_id = $1 ORDER BY gate_id, added_at, public_key
                """, [gate])
            return (0..<r.rows).map { row in
                GateJournalKeyRecord(
                    gate: r.text(row, 0) ?? "", publicKeyHex: r.text(row, 1) ?? "", state: r.text(row, 2) ?? "",
                    origin: r.text(row, 3) ?? "", addedMillis: r.int64(row, 4) ?? 0)
            }
        }
    }

    public func journalRefusals(gate: String?) throws(CentralStoreError) -> [JournalRefusal] {
        try run("cannot read journal refusals") { () throws(PostgresError) in
            let r = try conn.query(
                """
                SELECT gate_id, code, message, sequences, sample, times, seen_at FROM journal_refusals
                WHERE $1::text IS NULL OR gate_id = $1 ORDER BY gate_id, id
                """, [gate])
            return (0..<r.rows).map { row in
                JournalRefusal(
                    gate: r.text(row, 0) ?? "", code: r.text(row, 1) ?? "", message: r.text(row, 2) ?? "",
                    sequences: r.text(row, 3) ?? "", sample: r.text(row, 4) ?? "", times: Int(r.int64(row, 5) ?? 0),
                    seenMillis: r.int64(row, 6) ?? 0)
            }
        }
    }

    /// The stored bytes of a record of `gate` (nil: none), for checks.
    public func storedRecord(gate: String, sequence: UInt64) throws(CentralStoreError) -> String? {
        try run("cannot read record") { () throws(PostgresError) in
            try conn.query("SELECT record FROM journal WHERE gate_id = $1 AND seq = $2", [gate, String(sequence)])
                .text(0, 0)
        }
    }
}
