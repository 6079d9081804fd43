import FaregateCore
import FaregateSQLite
import FaregateSodium
import Foundation

// `farectl central issue|upgrade|top-up|return|sell|refund|register|authorise`: the central
// operations under the era's office rules (`--policies DIR --station S --at DATE | --era E`),
// carried out in the store (`--db FILE | --pg CONN`). A refusal exits with status 1 and prints the
// rule's message in Chinese and English. Names, phone numbers and verification codes are checked
// as given and then dropped; an ID number is kept only as a keyed hash (`--id-key FILE`).

private let context =
    "(--db FILE | --pg CONN) [--policies DIR] [--station S] [--at DATE | --era E] [--no-publish] [--json]"
private let identity = "--id-key FILE (--id NUMBER | --id-stdin)"
private let person = "--name NAME --phone PHONE --code CODE [--on-behalf]"

let centralOperationCommands: [Command] = [
    Command(
        ["central", "issue"], usage: "central issue --card N [--type T] [\(identity)] \(context)",
        "issue a new card (identity where the era asks for it; an identity given binds the card)"
    ) { args in
        try centralOperation("issue", &args) { ops, _, args in
            let key = try parseCard(try required(&args, "--card"), where: "--card")
            let typeName = try args.value("--type") ?? "normal"
            guard let type = CardType.allCases.first(where: { $0.description == typeName }) else {
                throw CLIError("unknown card type '\(typeName)'")
            }
            let id = try optionalIdentity(&args)
            return (
                key.description,
                { () throws in try ops.issue(key, cardType: type, identityHash: id, wallMillis: nowMillis()) }
            )
        }
    },
    Command(
        ["central", "upgrade"],
        usage: "central upgrade --card N (\(person) | --relative) [--phone-card] \(identity) \(context)",
        "bind a card to a person (permanent): name, phone and the code sent to that phone, or staff for a relative "
            + "by the relative's ID number; name, phone and code are checked as given and not stored"
    ) { args in
        try centralOperation("upgrade", &args) { ops, _, args in
            let key = try parseCard(try required(&args, "--card"), where: "--card")
            let phoneCard = args.flag("--phone-card")
            let how = try identification(&args, relative: true)
            let hasher = try identityHasher(&args)
            let id = hasher.hash(idNumber: try idNumber(&args))
            return (
                key.description,
                { () throws in
                    try ops.bind(key, identityHash: id, by: how, isPhoneCard: phoneCard, wallMillis: nowMillis())
                }
            )
        }
    },
    Command(
        ["central", "top-up"], usage: "central top-up --card N --amount FEN [--phone-card] [\(identity)] \(context)",
        "top a card up (recorded); an unbound card needs identity where the era asks for it, which binds it"
    ) { args in
        try centralOperation("top-up", &args) { ops, _, args in
            let key = try parseCard(try required(&args, "--card"), where: "--card")
            let amount = try args.int("--amount", default: 0, in: 1...1_000_000)
            let phoneCard = args.flag("--phone-card")
            let id = try optionalIdentity(&args)
            return (
                key.description,
                { () throws in
                    try ops.topUp(
                        key, amountFen: Int64(amount), identityHash: id, isPhoneCard: phoneCard, wallMillis: nowMillis()
                    )
                }
            )
        }
    },
    Command(
        ["central", "return"], usage: "central return --card N \(context)",
        "return a card (no identity needed); gates then deny it as returned"
    ) { args in
        try centralOperation("return", &args) { ops, _, args in
            let key = try parseCard(try required(&args, "--card"), where: "--card")
            return (key.description, { () throws in try ops.returnCard(key, wallMillis: nowMillis()) })
        }
    },
    Command(
        ["central", "sell"],
        usage:
            "central sell --ticket (single-journey-ticket|welfare-ticket|electronic-ticket):N [--channel C] [\(identity)] \(context)",
        "sell a ticket; the buyer's ID number (where the era asks for it) is kept as a keyed hash and bound to it"
    ) { args in
        try centralOperation("sell", &args) { ops, _, args in
            let key = try parseCard(try required(&args, "--ticket"), where: "--ticket")
            let channel = try args.value("--channel")
            let id = try optionalIdentity(&args)
            return (
                key.description,
                { () throws in try ops.sell(key, identityHash: id, channel: channel, wallMillis: nowMillis()) }
            )
        }
    },
    Command(
        ["central", "refund"], usage: "central refund --ticket electronic-ticket:N [--channel C] \(context)",
        "refund an unused electronic ticket through its sale channel; gates then deny it as suspended"
    ) { args in
        try centralOperation("refund", &args) { ops, _, args in
            let key = try parseCard(try required(&args, "--ticket"), where: "--ticket")
            let channel = try args.value("--channel")
            return (key.description, { () throws in try ops.refund(key, channel: channel, wallMillis: nowMillis()) })
        }
    },
    Command(
        ["central", "register"], usage: "central register --ticket NUMBER \(person) \(identity) \(context)",
        "register a commemorative ticket by its number (binds it); name, phone and code are not stored"
    ) { args in
        try centralOperation("register", &args) { ops, _, args in
            let number = try required(&args, "--ticket")
            let how = try identification(&args, relative: false)
            let id = try identityHasher(&args).hash(idNumber: try idNumber(&args))
            return (
                "commemorative-ticket:\(number)",
                { () throws in
                    try ops.registerCommemorative(number: number, identityHash: id, by: how, wallMillis: nowMillis())
                }
            )
        }
    },
    Command(
        ["central", "authorise"],
        usage: "central authorise --issuer APP --account N [--consent] \(identity) \(context)",
        "authorise an app ride code (the rider's 'read and agree'); binds the account's code to its holder"
    ) { args in
        try centralOperation("authorise", &args) { ops, accepted, args in
            let issuerName = try required(&args, "--issuer")
            guard let issuer = RideCodeIssuer(name: issuerName) else {
                throw CLIError(
                    "--issuer takes one of \(RideCodeIssuer.allCases.map(\.description).joined(separator: ", "))")
            }
            let account = try required(&args, "--account")
            guard let n = UInt64(account), let key = CardKey(rideCodeIssuer: issuer, account: n) else {
                throw CLIError("'\(account)' is not a ride-code account number")
            }
            let consent = args.flag("--consent")
            let id = try identityHasher(&args).hash(idNumber: try idNumber(&args))
            return (
                key.description,
                { () throws in
                    try ops.authoriseRideCode(
                        key, consented: consent, acceptedIssuers: accepted, identityHash: id, wallMillis: nowMillis())
                }
            )
        }
    },
]

