import FaregateCore
import FaregatePostgres
import FaregateRuntime
import FaregateSQLite
import Foundation

// What an operator reviews of the gates' journals (issue 16.5, 16.6): holes (sequences a gate
// handed out but lost: a damaged line, a lost tail) and conflicts (a record offered for a
// (gate, sequence) central holds with other bytes; kept, never acknowledged).
let centralJournalCommands: [Command] = [
    Command(
        ["central", "journal-review"], usage: "central journal-review (--db FILE | --pg CONN) [--gate G] [--json]",
        "journal holes, conflicting records and refused batches or lines, for an operator (a conflict stops the gate's acknowledgement)"
    ) { args in
        let json = args.flag("--json")
        let backend = try CentralBackend(&args)
        let gate = try args.value("--gate")
        try args.finish()
        let store: any JournalReviewStore
        switch backend.kind {
        case .sqlite(let path): store = try SQLiteCentralStore(path: path)
        case .postgres(let conn): store = try PostgresCentralStore(connecting: conn)
        }
        let review = JournalReview(
            holes: try store.journalHoles(gate: gate), conflicts: try store.journalConflicts(gate: gate),
            refusals: try store.journalRefusals(gate: gate))
        try report(review, json: json) {
            var lines = [
                "\(review.holes.count) hole(s), \(review.conflicts.count) conflict(s), \(review.refusals.count) refusal(s)"
            ]
            for r in review.refusals {
                lines.append(
                    "  refused   \(r.gate) \(r.code) seq \(r.sequences.isEmpty ? "-" : r.sequences) (\(r.times)x): \(r.message)"
                )
                if !r.sample.isEmpty { lines.append("    line    \(r.sample)") }
            }
            for h in review.holes { lines.append("  hole      \(h.gate) seq \(h.sequence): \(h.reason)") }
            for c in review.conflicts {
                lines.append("  conflict  \(c.gate) seq \(c.sequence)")
                lines.append("    stored  \(c.storedRecord)")
                lines.append("    offered \(c.offeredRecord)")
            }
            return lines.joined(separator: "\n")
        }
        return 0
    },
    Command(
        ["central", "clearing"], usage: "central clearing (--db FILE | --pg CONN) [--issuer N] [--all] [--json]",
        "ride-code passages to settle by inter-city clearing, per issuer, with each code's evidence (--all: every passage on a ride code)"
    ) { args in
        let json = args.flag("--json")
        let all = args.flag("--all")
        let backend = try CentralBackend(&args)
        let issuer = try args.value("--issuer").map { text throws(CLIError) -> UInt8 in
            guard let n = UInt8(text) else {
                throw CLIError("option --issuer takes an issuer number 0–255, not '\(text)'")
            }
            return n
        }
        try args.finish()
        let store: any RideCodeEvidenceStore
        switch backend.kind {
        case .sqlite(let path): store = try SQLiteCentralStore(path: path)
        case .postgres(let conn): store = try PostgresCentralStore(connecting: conn)
        }
        let batches = RideCodeClearingBatch.grouped(try store.rideCodeRides(issuer: issuer, clearingOnly: !all))
        try report(batches, json: json) {
            let rides = batches.reduce(0) { $0 + $1.rides.count }
            var lines = [
                "\(rides) ride-code passage(s) \(all ? "stored" : "to settle by clearing"), \(batches.count) issuer(s)"
            ]
            for b in batches {
                lines.append("issuer \(b.issuer) \(b.issuerName ?? "(unnamed)"): \(b.rides.count) passage(s)")
                for r in b.rides {
                    let e = r.evidence
                    lines.append(
                        "  \(r.gate) seq \(r.sequence) wall_ms \(r.wallMillis) account \(e.account) key \(e.issuerKeyID) "
                            + "counter \(e.counter) generated_at \(e.generatedAt) flags \(e.flags)"
                            + (e.clearing ? " clearing" : "")
                            + " cert_sha256 \(JournalCodec.lowercaseHex(e.certificateHash))")
                }
            }
            return lines.joined(separator: "\n")
        }
        return 0
    },
]

/// The report: the store's own hole and conflict values (snake_case keys in `--json`).
struct JournalReview: Encodable {
    var holes: [JournalHole]
    var conflicts: [JournalConflict]
    var refusals: [JournalRefusal]
}

// `farectl central gate-keys …`: the gates' journal keys (issue 16.5). A gate's first signed
// upload enrols its key when the gate has none (trust on first use); registering it before the
// gate's first sync (`farectl journal key` on the gate) closes that window.
let centralGateKeyCommands: [Command] = [
    Command(
        ["central", "gate-keys", "add"], usage: "central gate-keys add (--db FILE | --pg CONN) GATE PUBHEX [--json]",
        "register a gate's journal public key (printed by `farectl journal key` on the gate)"
    ) { args in
        let json = args.flag("--json")
        let store = try gateKeyStore(&args)
        let (gate, key) = try gateAndKey(&args)
        try args.finish()
        try store.addGateKey(gate: gate, publicKey: key)
        try report(["gate": gate, "public_key": KeyFile.hex(key), "state": "active"], json: json) {
            "gate \(gate): journal key \(KeyFile.hex(key)) registered"
        }
        return 0
    },
    Command(
        ["central", "gate-keys", "revoke"],
        usage: "central gate-keys revoke (--db FILE | --pg CONN) GATE PUBHEX [--json]",
        "revoke a gate's journal key: batches signed with it are refused (and listed in journal-review)"
    ) { args in
        let json = args.flag("--json")
        let store = try gateKeyStore(&args)
        let (gate, key) = try gateAndKey(&args)
        try args.finish()
        try store.revokeGateKey(gate: gate, publicKey: key)
        try report(["gate": gate, "public_key": KeyFile.hex(key), "state": "revoked"], json: json) {
            "gate \(gate): journal key \(KeyFile.hex(key)) revoked"
        }
        return 0
    },
    Command(
        ["central", "gate-keys", "list"], usage: "central gate-keys list (--db FILE | --pg CONN) [--gate G] [--json]",
        "the gates' journal keys: state (active, revoked) and origin (registered, first_use)"
    ) { args in
        let json = args.flag("--json")
        let store = try gateKeyStore(&args)
        let gate = try args.value("--gate")
        try args.finish()
        let keys = try store.gateKeys(gate: gate)
        try report(["keys": keys], json: json) {
            (["\(keys.count) key(s)"] + keys.map { "  \($0.gate): \($0.publicKeyHex) \($0.state) (\($0.origin))" })
                .joined(separator: "\n")
        }
        return 0
    },
]

private func gateKeyStore(_ args: inout Arguments) throws -> any GateKeyStore {
    switch try CentralBackend(&args).kind {
    case .sqlite(let path): try SQLiteCentralStore(path: path)
    case .postgres(let conn): try PostgresCentralStore(connecting: conn)
    }
}

private func gateAndKey(_ args: inout Arguments) throws -> (String, [UInt8]) {
    guard let gate = args.positional(), let hex = args.positional() else { throw CLIError("give GATE and PUBHEX") }
    guard let key = Hex.bytes(exact: hex), key.count == 32 else {
        throw CLIError("PUBHEX must be 64 hex digits (an Ed25519 public key)")
    }
    return (gate, key)
}
