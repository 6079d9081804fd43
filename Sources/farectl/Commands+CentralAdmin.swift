import FaregateCore
import FaregatePostgres
import FaregateRuntime
import FaregateSQLite
import FaregateSodium
import Foundation

// `farectl central …` administration on either backend: `--db FILE` (SQLite) or `--pg CONNSTRING`
// (PostgreSQL; libpq syntax, multi-host strings allowed). `central init` and `central stats` are in
// the lead's Commands+Central.swift.

let centralAdminCommands: [Command] = [
    Command(
        ["central", "migrate"], usage: "central migrate (--db FILE | --pg CONN) [--json]",
        "create the central schema or bring it to this build's version"
    ) { args in
        let json = args.flag("--json")
        let backend = try CentralBackend(&args)
        try args.finish()
        let store = try backend.migrate()
        let v = try store.dataVersion()
        try report(MigrateReport(backend: backend.name, dataVersion: v), json: json) {
            "\(backend.name) central store is at the current schema; data version \(v)"
        }
        return 0
    },
    Command(
        ["central", "import"], usage: "central import (--db FILE | --pg CONN) --csv FILE [--no-publish] [--json]",
        "import cards from CSV lines medium,number[,type] (all or nothing)"
    ) { args in
        let json = args.flag("--json")
        let noPublish = args.flag("--no-publish")
        let backend = try CentralBackend(&args)
        guard let csv = try args.value("--csv") else { throw CLIError("--csv FILE is required") }
        try args.finish()
        var records: [CentralCardRecord] = []
        for (n, fields) in try csvRows(csv) {
            guard fields.count == 2 || fields.count == 3 else {
                throw CLIError.failed("\(csv):\(n): expected medium,number[,type], got \(fields.count) fields")
            }
            let key = try parseCard(fields[0] + ":" + fields[1], where: "\(csv):\(n)")
            var type = CardType.normal
            if fields.count == 3 {
                guard let t = CardType.allCases.first(where: { $0.description == fields[2] }) else {
                    throw CLIError("\(csv):\(n): unknown card type '\(fields[2])'")
                }
                type = t
            }
            records.append(CentralCardRecord(key: key, cardType: type, identityHash: nil, health: .unknown))
        }
        let store = try backend.open()
        try store.insertCards(records, wallMillis: nowMillis())
        let published = noPublish ? nil : try store.publish(wallMillis: nowMillis())
        try report(ImportReport(imported: records.count, published: published), json: json) {
            "imported \(records.count) cards" + (published.map { "; data version \($0.version)" } ?? "")
        }
        return 0
    },
    Command(
        ["central", "bind"],
        usage:
            "central bind (--db FILE | --pg CONN) --card MEDIUM:NUMBER --id-key FILE (--id NUMBER | --id-stdin) [--no-publish] [--json]",
        "bind a card to a person (permanent); the ID number is stored only as a keyed hash"
    ) { args in
        let json = args.flag("--json")
        let noPublish = args.flag("--no-publish")
        let backend = try CentralBackend(&args)
        let card = try parseCard(try required(&args, "--card"), where: "--card")
        let hasher = try identityHasher(&args)
        let id = try idNumber(&args)
        try args.finish()
        let store = try backend.open()
        try store.bind(card, identityHash: hasher.hash(idNumber: id), wallMillis: nowMillis())
        let published = noPublish ? nil : try store.publish(wallMillis: nowMillis())
        try report(ChangeReport(cards: 1, published: published), json: json) {
            "bound \(card)" + (published.map { "; data version \($0.version)" } ?? "")
        }
        return 0
    },
    Command(
        ["central", "health"],
        usage:
            "central health (--db FILE | --pg CONN) (--card MEDIUM:NUMBER | --id-key FILE (--id NUMBER | --id-stdin)) --set COLOUR [--no-publish] [--json]",
        "set the health of one identity; every card bound to it changes"
    ) { args in
        let json = args.flag("--json")
        let noPublish = args.flag("--no-publish")
        let backend = try CentralBackend(&args)
        let colour = try parseHealth(try required(&args, "--set"), where: "--set")
        let cardText = try args.value("--card")
        let hasher = cardText == nil ? try identityHasher(&args) : nil
        let id = cardText == nil ? try idNumber(&args) : nil
        try args.finish()
        let store = try backend.open()
        let now = nowMillis()
        let cards: Int
        if let cardText {
            cards = try store.setHealth(of: try parseCard(cardText, where: "--card"), to: colour, wallMillis: now)
        } else if let hasher, let id {
            cards = try store.setHealth(identityHash: hasher.hash(idNumber: id), to: colour, wallMillis: now)
        } else {
            throw CLIError("give --card or --id-key with --id/--id-stdin")
        }
        let published = noPublish ? nil : try store.publish(wallMillis: nowMillis())
        try report(ChangeReport(cards: cards, published: published), json: json) {
            "health \(colour): \(cards) card(s)" + (published.map { "; data version \($0.version)" } ?? "")
        }
        return 0
    },
    Command(
        ["central", "health-bulk"],
        usage: "central health-bulk (--db FILE | --pg CONN) --csv FILE [--id-key FILE] [--no-publish] [--json]",
        "set health from CSV: medium,number,colour lines, or id_number,colour lines with --id-key"
    ) { args in
        let json = args.flag("--json")
        let noPublish = args.flag("--no-publish")
        let backend = try CentralBackend(&args)
        guard let csv = try args.value("--csv") else { throw CLIError("--csv FILE is required") }
        let hasher = try args.value("--id-key").map { path throws(CLIError) in try IdentityHasher.load(path) }
        try args.finish()
        // Parse everything first: a typo on line 900 must not leave 899 changes applied.
        enum Target {
            case card(CardKey)
            case identity([UInt8])
        }
        var targets: [(Target, HealthStatus, String)] = []
        for (n, f) in try csvRows(csv) {
            let at = "\(csv):\(n)"
            if let hasher {
                guard f.count == 2 else { throw CLIError.failed("\(at): expected id_number,colour") }
                targets.append((.identity(hasher.hash(idNumber: f[0])), try parseHealth(f[1], where: at), at))
            } else {
                guard f.count == 3 else { throw CLIError.failed("\(at): expected medium,number,colour") }
                targets.append(
                    (.card(try parseCard(f[0] + ":" + f[1], where: at)), try parseHealth(f[2], where: at), at))
            }
        }
        let store = try backend.open()
        var cards = 0
        var refused: [String] = []
        for (target, colour, at) in targets {
            do {
                switch target {
                case .card(let k): cards += try store.setHealth(of: k, to: colour, wallMillis: nowMillis())
                case .identity(let h):
                    cards += try store.setHealth(identityHash: h, to: colour, wallMillis: nowMillis())
                }
            } catch let e as CentralStoreError where e.code == .refused {
                refused.append("\(at): \(e.message)")
            }
        }
        let published = noPublish ? nil : try store.publish(wallMillis: nowMillis())
        for r in refused { warn("refused: \(r)") }
        try report(
            BulkReport(lines: targets.count, cards: cards, refused: refused.count, published: published), json: json
        ) {
            "\(targets.count) line(s), \(cards) card(s) changed, \(refused.count) refused"
                + (published.map { "; data version \($0.version)" } ?? "")
        }
        return refused.isEmpty ? 0 : 1
    },
    Command(
        ["central", "publish"],
        usage:
            "central publish (--db FILE | --pg CONN) [--signing-key FILE.sec --network NAME --environment ENV [--snapshot]] [--json]",
        "publish pending changes as the next version; with a key, sign new versions (and a snapshot) for gates"
    ) { args in
        let json = args.flag("--json")
        let withSnapshot = args.flag("--snapshot")
        let backend = try CentralBackend(&args)
        let keyPath = try args.value("--signing-key")
        let scope = keyPath == nil ? nil : try requiredScope(&args)
        try args.finish()
        guard keyPath != nil || !withSnapshot else { throw CLIError("--snapshot needs --signing-key") }
        let store = try backend.openPublications()
        if let keyPath { try checkKeyIsIssued(try loadSigningKey(keyPath), in: store) }
        let r = try store.publish(wallMillis: nowMillis())
        var signed: [UInt64] = []
        var snapshotVersion: UInt64?
        if let keyPath, let scope {
            let keys = try loadSigningKey(keyPath)
            signed = try SyncPublisher.signNewVersions(in: store, scope: scope, signer: keys, digest: SodiumSHA256())
            if withSnapshot {
                snapshotVersion = try SyncPublisher.storeSnapshot(
                    in: store, scope: scope, signer: keys, digest: SodiumSHA256()
                ).toVersion
            }
        }
        let out = PublishReport(
            version: r.version, cards: r.cards, signedVersions: signed, snapshotVersion: snapshotVersion)
        try report(out, json: json) {
            (r.cards == 0
                ? "nothing pending; data version \(r.version)"
                : "published \(r.cards) card change(s) as version \(r.version)")
                + (keyPath == nil ? "" : "; signed \(signed.count) new version(s)")
                + (snapshotVersion.map { "; snapshot at version \($0)" } ?? "")
        }
        return 0
    },
    Command(
        ["central", "timestamp"],
        usage:
            "central timestamp (--db FILE | --pg CONN) --signing-key FILE.sec --network NAME --environment ENV [--valid-seconds N] [--json]",
        "sign central's timestamp statement (newest signed version, now, expiry) for gates; run every minute (faregate-timestamp.timer)"
    ) { args in
        let json = args.flag("--json")
        let backend = try CentralBackend(&args)
        let keyPath = try required(&args, "--signing-key")
        let scope = try requiredScope(&args)
        let valid = try args.int("--valid-seconds", default: 300, in: 1...86_400)
        try args.finish()
        let keys = try loadSigningKey(keyPath)
        let store = try backend.openPublications()
        try checkKeyIsIssued(keys, in: store)
        let t = try SyncPublisher.storeTimestamp(
            in: store, scope: scope, signer: keys, nowMillis: nowMillis(), validForMillis: Int64(valid) * 1000)
        try report(
            TimestampReport(
                version: t.version, issuedAtMillis: t.issuedAtMillis, expiresAtMillis: t.expiresAtMillis,
                network: scope.network, environment: scope.environment),
            json: json
        ) { "signed timestamp: version \(t.version) current for \(scope), valid \(valid) s" }
        return 0
    },
    Command(
        ["central", "export"],
        usage:
            "central export (--db FILE | --pg CONN) --signing-key FILE.sec --network NAME --environment ENV (--snapshot | --after VERSION [--max-changes N]) --out FILE [--json]",
        "write a signed bundle (a snapshot, or a delta): what load-snapshot takes"
    ) { args in
        let json = args.flag("--json")
        let wantSnapshot = args.flag("--snapshot")
        let backend = try CentralBackend(&args)
        let keyPath = try required(&args, "--signing-key")
        let scope = try requiredScope(&args)
        let out = try required(&args, "--out")
        let after = try args.value("--after")
        let maxChanges = try args.int("--max-changes", default: 1_000_000, in: 0...Int.max)
        try args.finish()
        guard wantSnapshot != (after != nil) else {
            throw CLIError("give exactly one of --snapshot or --after VERSION")
        }
        let keys = try loadSigningKey(keyPath)
        let store = try backend.open()
        let publication: SignedPublication
        if let after {
            let from = try parseVersion(after, "--after")
            guard
                let p = try SyncPublisher.delta(
                    from: store, after: from, maxChanges: maxChanges, scope: scope, signer: keys,
                    digest: SodiumSHA256())
            else {
                let current = try store.dataVersion()
                if current > from {
                    throw CLIError.failed("more than \(maxChanges) changes after version \(from): take a snapshot")
                }
                try report(ExportReport(kind: "none", fromVersion: from, toVersion: current, bodyBytes: 0), json: json)
                {
                    "version \(from) is current; nothing to export"
                }
                return 0
            }
            publication = p
        } else {
            publication = try SyncPublisher.snapshot(
                from: store, scope: scope, signer: keys, digest: SodiumSHA256())
        }
        do { try SafeFile.replace(out, with: SignedBundle([publication]).encoded(), mode: 0o644) } catch {
            throw CLIError.failed("cannot write \(out): \(error)")
        }
        let m = publication.manifest
        try report(
            ExportReport(
                kind: m.kind.description, fromVersion: m.fromVersion, toVersion: m.toVersion, bodyBytes: Int(m.bodySize)
            ),
            json: json
        ) {
            "wrote signed \(m.kind) \(m.fromVersion)→\(m.toVersion) for \(scope), \(m.bodySize) body bytes, to \(out)"
        }
        return 0
    },
    Command(
        ["central", "verify"],
        usage:
            "central verify --public-key FILE.pub --network NAME --environment ENV --in FILE [--in-service VERSION] [--json]",
        "check a signed bundle as a gate would (signature, scope, size, hash, version)"
    ) { args in
        let json = args.flag("--json")
        let pub = try readKeyFile(try required(&args, "--public-key"), bytes: Ed25519KeyPair.publicKeySize)
        let scope = try requiredScope(&args)
        let path = try required(&args, "--in")
        let inService = try args.value("--in-service").map { text throws(CLIError) -> UInt64 in
            try parseVersion(text, "--in-service")
        }
        try args.finish()
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw CLIError.failed("cannot read \(path)")
        }
        let verifier = try SyncVerifier(pinnedPublicKey: pub, scope: scope)
        do {
            let bundle = try SignedBundle(decoding: [UInt8](bytes))
            guard bundle.publications.count == 1, let p = bundle.publications.first else {
                throw SyncVerificationError(.malformed, "a bundle of \(bundle.publications.count) publications")
            }
            let m = try verifier.verify(envelope: p.envelope, body: p.body, versionInService: inService)
            try report(
                ExportReport(
                    kind: m.kind.description, fromVersion: m.fromVersion, toVersion: m.toVersion,
                    bodyBytes: Int(m.bodySize)),
                json: json
            ) { "valid \(m.kind) \(m.fromVersion)→\(m.toVersion)" }
            return 0
        } catch {
            throw CLIError.failed("rejected: \(error)")
        }
    },
    Command(
        ["central", "gates"], usage: "central gates (--db FILE | --pg CONN) [--json]",
        "each gate's last sync, data lag and last acknowledged journal sequence"
    ) { args in
        let json = args.flag("--json")
        let backend = try CentralBackend(&args)
        try args.finish()
        let store = try backend.open()
        let current = try store.dataVersion()
        let now = nowMillis()
        let rows = try store.gateStates().map { g in
            GateRow(
                gate: g.gate, lastSyncMillis: g.lastSyncMillis,
                secondsSinceSync: g.lastSyncMillis.map { Double(now - $0) / 1000 },
                dataVersion: g.dataVersion, versionsBehind: g.dataVersion.map { current > $0 ? current - $0 : 0 },
                acknowledgedSequence: g.acknowledgedSequence, journalRecords: g.journalRecords)
        }
        try report(GatesReport(dataVersion: current, gates: rows), json: json) {
            var lines = ["central data version \(current); \(rows.count) gate(s)"]
            for r in rows {
                let age = r.secondsSinceSync.map { String(format: "%.0fs ago", $0) } ?? "never"
                let behind = r.versionsBehind.map { "\($0) version(s) behind" } ?? "no version"
                lines.append(
                    "  \(r.gate): synced \(age), \(behind), acked seq \(r.acknowledgedSequence), \(r.journalRecords) record(s)"
                )
            }
            return lines.joined(separator: "\n")
        }
        return 0
    },
    Command(
        ["central", "keygen"], usage: "central keygen (--signing PREFIX | --id-key FILE) [--json]",
        "make an Ed25519 publication key pair (PREFIX.sec, PREFIX.pub) or an ID-hash key"
    ) { args in
        let json = args.flag("--json")
        let signing = try args.value("--signing")
        let idKey = try args.value("--id-key")
        try args.finish()
        guard (signing == nil) != (idKey == nil) else {
            throw CLIError("give exactly one of --signing PREFIX or --id-key FILE")
        }
        var written: [String] = []
        var publicKey: String?
        if let signing {
            let keys = try Ed25519KeyPair()
            try writeKeyFile(signing + ".sec", keys.secretKeyBytes, secret: true)
            try writeKeyFile(signing + ".pub", keys.publicKey, secret: false)
            written = [signing + ".sec", signing + ".pub"]
            publicKey = hexString(keys.publicKey)
        } else if let idKey {
            try writeKeyFile(idKey, try IdentityHasher.generateKey(), secret: true)
            written = [idKey]
        }
        try report(KeygenReport(files: written, publicKey: publicKey), json: json) {
            "wrote " + written.joined(separator: ", ") + (publicKey.map { "\npublic key (pin on gates): \($0)" } ?? "")
        }
        return 0
    },
]

