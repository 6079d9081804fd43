import FaregateCore
import FaregateRuntime
import FaregateSodium
import Foundation

// `farectl central keys …`: the offline root key and the online publication keys it vouches for
// (issue 16.4, README "Trust model"). The root secret key is a file named on the command line
// and used only for the moment a key set is signed; it is never stored in the central database
// (keep it offline, e.g. on removable media inserted for these commands). The online secret key
// is what `central publish` and `central timestamp` take as `--signing-key`.

let centralKeyCommands: [Command] = [
    Command(
        ["central", "keys", "root-keygen"], usage: "central keys root-keygen --out PREFIX [--json]",
        "make the offline root key pair (PREFIX.sec, kept offline; PREFIX.pub, pinned on gates as central.root_key)"
    ) { args in
        try keygen(&args, role: "root")
    },
    Command(
        ["central", "keys", "online-keygen"], usage: "central keys online-keygen --out PREFIX [--json]",
        "make an online publication key pair (PREFIX.sec for publish/timestamp; PREFIX.pub for keys issue)"
    ) { args in
        try keygen(&args, role: "online")
    },
    Command(
        ["central", "keys", "issue"],
        usage:
            "central keys issue (--db FILE | --pg CONN) --root-key ROOT.sec --network NAME --environment ENV --key ONLINE.pub [--valid-days N] [--json]",
        "root-sign the next key set: the keys in force plus ONLINE.pub, valid N days (default 365) from now"
    ) { args in
        let json = args.flag("--json")
        var edit = try KeySetEdit(&args)
        let pub = try readKeyFile(try required(&args, "--key"), bytes: Ed25519KeyPair.publicKeySize)
        let days = try args.int("--valid-days", default: 365, in: 1...36_500)
        try args.finish()
        let id = PublicationKeySet.Key.id(of: pub)
        guard !edit.next.revoked.contains(id) else {
            throw CLIError.failed("key \(PublicationKeySet.hex(id)) is revoked; make a new key")
        }
        guard edit.next.keys.count < PublicationKeySet.maxKeys || edit.next.keys.contains(where: { $0.keyID == id })
        else {
            throw CLIError.failed("the key set holds \(PublicationKeySet.maxKeys) keys; revoke one first")
        }
        let now = nowMillis()
        edit.next.keys.removeAll { $0.keyID == id }
        edit.next.keys.append(
            PublicationKeySet.Key(
                keyID: id, publicKey: pub, validFromMillis: now, validUntilMillis: now + Int64(days) * 86_400_000))
        edit.next.keys.sort { $0.keyID < $1.keyID }
        return try edit.store(json: json, did: "issued key \(PublicationKeySet.hex(id)) for \(days) day(s)")
    },
    Command(
        ["central", "keys", "revoke"],
        usage:
            "central keys revoke (--db FILE | --pg CONN) --root-key ROOT.sec --network NAME --environment ENV --key-id HEX [--json]",
        "root-sign the next key set without key HEX and naming it revoked: gates refuse its signatures at the next sync"
    ) { args in
        let json = args.flag("--json")
        var edit = try KeySetEdit(&args)
        let text = try required(&args, "--key-id")
        try args.finish()
        guard let id = UInt32(text, radix: 16) else { throw CLIError("--key-id takes eight hex digits, not '\(text)'") }
        guard !edit.next.revoked.contains(id) else {
            throw CLIError.failed("key \(PublicationKeySet.hex(id)) is already revoked")
        }
        guard edit.next.revoked.count < PublicationKeySet.maxRevoked else {
            throw CLIError.failed("the key set names \(PublicationKeySet.maxRevoked) revoked keys already")
        }
        edit.next.keys.removeAll { $0.keyID == id }
        edit.next.revoked.append(id)
        edit.next.revoked.sort()
        return try edit.store(json: json, did: "revoked key \(PublicationKeySet.hex(id))")
    },
    Command(
        ["central", "keys", "reset-epoch"],
        usage:
            "central keys reset-epoch (--db FILE | --pg CONN) --root-key ROOT.sec --network NAME --environment ENV --floor VERSION [--json]",
        "compromise recovery: a new epoch (discards stored publications); each gate then takes the newest snapshot reaching VERSION, even below the version it serves, once"
    ) { args in
        let json = args.flag("--json")
        var edit = try KeySetEdit(&args)
        let floor = try parseVersion(try required(&args, "--floor"), "--floor")
        try args.finish()
        guard edit.next.epoch < SyncManifest.maxVersion else { throw CLIError.failed("epoch at its limit") }
        edit.next.epoch += 1
        edit.next.epochFloor = floor
        // The stored publications may be an attacker's (signed with the compromised key, at any
        // version): all go; `central publish --snapshot` with a new key signs every version again.
        return try edit.store(
            json: json, then: { store throws(CentralStoreError) in try store.discardPublications() },
            did:
                "epoch \(edit.next.epoch), floor version \(floor); stored publications discarded: run central publish --signing-key NEW.sec --snapshot"
        )
    },
    Command(
        ["central", "keys", "list"],
        usage:
            "central keys list (--db FILE | --pg CONN) --root-public-key ROOT.pub --network NAME --environment ENV [--json]",
        "the key set central serves, verified with the root public key as a gate would"
    ) { args in
        let json = args.flag("--json")
        let backend = try CentralBackend(&args)
        let root = try readKeyFile(try required(&args, "--root-public-key"), bytes: Ed25519KeyPair.publicKeySize)
        let scope = try requiredScope(&args)
        try args.finish()
        let store = try backend.openPublications()
        guard let sealed = try store.latestKeySet() else {
            throw CLIError.failed("central holds no key set yet (central keys issue)")
        }
        let set = try verifiedKeySet(sealed, root: root, scope: scope)
        let r = KeySetReport(set, did: nil)
        try report(r, json: json) { r.text }
        return 0
    },
]

