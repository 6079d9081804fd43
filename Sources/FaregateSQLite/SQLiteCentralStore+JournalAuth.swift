import FaregateCore
import FaregateSodium

/// Journal authenticity on the embedded store (issue 16.5): signed batches, gate keys, refusals.
/// The checks are `JournalBatchCheck`'s; this file holds what they need from the database.
extension SQLiteCentralStore: GateKeyStore {
    public func uploadSignedJournal(_ batch: SignedJournalBatch) throws(CentralStoreError) {
        let gate = batch.gate
        let keyHex = Hex.lowercase(batch.publicKey)
        let signatureValid = batch.hasValidSignature
        let refusal = try run("cannot store signed journal of gate \(gate)") {
            () throws(SQLiteError) -> JournalBatchRefusal? in
            try db.transaction { () throws(SQLiteError) -> JournalBatchRefusal? in
                let state = try keyStateInTransaction(gate: gate, keyHex: keyHex)
                let stored = try db.prepare("SELECT record FROM journal WHERE gate_id = ? AND seq = ?")
                let decoded: [JournalCodec.DecodedLine]
                do throws(JournalBatchRefusal) {
                    decoded = try JournalBatchCheck.verify(
                        batch, keyState: state, signatureValid: signatureValid,
                        storedLine: { seq in
                            guard seq >= 1, (try? stored.bind(.text(gate), .integer(Int64(seq)))) != nil,
                                (try? stored.step()) == true
                            else { return nil }
                            return stored.text(0)
                        })
                } catch {
                    return error
                }
                if state == .noneYet {
                    let enrol = try db.prepare(
                        """
                        INSERT INTO gate_keys(gate_id, public_key, state, origin, added_at)
                        VALUES (?, ?, 'active', 'first_use', \(Self.nowMillis))
                        """)
                    try enrol.bind(.text(gate), .text(keyHex))
                    try enrol.run()
                }
                var batchID: Int64?
                if !batch.lines.isEmpty || !batch.holes.isEmpty {
                    let keep = try db.prepare(
                        """
                        INSERT INTO journal_batches(gate_id, public_key, message, signature, received_at)
                        VALUES (?, ?, ?, ?, \(Self.nowMillis))
                        """)
                    try keep.bind(.text(gate), .text(keyHex), .blob(batch.message), .blob(batch.signature))
                    try keep.run()
                    let id = try db.prepare("SELECT last_insert_rowid()")
                    batchID = try id.step() ? id.int64(0) : nil
                }
                try storeRecordsInTransaction(
                    gate: gate, entries: decoded.map(\.entry), records: batch.lines, batchID: batchID)
                try storeHolesInTransaction(
                    gate: gate, ranges: batch.holes,
                    reason: JournalRefusal.signedHoleReason)
                for line in batch.rejected {
                    try refusalInTransaction(gate: gate, JournalRefusal.Note(notAuthenticLine: line))
                }
                try advanceAcknowledged(gate: gate)
                return nil
            }
        }
        guard let refusal else { return }
        try recordRefusal(gate: gate, refusal, batch: batch)
        throw CentralStoreError(.refused, refusal.description)
    }

    func keyStateInTransaction(gate: String, keyHex: String) throws(SQLiteError) -> JournalBatchCheck.KeyState {
        let q = try db.prepare(
            """
            SELECT (SELECT state FROM gate_keys WHERE gate_id = ?1 AND public_key = ?2),
                   (SELECT count(*) FROM gate_keys WHERE gate_id = ?1),
                   (SELECT count(*) FROM gate_keys WHERE public_key = ?2)
            """)
        try q.bind(.text(gate), .text(keyHex))
        guard try q.step() else { return .unregistered }
        if !q.isNull(0) { return q.text(0) == "active" ? .active : .revoked }
        // Another gate's key is never this gate's, not even on first use.
        return q.int64(1) == 0 && q.int64(2) == 0 ? .noneYet : .unregistered
    }

    /// Records a refused batch (its own transaction: the refused one stored nothing).
    func recordRefusal(gate: String, _ refusal: JournalBatchRefusal, batch: SignedJournalBatch?)
        throws(CentralStoreError)
    {
        try run("cannot record refusal of gate \(gate)") { () throws(SQLiteError) in
            try db.transaction { () throws(SQLiteError) in
                try refusalInTransaction(gate: gate, JournalRefusal.Note(refusing: refusal, batch: batch))
            }
        }
    }

    func refusalInTransaction(gate: String, _ note: JournalRefusal.Note) throws(SQLiteError) {
        let q = try db.prepare(
            """
            INSERT INTO journal_refusals(gate_id, code, message, sequences, sample, seen_at)
            VALUES (?, ?, ?, ?, ?, \(Self.nowMillis))
            ON CONFLICT(gate_id, code, sequences, sample) DO UPDATE SET times = times + 1, seen_at = excluded.seen_at
            """)
        try q.bind(.text(gate), .text(note.code), .text(note.message), .text(note.sequences), .text(note.sample))
        try q.run()
    }