// MARK: reports

struct MigrateReport: Encodable {
    var backend: String
    var dataVersion: UInt64
}

struct ImportReport: Encodable {
    var imported: Int
    var published: PublishResult?
}

struct ChangeReport: Encodable {
    var cards: Int
    var published: PublishResult?
}

struct BulkReport: Encodable {
    var lines: Int
    var cards: Int
    var refused: Int
    var published: PublishResult?
}

struct GateRow: Encodable {
    var gate: String
    var lastSyncMillis: Int64?
    var secondsSinceSync: Double?
    var dataVersion: UInt64?
    var versionsBehind: UInt64?
    var acknowledgedSequence: UInt64
    var journalRecords: Int
}

struct GatesReport: Encodable {
    var dataVersion: UInt64
    var gates: [GateRow]
}

struct PublishReport: Encodable {
    var version: UInt64
    var cards: Int
    var signedVersions: [UInt64]
    var snapshotVersion: UInt64?
}

struct ExportReport: Encodable {
    var kind: String
    var fromVersion: UInt64
    var toVersion: UInt64
    var bodyBytes: Int
}

struct KeygenReport: Encodable {
    var files: [String]
    var publicKey: String?
    var keyID: String? = nil
}

struct TimestampReport: Encodable {
    var version: UInt64
    var issuedAtMillis: Int64
    var expiresAtMillis: Int64
    var network: String
    var environment: String
}
