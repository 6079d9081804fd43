import FaregateCore

/// A gate's own PostgreSQL login: a role in `faregate_gate` mapped to one gate id (migration 4).
public struct GateLogin: Sendable, Hashable, Codable {
    public var login: String
    public var gate: String

    public init(login: String, gate: String) {
        self.login = login
        self.gate = gate
    }

    /// Why `login` cannot be a gate login name, or nil. Lower-case letters, digits and `_`, at most
    /// 63 bytes (PostgreSQL's identifier limit), not a reserved `pg_` name nor a faregate group.
    public static func problem(login: String) -> String? {
        guard !login.isEmpty, login.utf8.count <= 63,
            login.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }),
            let first = login.unicodeScalars.first, !("0"..."9").contains(first)
        else {
            return "login '\(login)' must be 1–63 lower-case letters, digits or '_', not starting with a digit"
        }
        if login.hasPrefix("pg_") { return "login '\(login)': names starting with pg_ are reserved by PostgreSQL" }
        if groupRoles.contains(login) { return "login '\(login)' is one of faregate's group roles" }
        return nil
    }

    /// Why `gate` cannot be a gate id, or nil (the rule of the gate configuration's `gate_id`).
    public static func problem(gate: String) -> String? {
        guard !gate.isEmpty, gate.count <= 64,
            gate.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) })
        else { return "gate id '\(gate)' must be 1–64 characters of letters, digits, '-', '_' or '.'" }
        return nil
    }

    /// The group roles migration 4 creates.
    public static let groupRoles: Set<String> = ["faregate_admin", "faregate_office", "faregate_gate"]
}

/// Gate logins on PostgreSQL (`farectl central gate-role …`): an admin operation. Creating and
/// dropping roles needs the CREATEROLE attribute (roles are cluster-wide); the mapping lives in
/// this database's `gate_logins`.
extension PostgresCentralStore {
    /// Creates login role `login` (when missing) in `faregate_gate`, maps it to `gate`, and sets its
    /// password when one is given (sent as a SCRAM verifier, never in clear). An existing role is
    /// taken only if it is a plain login (not a superuser, no CREATEROLE, not in the admin or office
    /// group). Refused when the login or the gate is already mapped.
    public func addGateLogin(_ g: GateLogin, password: String?) throws(CentralStoreError) {
        if let p = GateLogin.problem(login: g.login) ?? GateLogin.problem(gate: g.gate) {
            throw CentralStoreError(.refused, p)
        }
        let refusal = try run("cannot add gate login \(g.login)") { () throws(PostgresError) -> String? in
            var verifier: String?
            if let password { verifier = try conn.scramVerifier(password: password, user: g.login) }
            return try conn.transaction { () throws(PostgresError) -> String? in
                let taken = try conn.query(
                    "SELECT login, gate_id FROM gate_logins WHERE login = $1 OR gate_id = $2", [g.login, g.gate])
                if taken.rows > 0 {
                    return "login \(taken.text(0, 0) ?? "") is already mapped to gate \(taken.text(0, 1) ?? "")"
                }
                let existing = try conn.query(
                    """
                    SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls
                           OR pg_has_role(oid, 'faregate_admin', 'MEMBER') OR pg_has_role(oid, 'faregate_office', 'MEMBER'),
                           rolcanlogin
                    FROM pg_roles WHERE rolname = $1
                    """, [g.login])
                if existing.rows == 1 {
                    if existing.text(0, 0) == "t" || existing.text(0, 1) != "t" {
                        return "role \(g.login) exists and is not a plain login; choose another name"
                    }
                } else {
                    try execute(format: "CREATE ROLE %I LOGIN", g.login)
                }
                try execute(format: "GRANT faregate_gate TO %I", g.login)
                if let verifier { try execute(format: "ALTER ROLE %I PASSWORD %L", g.login, verifier) }
                try conn.query("INSERT INTO gate_logins(login, gate_id) VALUES ($1, $2)", [g.login, g.gate])
                try conn.query("INSERT INTO gates(gate_id) VALUES ($1) ON CONFLICT DO NOTHING", [g.gate])
                return nil
            }
        }
        if let refusal { throw CentralStoreError(.refused, refusal) }
    }

    /// Unmaps `login` and drops its role. Refused when it is not a gate login of this database.
    public func removeGateLogin(_ login: String) throws(CentralStoreError) {
        if let p = GateLogin.problem(login: login) { throw CentralStoreError(.refused, p) }
        let found = try run("cannot remove gate login \(login)") { () throws(PostgresError) -> Bool in
            try conn.transaction { () throws(PostgresError) -> Bool in
                guard try conn.query("DELETE FROM gate_logins WHERE login = $1", [login]).affected == 1 else {
                    return false
                }
                try execute(format: "DROP ROLE IF EXISTS %I", login)
                return true
            }
        }
        if !found { throw CentralStoreError(.refused, "\(login) is not a gate login of this database") }
    }

    /// The gate logins of this database, by login.
    public func gateLogins() throws(CentralStoreError) -> [GateLogin] {
        try run("cannot read gate logins") { () throws(PostgresError) in
            let r = try conn.query("SELECT login, gate_id FROM gate_logins ORDER BY login")
            return (0..<r.rows).map { GateLogin(login: r.text($0, 0) ?? "", gate: r.text($0, 1) ?? "") }
        }
    }

    /// Runs a utility statement (no parameters possible) built by the server's `format()`, so that
    /// identifiers (`%I`) and literals (`%L`) are quoted by PostgreSQL itself.
    func execute(format template: String, _ args: String...) throws(PostgresError) {
        let placeholders = (1...args.count).map { "$\($0)::text" }.joined(separator: ", ")
        let r = try conn.query("SELECT format($\(args.count + 1)::text, \(placeholders))", args + [template])
        guard let sql = r.text(0, 0) else { throw PostgresError(sqlstate: nil, message: "format() returned NULL") }
        try conn.execute(sql)
    }
}
