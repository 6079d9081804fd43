import FaregateCore

/// Central operations on the embedded store: facts for the rules, and the allowed effects in one
/// transaction (published inside it, as every write of this store is).
extension SQLiteCentralStore: CentralOperationsStore {
    public func cardFacts(_ key: CardKey) throws(CentralStoreError) -> CentralCardFacts? {
        try run("cannot read card \(key)") { () throws(SQLiteError) -> CentralCardFacts? in
            let q = try db.prepare(
                """
                SELECT (SELECT count(*) FROM bindings b WHERE b.card_key = c.card_key), c.returned_at IS NOT NULL,
                       c.suspended,
                       EXISTS(SELECT 1 FROM journal j WHERE j.card_key = c.card_key AND j.outcome = 'open'),
                       (SELECT o.channel FROM operations o WHERE o.card_key = c.card_key AND o.operation = 'sell'
                        ORDER BY o.id DESC LIMIT 1)
                FROM cards c WHERE c.card_key = ?
                """)
            try q.bind(.integer(Int64(bitPattern: key.rawValue)))
            guard try q.step() else { return nil }
            return CentralCardFacts(
                key: key, bound: q.int64(0) > 0, returned: q.int64(1) != 0, suspended: q.int64(2) != 0,
                used: q.int64(3) != 0, saleChannel: q.isNull(4) ? nil : q.text(4))
        }
    }

    public func physicalCardsBound(identityHash: [UInt8]) throws(CentralStoreError) -> Int {
        try run("cannot count cards of an identity") { () throws(SQLiteError) -> Int in
            try physicalCount(identityHash)
        }
    }

    func physicalCount(_ hash: [UInt8]) throws(SQLiteError) -> Int {
        let q = try db.prepare(
            """
            SELECT count(*) FROM bindings b JOIN identities i ON i.identity_id = b.identity_id
            JOIN cards c ON c.card_key = b.card_key
            WHERE i.id_hash = ? AND c.medium IN (?, ?) AND c.phone_card = 0
            """)
        try q.bind(
            .blob(hash), .integer(Int64(Medium.transitCard.rawValue)), .integer(Int64(Medium.municipalCard.rawValue)))
        return try q.step() ? Int(q.int64(0)) : 0
    }

