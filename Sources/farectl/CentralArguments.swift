import FaregateCore
import FaregatePostgres
import FaregateRuntime
import FaregateSQLite
import FaregateSodium
import Foundation

// What the `farectl central …` commands share: the backend chosen on the command line, and the
// parsing of cards, health codes, CSV rows, identity keys and key files from their arguments.

/// The backend chosen on the command line: `--db FILE` (SQLite) or `--pg CONNSTRING` (PostgreSQL).
struct CentralBackend {
    enum Kind {
        case sqlite(String)
        case postgres(String)
    }
    var kind: Kind

    init(_ args: inout Arguments) throws(CLIError) {
        let db = try args.value("--db")
        let pg = try args.value("--pg")
        switch (db, pg) {
        case (let path?, nil): kind = .sqlite(path)
        case (nil, let conn?): kind = .postgres(conn)
        default: throw CLIError("give exactly one of --db FILE (SQLite) or --pg CONNSTRING (PostgreSQL)")
        }
    }

    var name: String {
        switch kind {
        case .sqlite: "sqlite"
        case .postgres: "postgresql"
        }
    }

    func open() throws(CentralStoreError) -> any CentralAdminStore {
        switch kind {
        case .sqlite(let path): try SQLiteCentralStore(path: path)
        case .postgres(let conn): try PostgresCentralStore(connecting: conn)
        }
    }

    func openPublications() throws(CentralStoreError) -> any PublicationStore {
        switch kind {
        case .sqlite(let path): try SQLiteCentralStore(path: path)
        case .postgres(let conn): try PostgresCentralStore(connecting: conn)
        }
    }

    func migrate() throws(CentralStoreError) -> any CentralAdminStore {
        switch kind {
        case .sqlite(let path): try SQLiteCentralStore.create(at: path)
        case .postgres(let conn): try PostgresCentralStore.create(connecting: conn)
        }
    }
}

func nowMillis() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

func required(_ args: inout Arguments, _ name: String) throws(CLIError) -> String {
    guard let v = try args.value(name) else { throw CLIError("\(name) is required") }
    return v
}

/// `medium:number` (medium names as in `Medium.description`), or a bare T-Union number.
func parseCard(_ text: String, where at: String) throws(CLIError) -> CardKey {
    let parts = text.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
    let medium: Medium?
    let number: String
    if parts.count == 2 {
        medium = Medium(name: parts[0])
        number = parts[1]
    } else {
        medium = .transitCard
        number = parts.first ?? ""
    }
    guard let medium else { throw CLIError("\(at): unknown medium in '\(text)'") }
    guard let key = CardKey(medium: medium, number: number) else {
        throw CLIError("\(at): '\(number)' is not a valid \(medium) number")
    }
    return key
}

func parseHealth(_ text: String, where at: String) throws(CLIError) -> HealthStatus {
    guard let h = HealthStatus(name: text.trimmingCharacters(in: .whitespaces).lowercased()) else {
        throw CLIError("\(at): colour must be green, yellow, red or unknown, not '\(text)'")
    }
    return h
}

/// Non-empty, non-comment CSV lines split on commas, with 1-based line numbers. A first line
/// starting with a letter in its first field and no digits (a header) is skipped.
func csvRows(_ path: String) throws(CLIError) -> [(Int, [String])] {
    guard let data = FileManager.default.contents(atPath: path) else { throw CLIError.failed("cannot read \(path)") }
    var rows: [(Int, [String])] = []
    for (i, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        .enumerated()
    {
        let l = line.trimmingCharacters(in: .whitespacesAndNewlines)
        if l.isEmpty || l.hasPrefix("#") { continue }
        let fields = l.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        if rows.isEmpty, i == 0, !l.contains(where: \.isNumber) { continue }  // header
        rows.append((i + 1, fields))
    }
    return rows
}

func identityHasher(_ args: inout Arguments) throws(CLIError) -> IdentityHasher {
    guard let path = try args.value("--id-key") else {
        throw CLIError("--id-key FILE is required (make one with central keygen --id-key)")
    }
    return try IdentityHasher.load(path)
}

/// The ID number from `--id NUMBER` or, so it stays out of `ps` and shell history, `--id-stdin`.
func idNumber(_ args: inout Arguments) throws(CLIError) -> String {
    if args.flag("--id-stdin") {
        guard let line = readLine(), !line.isEmpty else { throw CLIError("no ID number on standard input") }
        return line
    }
    guard let id = try args.value("--id") else { throw CLIError("--id NUMBER or --id-stdin is required") }
    return id
}

extension IdentityHasher {
    static func load(_ path: String) throws(CLIError) -> IdentityHasher {
        let key = try readKeyFile(path, bytes: IdentityHasher.keySize)
        do { return try IdentityHasher(key: key) } catch { throw CLIError.failed("\(path): \(error)") }
    }
}

func loadSigningKey(_ path: String) throws(CLIError) -> Ed25519KeyPair {
    let secret = try readKeyFile(path, bytes: Ed25519KeyPair.secretKeySize)
    do { return try Ed25519KeyPair(secretKey: secret) } catch { throw CLIError.failed("\(path): \(error)") }
}

func hexString(_ bytes: [UInt8]) -> String { KeyFile.hex(bytes) }

/// Key files hold the key as one line of lowercase hex.
/// Created O_EXCL with its final mode before a byte is written (`KeyFile.write`).
func writeKeyFile(_ path: String, _ bytes: [UInt8], secret: Bool) throws {
    do { try KeyFile.write(path, bytes, secret: secret) } catch { throw CLIError.failed(error.description) }
}

func readKeyFile(_ path: String, bytes: Int) throws(CLIError) -> [UInt8] {
    do { return try KeyFile.read(path, bytes: bytes) } catch { throw CLIError.failed(error.description) }
}

/// `--network NAME --environment ENV`: the scope publications are signed for (a gate configured
/// for another refuses them). Both required wherever a key signs or checks publications.
func requiredScope(_ args: inout Arguments) throws(CLIError) -> SyncScope {
    let network = try required(&args, "--network")
    let environment = try required(&args, "--environment")
    do { return try SyncScope(network: network, environment: environment) } catch { throw CLIError(error.message) }
}

/// A version number as given on the command line: at most 2^63 − 1, like every version.
func parseVersion(_ text: String, _ name: String) throws(CLIError) -> UInt64 {
    guard let v = UInt64(text), v <= SyncManifest.maxVersion else {
        throw CLIError("\(name) takes a version number from 0 to \(SyncManifest.maxVersion), not '\(text)'")
    }
    return v
}
