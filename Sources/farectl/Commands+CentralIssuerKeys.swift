import FaregateCore
import FaregatePostgres
import FaregateSQLite
import FaregateSodium
import Foundation

// `farectl central issuer-keys …` (issue 17.3): ride-code issuer keys as central data. Office or
// admin staff add and revoke keys; the publisher, holding the publication key, signs the list
// as the next issuer-key document (`publish`), which gates with a pinned key fetch at every sync.

let centralIssuerKeyCommands: [Command] = [
    Command(
        ["central", "issuer-keys", "add"],
        usage:
            "central issuer-keys add (--db FILE | --pg CONN) (--file FILE.public.json | --issuer N --key-id K --alg ed25519|sm2 --public-key HEX [--valid-from UNIX_SECONDS] [--valid-until UNIX_SECONDS]) [--json]",
        "add ride-code issuer keys (a key id is never reused); gates get them at the sync after the next issuer-keys publish"
    ) { args in
        let json = args.flag("--json")
        let backend = try CentralBackend(&args)
        let keys: [RideCodeIssuerKey]
        if let file = try args.value("--file") {
            try args.finish()
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CLIError.failed("cannot read \(file)")
            }
            do { keys = try RideCodeIssuerKeyList.decode(json: [UInt8](data)).keys } catch {
                throw CLIError.failed("\(file): \(error)")
            }
        } else {
            keys = [try issuerKeyFromOptions(&args)]
            try args.finish()
        }
        let store = try issuerKeyStore(backend)
        for k in keys { try store.addIssuerKey(k, wallMillis: nowMillis()) }
        let rows = keys.map(IssuerKeyRowOutput.init)
        try report(IssuerKeyListOutput(keys: rows), json: json) {
            rows.map { "added issuer \($0.issuer) key \($0.keyID) (\($0.alg))" }.joined(separator: "\n")
                + "\n(gates get it after `central issuer-keys publish` and their next sync)"
        }
        return 0
    },
    Command(
        ["central", "issuer-keys", "revoke"],
        usage: "central issuer-keys revoke (--db FILE | --pg CONN) ISSUER KEY_ID [--json]",
        "revoke an issuer key; gates refuse its codes (ride_code_unknown_key) from the sync after the next publish"
    ) { args in
        let json = args.flag("--json")
        let backend = try CentralBackend(&args)
        guard let issuerText = args.positional(), let issuer = UInt8(issuerText),
            let keyText = args.positional(), let keyID = UInt16(keyText)
        else { throw CLIError("give ISSUER (0…255) and KEY_ID (0…65535)") }
        try args.finish()
        guard try issuerKeyStore(backend).revokeIssuerKey(issuer: issuer, keyID: keyID, wallMillis: nowMillis())
        else { throw CLIError.failed("central has no key \(keyID) of issuer \(issuer)") }
        try report(IssuerKeyRevokeOutput(issuer: issuer, keyID: keyID, revoked: true), json: json) {
            "revoked issuer \(issuer) key \(keyID) (gates refuse it after `central issuer-keys publish` and their next sync)"
        }
        return 0
    },
    Command(
        ["central", "issuer-keys", "list"], usage: "central issuer-keys list (--db FILE | --pg CONN) [--json]",
        "central's issuer keys (revoked ones included) and the version of the last signed issuer-key document"
    ) { args in
        let json = args.flag("--json")
        let backend = try CentralBackend(&args)
        try args.finish()
        let store = try issuerKeyStore(backend)
        let rows = try store.issuerKeys().map(IssuerKeyRowOutput.init)
        let published = try store.latestIssuerKeyDocument()?.version
        try report(IssuerKeyListOutput(keys: rows, publishedVersion: published), json: json) {
            var lines = [
                "\(rows.count) issuer key(s); last signed document version \(published.map(String.init) ?? "none")"
            ]
            for r in rows {
                lines.append(
                    "  issuer \(r.issuer) key \(r.keyID) \(r.alg) valid \(r.validFrom)…\(r.validUntil)\(r.revoked ? " REVOKED" : "") \(r.publicKey)"
                )
            }
            return lines.joined(separator: "\n")
        }
        return 0
    },
    Command(
        ["central", "issuer-keys", "publish"],
        usage:
            "central issuer-keys publish (--db FILE | --pg CONN) --signing-key FILE.sec --network NAME --environment ENV [--valid-seconds N] [--json]",
        "sign central's issuer keys as the next issuer-key document for gates (default valid 7 days: re-publish within that)"
    ) { args in
        let json = args.flag("--json")
        let backend = try CentralBackend(&args)
        let keyPath = try required(&args, "--signing-key")
        let scope = try requiredScope(&args)
        let valid = try args.int("--valid-seconds", default: 7 * 86_400, in: 60...(366 * 86_400))
        try args.finish()
        let signer = try loadSigningKey(keyPath)
        let d = try SyncPublisher.storeIssuerKeys(
            in: try issuerKeyStore(backend), scope: scope, signer: signer, nowMillis: nowMillis(),
            validForMillis: Int64(valid) * 1000)
        let revoked = d.keys.keys.filter(\.revoked).count
        try report(
            IssuerKeyPublishOutput(
                version: d.version, keys: d.keys.keys.count, revoked: revoked, issuedAtMillis: d.issuedAtMillis,
                expiresAtMillis: d.expiresAtMillis, network: scope.network, environment: scope.environment),
            json: json
        ) {
            "signed issuer-key document version \(d.version) for \(scope): \(d.keys.keys.count) key(s), \(revoked) revoked, valid \(valid) s"
        }
        return 0
    },
]

