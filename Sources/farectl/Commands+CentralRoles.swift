import FaregateCore
import FaregatePostgres
import Foundation

// `farectl central gate-role …`: a gate's own PostgreSQL login (README "Central store on
// PostgreSQL"). An admin operation: run it with a role that has CREATEROLE. SQLite has no roles:
// its file is one trust domain.

let centralRoleCommands: [Command] = [
    Command(
        ["central", "gate-role", "add"],
        usage: "central gate-role add --pg CONN --gate ID [--login NAME] [--password-stdin] [--json]",
        "create a gate's own PostgreSQL login (in faregate_gate, held to its own journal rows) for gate ID"
    ) { args in
        let json = args.flag("--json")
        let readPassword = args.flag("--password-stdin")
        let conn = try postgresOnly(&args)
        let gate = try required(&args, "--gate")
        let login = try args.value("--login") ?? defaultGateLogin(gate)
        try args.finish()
        var password: String?
        if readPassword {
            guard let line = readLine(), !line.isEmpty else { throw CLIError("no password on standard input") }
            password = line
        }
        let store = try PostgresCentralStore(connecting: conn)
        try store.addGateLogin(GateLogin(login: login, gate: gate), password: password)
        try report(GateRoleReport(login: login, gate: gate, password: password != nil), json: json) {
            "gate \(gate) logs in as \(login)"
                + (password == nil ? " (no password set: set one, or use --password-stdin)" : "")
                + "; put the password in the gate's libpq passfile, never in its configuration"
        }
        return 0
    },
    Command(
        ["central", "gate-role", "remove"], usage: "central gate-role remove --pg CONN --login NAME [--json]",
        "unmap a gate's login and drop its role"
    ) { args in
        let json = args.flag("--json")
        let conn = try postgresOnly(&args)
        let login = try required(&args, "--login")
        try args.finish()
        try PostgresCentralStore(connecting: conn).removeGateLogin(login)
        try report(["removed": login], json: json) { "removed gate login \(login)" }
        return 0
    },
    Command(
        ["central", "gate-role", "list"], usage: "central gate-role list --pg CONN [--json]",
        "the gate logins of this database and the gate each is held to"
    ) { args in
        let json = args.flag("--json")
        let conn = try postgresOnly(&args)
        try args.finish()
        let logins = try PostgresCentralStore(connecting: conn).gateLogins()
        try report(["logins": logins], json: json) {
            (["\(logins.count) gate login(s)"] + logins.map { "  \($0.login): gate \($0.gate)" })
                .joined(separator: "\n")
        }
        return 0
    },
]

/// The `--pg` connection string; a SQLite store is refused with the reason.
func postgresOnly(_ args: inout Arguments) throws(CLIError) -> String {
    let backend = try CentralBackend(&args)
    guard case .postgres(let conn) = backend.kind else {
        throw CLIError("gate roles need --pg: a SQLite central file is a single trust domain and has no roles")
    }
    return conn
}

/// `fg_gate_` and the gate id in lower case with `-` and `.` as `_` (`--login` names another).
func defaultGateLogin(_ gate: String) -> String {
    "fg_gate_" + String(gate.lowercased().map { $0 == "-" || $0 == "." ? "_" : $0 })
}

struct GateRoleReport: Encodable {
    var login: String
    var gate: String
    var password: Bool
}