    /// An unsigned upload (records or holes) for a gate with a journal key is refused and recorded.
    func refuseUnsignedForKeyedGate(_ gate: String, _ sequences: String) throws(CentralStoreError) {
        let keyed = try run("cannot read keys of gate \(gate)") { () throws(SQLiteError) -> Bool in
            let q = try db.prepare("SELECT count(*) FROM gate_keys WHERE gate_id = ?")
            try q.bind(.text(gate))
            return try q.step() && q.int64(0) > 0
        }
        guard keyed else { return }
        let refusal = JournalBatchRefusal(.unsigned, "an unsigned upload for gate \(gate), which has a journal key")
        try run("cannot record refusal of gate \(gate)") { () throws(SQLiteError) in
            try db.transaction { () throws(SQLiteError) in
                try refusalInTransaction(gate: gate, JournalRefusal.Note(unsigned: refusal, sequences: sequences))
            }
        }
        throw CentralStoreError(.refused, refusal.description)
    }

    public func addGateKey(gate: String, publicKey: [UInt8]) throws(CentralStoreError) {
        guard publicKey.count == 32 else { throw CentralStoreError(.refused, "a gate key is 32 bytes") }
        let hex = Hex.lowercase(publicKey)
        try run("cannot register key of gate \(gate)") { () throws(SQLiteError) in
            try db.transaction { () throws(SQLiteError) in
                let q = try db.prepare("SELECT gate_id, state FROM gate_keys WHERE public_key = ?")
                try q.bind(.text(hex))
                if try q.step() {
                    guard q.text(0) == gate else {
                        throw SQLiteError(code: .constraint, message: "the key is registered for gate \(q.text(0))")
                    }
                    guard q.text(1) == "active" else {
                        throw SQLiteError(
                            code: .constraint, message: "the key was revoked; a revoked key stays revoked")
                    }
                    let mark = try db.prepare(
                        "UPDATE gate_keys SET origin = 'registered' WHERE gate_id = ? AND public_key = ?")
                    try mark.bind(.text(gate), .text(hex))
                    try mark.run()
                    return
                }
                let ins = try db.prepare(
                    """
                    INSERT INTO gate_keys(gate_id, public_key, state, origin, added_at)
                    VALUES (?, ?, 'active', 'registered', \(Self.nowMillis))
                    """)
                try ins.bind(.text(gate), .text(hex))
                try ins.run()
            }
        }
    }

    public func revokeGateKey(gate: String, publicKey: [UInt8]) throws(CentralStoreError) {
        let hex = Hex.lowercase(publicKey)
        let changed = try run("cannot revoke key of gate \(gate)") { () throws(SQLiteError) -> Int in
            let q = try db.prepare(
                """
                UPDATE gate_keys SET state = 'revoked', revoked_at = \(Self.nowMillis)
                WHERE gate_id = ? AND public_key = ?
                """)
            try q.bind(.text(gate), .text(hex))
            try q.run()
            return db.changes
        }
        guard changed > 0 else { throw CentralStoreError(.refused, "gate \(gate) has no such key") }
    }

    public func gateKeys(gate: String?) throws(CentralStoreError) -> [GateJournalKeyRecord] {
        try run("cannot read gate keys") { () throws(SQLiteError) in
            let q = try db.prepare(
                """
                SELECT gate_id, public_key, state, origin, added_at FROM gate_keys
                WHERE ?1 IS NULL OR gate_id = ?1 ORDER BY gate_id, added_at, public_key
                """)
            try q.bind(gate.map { .text($0) } ?? .null)
            var out: [GateJournalKeyRecord] = []
            while try q.step() {
                out.append(
                    GateJournalKeyRecord(
                        gate: q.text(0), publicKeyHex: q.text(1), state: q.text(2), origin: q.text(3),
                        addedMillis: q.int64(4)))
            }
            return out
        }
    }

    public func journalRefusals(gate: String?) throws(CentralStoreError) -> [JournalRefusal] {
        try run("cannot read journal refusals") { () throws(SQLiteError) in
            let q = try db.prepare(
                """
                SELECT gate_id, code, message, sequences, sample, times, seen_at FROM journal_refusals
                WHERE ?1 IS NULL OR gate_id = ?1 ORDER BY gate_id, id
                """)
            try q.bind(gate.map { .text($0) } ?? .null)
            var out: [JournalRefusal] = []
            while try q.step() {
                out.append(
                    JournalRefusal(
                        gate: q.text(0), code: q.text(1), message: q.text(2), sequences: q.text(3), sample: q.text(4),
                        times: Int(q.int64(5)), seenMillis: q.int64(6)))
            }
            return out
        }
    }

    /// The stored bytes of a record of `gate` (nil: none), for checks.
    public func storedRecord(gate: String, sequence: UInt64) throws(CentralStoreError) -> String? {
        try run("cannot read record") { () throws(SQLiteError) -> String? in
            let q = try db.prepare("SELECT record FROM journal WHERE gate_id = ? AND seq = ?")
            try q.bind(.text(gate), .integer(Int64(sequence)))
            return try q.step() ? q.text(0) : nil
        }
    }
}