/// Refuses to sign with an online key central's key set does not list (revoked, retired, never
/// issued): gates pinning the root would refuse everything it signs. Without a key set (a gate
/// pinning one `public_key`) any key signs. The key set is read unverified: this is the
/// operator's guard, the gates verify.
func checkKeyIsIssued(_ keys: Ed25519KeyPair, in store: any PublicationStore) throws(CLIError) {
    let sealed: [UInt8]?
    do { sealed = try store.latestKeySet() } catch { throw CLIError.failed("\(error)") }
    guard let sealed, sealed.count > PublicationKeySet.signatureSize,
        let set = try? PublicationKeySet(canonical: sealed.dropLast(PublicationKeySet.signatureSize))
    else { return }
    let id = PublicationKeySet.Key.id(of: keys.publicKey)
    guard set.keys.contains(where: { $0.publicKey == keys.publicKey }) else {
        let why = set.revoked.contains(id) ? "revoked" : "not issued"
        throw CLIError.failed(
            "key \(PublicationKeySet.hex(id)) is \(why) in central's key set version \(set.version): gates would refuse what it signs (central keys list)"
        )
    }
}

private func keygen(_ args: inout Arguments, role: String) throws -> Int32 {
    let json = args.flag("--json")
    let prefix = try required(&args, "--out")
    try args.finish()
    let keys: Ed25519KeyPair
    do { keys = try Ed25519KeyPair() } catch { throw CLIError.failed("\(error)") }
    try writeKeyFile(prefix + ".sec", keys.secretKeyBytes, secret: true)
    try writeKeyFile(prefix + ".pub", keys.publicKey, secret: false)
    let id = PublicationKeySet.hex(PublicationKeySet.Key.id(of: keys.publicKey))
    let r = KeygenReport(files: [prefix + ".sec", prefix + ".pub"], publicKey: hexString(keys.publicKey), keyID: id)
    try report(r, json: json) {
        "wrote \(prefix).sec, \(prefix).pub\n\(role) key id \(id), public key \(hexString(keys.publicKey))"
            + (role == "root" ? "\npin \(prefix).pub on gates (central.root_key); keep \(prefix).sec offline" : "")
    }
    return 0
}