    public func perform(_ op: CentralOperation, wallMillis: Int64) throws(CentralStoreError)
        -> RegistrationRules.Refusal?
    {
        try run("cannot \(op.name) \(op.key)") { () throws(SQLiteError) -> RegistrationRules.Refusal? in
            // One writer at a time (BEGIN IMMEDIATE): the checks below and the writes are atomic.
            try db.transaction { () throws(SQLiteError) -> RegistrationRules.Refusal? in
                let k = Int64(bitPattern: op.key.rawValue)
                let effects = Set(op.effects)
                let state = try db.prepare(
                    "SELECT (SELECT count(*) FROM cards WHERE card_key = ?), (SELECT count(*) FROM bindings WHERE card_key = ?)"
                )
                try state.bind(.integer(k), .integer(k))
                _ = try state.step()
                let exists = state.int64(0) > 0
                let bound = state.int64(1) > 0
                // Every refusal is found before the first write.
                let creates = !effects.isDisjoint(with: [.issueCard, .sellTicket, .registerTicket, .authoriseRideCode])
                if exists && (effects.contains(.issueCard) || effects.contains(.sellTicket)) {
                    throw SQLiteError(code: .constraint, message: "card \(op.key) already exists")
                }
                if !exists && !creates { throw SQLiteError(code: .constraint, message: "card \(op.key) is unknown") }
                if op.binds && bound && !effects.contains(.authoriseRideCode) { return .alreadyBound }
                if op.binds, !bound, op.isPhysicalCard, op.maxPhysicalCardsPerIdentity > 0, let hash = op.identityHash,
                    try physicalCount(hash) >= op.maxPhysicalCardsPerIdentity
                {
                    return .oneCardPerPerson
                }
                if creates && !exists {
                    // Issue and sale create the card; registration and authorisation add it when new.
                    let ins = try db.prepare(
                        "INSERT INTO cards(card_key, medium, number, card_type, issued_at, phone_card) VALUES (?, ?, ?, ?, ?, ?)"
                    )
                    try ins.bind(
                        .integer(k), .integer(Int64(op.key.medium?.rawValue ?? 0)), .text(op.key.number),
                        .integer(Int64(op.cardType.rawValue)), .integer(wallMillis), .integer(op.isPhoneCard ? 1 : 0))
                    try ins.run()
                }
                if op.binds, !bound, let hash = op.identityHash {
                    try bindInTransaction(k, hash, wallMillis)
                    if op.isPhoneCard {
                        let q = try db.prepare("UPDATE cards SET phone_card = 1 WHERE card_key = ?")
                        try q.bind(.integer(k))
                        try q.run()
                    }
                }
                if effects.contains(.returnCard) {
                    let q = try db.prepare(
                        "UPDATE cards SET returned_at = ? WHERE card_key = ? AND returned_at IS NULL")
                    try q.bind(.integer(wallMillis), .integer(k))
                    try q.run()
                }
                if effects.contains(.refundTicket) {
                    let q = try db.prepare("UPDATE cards SET suspended = 1 WHERE card_key = ?")
                    try q.bind(.integer(k))
                    try q.run()
                }
                let log = try db.prepare(
                    """
                    INSERT INTO operations(card_key, operation, effects, amount_fen, channel, done_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """)
                try log.bind(
                    .integer(k), .text(op.name), .text(op.effects.map(\.rawValue).joined(separator: ",")),
                    .integer(op.amountFen), op.channel.map { .text($0) } ?? .null, .integer(wallMillis))
                try log.run()
                let p = try db.prepare("INSERT INTO pending_changes(card_key) VALUES (?)")
                try p.bind(.integer(k))
                try p.run()
                _ = try publishInTransaction(wallMillis: wallMillis)
                return nil
            }
        }
    }

    public func operationLog(of key: CardKey) throws(CentralStoreError) -> [CentralOperation] {
        try run("cannot read operations of \(key)") { () throws(SQLiteError) -> [CentralOperation] in
            let q = try db.prepare(
                """
                SELECT o.operation, o.effects, o.amount_fen, o.channel, COALESCE(c.card_type, 0)
                FROM operations o LEFT JOIN cards c ON c.card_key = o.card_key WHERE o.card_key = ? ORDER BY o.id
                """)
            try q.bind(.integer(Int64(bitPattern: key.rawValue)))
            var out: [CentralOperation] = []
            while try q.step() {
                out.append(
                    CentralOperation(
                        name: q.text(0), key: key, cardType: CardType(rawValue: UInt8(clamping: q.int64(4))) ?? .normal,
                        effects: CentralOperation.effects(q.text(1)), amountFen: q.int64(2),
                        channel: q.isNull(3) ? nil : q.text(3)))
            }
            return out
        }
    }

    /// Binds the card to the identity with `hash` (created when new). Call inside a transaction.
    func bindInTransaction(_ k: Int64, _ hash: [UInt8], _ wallMillis: Int64) throws(SQLiteError) {
        let ident = try db.prepare(
            """
            INSERT INTO identities(id_hash, health, health_at, health_source) VALUES (?, 0, ?, 'bind')
            ON CONFLICT(id_hash) DO UPDATE SET id_hash = excluded.id_hash RETURNING identity_id
            """)
        try ident.bind(.blob(hash), .integer(wallMillis))
        guard try ident.step() else { throw SQLiteError(code: .error, message: "no identity id") }
        let id = ident.int64(0)
        try ident.run()
        let b = try db.prepare("INSERT INTO bindings(card_key, identity_id, bound_at) VALUES (?, ?, ?)")
        try b.bind(.integer(k), .integer(id), .integer(wallMillis))
        try b.run()
    }
}
