import FaregateCore
import FaregatePostgres
import FaregateSQLite
import Foundation

// What an operator reviews of the gates' journals (issue 16.5, 16.6): holes (sequences a gate
// handed out but lost: a damaged line, a lost tail) and conflicts (a record offered for a
// (gate, sequence) central holds with other bytes; kept, never acknowledged).
let centralJournalCommands: [Command] = [
    Command(
        ["central", "journal-review"], usage: "central journal-review (--db FILE | --pg CONN) [--gate G] [--json]",
        "journal holes and conflicting records, for an operator (a conflict stops the gate's acknowledgement)"
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
            holes: try store.journalHoles(gate: gate), conflicts: try store.journalConflicts(gate: gate))
        try report(review, json: json) {
            var lines = ["\(review.holes.count) hole(s), \(review.conflicts.count) conflict(s)"]
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
}