func issuerKeyStore(_ backend: CentralBackend) throws(CentralStoreError) -> any IssuerKeyStore {
    switch backend.kind {
    case .sqlite(let path): try SQLiteCentralStore(path: path)
    case .postgres(let conn): try PostgresCentralStore(connecting: conn)
    }
}

/// `--issuer N --key-id K --alg A --public-key HEX [--valid-from S] [--valid-until S]`, checked as
/// the issuer-keys file's entries are (hex, length for the algorithm, SM2 point, from ≤ until).
func issuerKeyFromOptions(_ args: inout Arguments) throws -> RideCodeIssuerKey {
    guard let issuerText = try args.value("--issuer"), let n = UInt8(issuerText),
        let issuer = RideCodeIssuer(rawValue: n)
    else {
        throw CLIError(
            "--issuer N (an issuer number of RIDECODE.md: "
                + RideCodeIssuer.allCases.map { String($0.rawValue) }.joined(separator: ", ") + ") is required")
    }
    guard let keyText = try args.value("--key-id"), let keyID = UInt16(keyText) else {
        throw CLIError("--key-id K (a whole number 0…65535) is required")
    }
    guard let alg = try algorithmOption(&args, "--alg") else { throw CLIError("--alg ed25519|sm2 is required") }
    let hex = try required(&args, "--public-key")
    guard let key = Hex.bytes(exact: hex), alg.isWellFormedPublicKey(key) else {
        throw CLIError(
            "--public-key must be \(alg.publicKeyLength) bytes of hex for \(alg.name)"
                + (alg == .sm2 ? " (an uncompressed point 04 ‖ X ‖ Y)" : ""))
    }
    let now = nowSeconds()
    let from = try unixSeconds(&args, "--valid-from", default: now)
    let until = try unixSeconds(&args, "--valid-until", default: min(now + 2 * 365 * 86_400, Int64(UInt32.max)))
    guard let f = UInt32(exactly: from), let u = UInt32(exactly: until), f <= u else {
        throw CLIError("--valid-from and --valid-until must be Unix seconds below 2^32, from not after until")
    }
    return RideCodeIssuerKey(
        issuer: issuer, keyID: keyID, algorithm: alg, publicKey: key, validFrom: f, validUntil: u)
}

struct IssuerKeyRowOutput: Encodable {
    var issuer: UInt8
    var keyID: UInt16
    var alg: String
    var publicKey: String
    var validFrom: UInt32
    var validUntil: UInt32
    var revoked: Bool

    init(_ k: RideCodeIssuerKey) {
        issuer = k.issuer.rawValue
        keyID = k.keyID
        alg = k.algorithm.name
        publicKey = Hex.lowercase(k.publicKey)
        validFrom = k.validFrom
        validUntil = k.validUntil
        revoked = k.revoked
    }

    enum CodingKeys: String, CodingKey {
        case issuer, keyID = "key_id", alg, publicKey = "public_key", validFrom = "valid_from"
        case validUntil = "valid_until", revoked
    }
}

struct IssuerKeyListOutput: Encodable {
    var keys: [IssuerKeyRowOutput]
    var publishedVersion: UInt64? = nil
    enum CodingKeys: String, CodingKey { case keys, publishedVersion = "published_version" }
}

struct IssuerKeyRevokeOutput: Encodable {
    var issuer: UInt8
    var keyID: UInt16
    var revoked: Bool
    enum CodingKeys: String, CodingKey { case issuer, keyID = "key_id", revoked }
}

struct IssuerKeyPublishOutput: Encodable {
    var version: UInt64
    var keys: Int
    var revoked: Int
    var issuedAtMillis: Int64
    var expiresAtMillis: Int64
    var network: String
    var environment: String
    enum CodingKeys: String, CodingKey {
        case version, keys, revoked, issuedAtMillis = "issued_at_ms", expiresAtMillis = "expires_at_ms", network
        case environment
    }
}