struct OperationReport: Encodable {
    var operation: String
    var card: String
    var allowed: Bool
    var effects: [String]
    var refusal: String?
    var messageZH: String?
    var messageEN: String?
    var era: String
    var office: String
    var station: String?
    var published: PublishResult?
}

/// Parses the common options, lets `parse` read the operation's own and return the card and the
/// operation to run, runs it, publishes (unless `--no-publish`) and reports. Exit 1 on a refusal.
func centralOperation(
    _ name: String, _ args: inout Arguments,
    parse: (CentralOperations, UInt64, inout Arguments) throws -> (String, () throws -> RegistrationRules.Verdict)
) throws -> Int32 {
    let json = args.flag("--json")
    let noPublish = args.flag("--no-publish")
    let backend = try CentralBackend(&args)
    let setup = try GateSetup(&args)
    setup.warnUnknownScopes()
    let resolved = try setup.book.officeRules(station: setup.station, on: setup.date, pinnedEra: setup.era)
    let engine = try setup.book.engine(station: setup.station, line: setup.line, pinnedEra: setup.era)
    guard let store = try backend.open() as? any CentralOperationsStore else {
        throw CLIError.failed("this backend does not carry out central operations")
    }
    let ops = CentralOperations(store: store, rules: resolved.office, station: setup.station)
    let (card, run) = try parse(ops, engine.rules(on: setup.date).enforced.acceptedRideCodeIssuers, &args)
    try args.finish()
    let verdict = try run()
    let published = verdict.isAllowed && !noPublish ? try store.publish(wallMillis: nowMillis()) : nil
    var out = OperationReport(
        operation: name, card: card, allowed: verdict.isAllowed, effects: [], era: resolved.era,
        office: resolved.officeName, station: setup.station, published: published)
    if case .allowed(let e) = verdict { out.effects = e.map(\.rawValue) }
    if let r = verdict.refusal {
        out.refusal = r.rawValue
        out.messageZH = r.messageZH
        out.messageEN = r.messageEN
    }
    try report(out, json: json) {
        guard let r = verdict.refusal else {
            return "\(name) \(out.card): done (\(out.effects.joined(separator: ", ")))"
                + (published.map { "; data version \($0.version)" } ?? "")
        }
        return
            "\(name) \(out.card) refused under \(out.era) / \(out.office): \(r.messageZH) / \(r.messageEN) (\(r.rawValue))"
    }
    return verdict.isAllowed ? 0 : 1
}

/// How the person was identified: `--relative` (staff, the relative's ID number), or name, phone
/// and verification code (`--on-behalf` when the code came from the person being bound). The
/// values are only checked as present; none is stored.
func identification(_ args: inout Arguments, relative allowed: Bool) throws(CLIError)
    -> RegistrationRules.Identification
{
    if allowed, args.flag("--relative") { return .staffForRelative(idNumberGiven: true) }
    let name = try args.value("--name")
    let phone = try args.value("--phone")
    let code = try args.value("--code")
    return .verificationCode(
        name: !(name ?? "").isEmpty, phone: !(phone ?? "").isEmpty, verified: !(code ?? "").isEmpty,
        onBehalf: args.flag("--on-behalf"))
}

/// The keyed hash of the ID number when `--id-key` is given (then `--id` or `--id-stdin` is required).
func optionalIdentity(_ args: inout Arguments) throws(CLIError) -> [UInt8]? {
    guard let path = try args.value("--id-key") else {
        let stray = args.flag("--id-stdin") ? "--id-stdin" : try args.value("--id").map { _ in "--id" }
        if let stray { throw CLIError("\(stray) needs --id-key FILE") }
        return nil
    }
    let hasher = try IdentityHasher.load(path)
    return hasher.hash(idNumber: try idNumber(&args))
}
