import FaregateCore

/// Central operations on PostgreSQL: facts for the rules, and the allowed effects in one
/// transaction (changed cards recorded for the publisher).
extension PostgresCentralStore: CentralOperationsStore {
    public func cardFacts(_ key: CardKey) throws(CentralStoreError) -> CentralCardFacts? {
        try run("cannot read card \(key)") { () throws(PostgresError) -> CentralCardFacts? in
            let r = try conn.query(
                """
                SELECT (SELECT count(*) FROM bindings b WHERE b.card_key = c.card_key),
                       CASE WHEN c.returned_at IS NULL THEN 0 ELSE 1 END, CASE WHEN c.suspended THEN 1 ELSE 0 END,
                       CASE WHEN EXISTS(SELECT 1 FROM journal j WHERE j.card_key = c.card_key AND j.outcome = 'open')
                            THEN 1 ELSE 0 END,
                       (SELECT o.channel FROM operations o WHERE o.card_key = c.card_key AND o.operation = 'sell'
                        ORDER BY o.id DESC LIMIT 1)
                FROM cards c WHERE c.card_key = $1
                """, [Self.key(key)])
            guard r.rows == 1 else { return nil }
            return CentralCardFacts(
                key: key, bound: (r.int64(0, 0) ?? 0) > 0, returned: r.int64(0, 1) == 1, suspended: r.int64(0, 2) == 1,
                used: r.int64(0, 3) == 1, saleChannel: r.isNull(0, 4) ? nil : r.text(0, 4))
        }
    }

    public func physicalCardsBound(identityHash: [UInt8]) throws(CentralStoreError) -> Int {
        try run("cannot count cards of an identity") { () throws(PostgresError) -> Int in
            try physicalCount(PostgresHex.literal(identityHash))
        }
    }

    func physicalCount(_ hash: String) throws(PostgresError) -> Int {
        let r = try conn.query(
            """
            SELECT count(*) FROM bindings b JOIN identities i ON i.identity_id = b.identity_id
            JOIN cards c ON c.card_key = b.card_key
            WHERE i.id_hash = $1 AND c.medium IN ($2, $3) AND NOT c.phone_card
            """, [hash, String(Medium.transitCard.rawValue), String(Medium.municipalCard.rawValue)])
        return Int(r.int64(0, 0) ?? 0)
    }

    public func perform(_ op: CentralOperation, wallMillis: Int64) throws(CentralStoreError)
        -> RegistrationRules.Refusal?
    {
        let k = Self.key(op.key)
        let now = String(wallMillis)
        let effects = Set(op.effects)
        let hash = op.identityHash.map { PostgresHex.literal($0) }
        enum Outcome {
            case done
            case refused(RegistrationRules.Refusal)
            case error(String)
        }
        let outcome = try run("cannot \(op.name) \(op.key)") { () throws(PostgresError) -> Outcome in
            try conn.transaction { () throws(PostgresError) -> Outcome in
                // Every refusal is found before the first write (a refusal commits nothing). The card
                // row is locked so two concurrent operations on one card cannot both bind it, and the
                // identity (by an advisory lock on its hash) so two bindings cannot both pass its limit.
                let exists = try conn.query("SELECT 1 FROM cards WHERE card_key = $1 FOR UPDATE", [k]).rows == 1
                let creates = !effects.isDisjoint(with: [.issueCard, .sellTicket, .registerTicket, .authoriseRideCode])
                if exists && (effects.contains(.issueCard) || effects.contains(.sellTicket)) {
                    return .error("card \(op.key) already exists")
                }
                if !exists && !creates { return .error("card \(op.key) is unknown") }
                var bound = false
                if exists { bound = try conn.query("SELECT 1 FROM bindings WHERE card_key = $1", [k]).rows > 0 }
                if op.binds && bound && !effects.contains(.authoriseRideCode) { return .refused(.alreadyBound) }
                if op.binds, !bound, op.isPhysicalCard, op.maxPhysicalCardsPerIdentity > 0, let hash {
                    try conn.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [hash])
                    if try physicalCount(hash) >= op.maxPhysicalCardsPerIdentity { return .refused(.oneCardPerPerson) }
                }
                if creates && !exists {
                    // Issue and sale create the card; registration and authorisation add it when new.
                    try conn.query(
                        """
                        INSERT INTO cards(card_key, medium, number, card_type, issued_at, phone_card)
                        VALUES ($1, $2, $3, $4, $5, $6)
                        """,
                        [
                            k, String(op.key.medium?.rawValue ?? 0), op.key.number, String(op.cardType.rawValue), now,
                            op.isPhoneCard ? "t" : "f",
                        ])
                }
                if op.binds, !bound, let hash {
                    try bindInTransaction(k, hash: hash, at: now)
                    if op.isPhoneCard { try conn.query("UPDATE cards SET phone_card = true WHERE card_key = $1", [k]) }
                }
                if effects.contains(.returnCard) {
                    try conn.query(
                        "UPDATE cards SET returned_at = $2 WHERE card_key = $1 AND returned_at IS NULL", [k, now])
                }
                if effects.contains(.refundTicket) {
                    try conn.query("UPDATE cards SET suspended = true WHERE card_key = $1", [k])
                }
                try conn.query(
                    """
                    INSERT INTO operations(card_key, operation, effects, amount_fen, channel, done_at)
                    VALUES ($1, $2, $3, $4, $5, $6)
                    """,
                    [
                        k, op.name, op.effects.map(\.rawValue).joined(separator: ","), String(op.amountFen), op.channel,
                        now,
                    ])
                try conn.query("INSERT INTO pending_changes(card_key) VALUES ($1)", [k])
                return .done
            }
        }
        switch outcome {
        case .done: return nil
        case .refused(let r): return r
        case .error(let message): throw CentralStoreError(.refused, message)
        }
    }

    public func operationLog(of key: CardKey) throws(CentralStoreError) -> [CentralOperation] {
        try run("cannot read operations of \(key)") { () throws(PostgresError) -> [CentralOperation] in
            let r = try conn.query(
                """
                SELECT o.operation, o.effects, o.amount_fen, o.channel, COALESCE(c.card_type, 0)
                FROM operations o LEFT JOIN cards c ON c.card_key = o.card_key WHERE o.card_key = $1 ORDER BY o.id
                """, [Self.key(key)])
            return (0..<r.rows).map { row in
                CentralOperation(
                    name: r.text(row, 0) ?? "", key: key,
                    cardType: CardType(rawValue: UInt8(clamping: r.int64(row, 4) ?? 0)) ?? .normal,
                    effects: CentralOperation.effects(r.text(row, 1) ?? ""), amountFen: r.int64(row, 2) ?? 0,
                    channel: r.isNull(row, 3) ? nil : r.text(row, 3))
            }
        }
    }
}