private func verifiedKeySet(_ sealed: [UInt8], root: [UInt8], scope: SyncScope) throws(CLIError)
    -> PublicationKeySet
{
    do {
        let ring = PublicationKeyRing(
            root: try Ed25519Verifier(publicKey: root), scope: scope, verifierFor: { _ in nil }, wallMillis: { 0 })
        return try ring.verifyKeySet(sealed)
    } catch {
        throw CLIError.failed("central's key set does not verify with this root key: \(error)")
    }
}

/// The next key set: the one central serves (verified with the root's public half), version + 1;
/// the first one (version 1, epoch 0) when there is none.
private struct KeySetEdit {
    var backend: CentralBackend
    var store: any PublicationStore
    var root: Ed25519KeyPair
    var next: PublicationKeySet

    init(_ args: inout Arguments) throws(CLIError) {
        backend = try CentralBackend(&args)
        root = try loadSigningKey(try required(&args, "--root-key"))
        let scope = try requiredScope(&args)
        do { store = try backend.openPublications() } catch { throw CLIError.failed("\(error)") }
        let held: [UInt8]?
        do { held = try store.latestKeySet() } catch { throw CLIError.failed("\(error)") }
        if let held {
            next = try verifiedKeySet(held, root: root.publicKey, scope: scope)
            guard next.version < SyncManifest.maxVersion else { throw CLIError.failed("key set version at its limit") }
            next.version += 1
        } else {
            next = PublicationKeySet(scope: scope, version: 1, keys: [])
        }
    }

    func store(
        json: Bool, then: (any PublicationStore) throws(CentralStoreError) -> Void = { _ in }, did: String
    ) throws -> Int32 {
        let sealed = next.sealed(by: root)
        do {
            // Round trip: what gates will parse.
            _ = try PublicationKeySet(canonical: sealed.dropLast(PublicationKeySet.signatureSize))
            try store.storeKeySet(sealed, version: next.version)
            try then(store)
        } catch {
            throw CLIError.failed("\(error)")
        }
        let r = KeySetReport(next, did: did)
        try report(r, json: json) { r.text }
        return 0
    }
}

struct KeySetReport: Encodable {
    struct Key: Encodable {
        var keyID: String
        var publicKey: String
        var validFromMillis: Int64
        var validUntilMillis: Int64
    }
    var did: String?
    var version: UInt64
    var epoch: UInt64
    var epochFloor: UInt64
    var network: String
    var environment: String
    var keys: [Key]
    var revoked: [String]

    init(_ s: PublicationKeySet, did: String?) {
        self.did = did
        version = s.version
        epoch = s.epoch
        epochFloor = s.epochFloor
        network = s.scope.network
        environment = s.scope.environment
        keys = s.keys.map {
            Key(
                keyID: PublicationKeySet.hex($0.keyID), publicKey: hexString($0.publicKey),
                validFromMillis: $0.validFromMillis, validUntilMillis: $0.validUntilMillis)
        }
        revoked = s.revoked.map(PublicationKeySet.hex)
    }

    var text: String {
        var lines = [
            (did.map { "\($0); " } ?? "")
                + "key set version \(version), epoch \(epoch) (floor \(epochFloor)) for network '\(network)' environment '\(environment)'"
        ]
        let f = ISO8601DateFormatter()
        func date(_ ms: Int64) -> String { f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000)) }
        for k in keys {
            lines.append("  key \(k.keyID) valid \(date(k.validFromMillis)) … \(date(k.validUntilMillis))")
        }
        if !revoked.isEmpty { lines.append("  revoked \(revoked.joined(separator: ", "))") }
        return lines.joined(separator: "\n")
    }
}
