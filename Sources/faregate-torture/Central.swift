import FaregateCore
import FaregatePostgres
import FaregateSQLite
import FaregateSimulation
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The real central store the gates sync with, as the driver administers, faults and reads it.
enum Central {
    case sqlite(path: String)
    /// `control`: scripts/services/postgres (with FAREGATE_PG_DIR in the environment), for the
    /// outage fault (`pause` / `resume`).
    case postgres(conninfo: String, control: String)

    var name: String {
        switch self {
        case .sqlite: "sqlite"
        case .postgres: "postgres"
        }
    }

    /// The gate configuration's `central` object.
    var configJSON: String {
        switch self {
        case .sqlite(let path): #"{"sqlite": "\#(path)"}"#
        case .postgres(let conninfo, _): #"{"postgres": "\#(conninfo)"}"#
        }
    }

    private func store() throws -> any AdminStore {
        switch self {
        case .sqlite(let path): try SQLiteCentralStore(path: path)
        case .postgres(let conninfo, _): try PostgresCentralStore(connecting: conninfo)
        }
    }

    /// A new store holding `cards` cards of the demo population.
    func create(cards: Int, seed: UInt64) throws {
        let records = DemoPopulation.centralRecords(0..<cards, seed: seed)
        switch self {
        case .sqlite(let path): try SQLiteCentralStore.create(at: path).insertCards(records, wallMillis: 1)
        case .postgres(let conninfo, _):
            try PostgresCentralStore.create(connecting: conninfo).insertCards(records, wallMillis: 1)
        }
    }

    /// Changes the health of some cards, so every gate reloads its table (and rewrites its snapshot).
    func change(_ keys: [CardKey], to health: HealthStatus, wallMillis: Int64) throws {
        let s = try store()
        for k in keys { _ = try s.setHealth(of: k, to: health, wallMillis: wallMillis) }
    }

    /// Central's stored records of `gate`, as stored (the text column, byte for byte).
    func records(gate: String) throws -> [(sequence: UInt64, record: String)] {
        let query = "SELECT seq, record FROM journal WHERE gate_id = '\(gate)' ORDER BY seq"
        let out: String
        switch self {
        case .sqlite(let path):
            out = try run("/usr/bin/sqlite3", ["-readonly", "-separator", "|", path, query])
        case .postgres(let conninfo, _):
            out = try run("/usr/bin/psql", [conninfo, "-X", "-A", "-t", "-F", "|", "-c", query])
        }
        var rows: [(UInt64, String)] = []
        for line in out.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let bar = line.firstIndex(of: "|"), let seq = UInt64(line[..<bar]) else {
                throw TortureError("central: unreadable row '\(line.prefix(80))'")
            }
            rows.append((seq, String(line[line.index(after: bar)...])))
        }
        return rows
    }

    /// The sequences central holds as holes for `gate` (records the gate reported lost, where the
    /// store keeps such: `journal_holes`); none where it does not.
    func holes(gate: String) -> Set<UInt64> {
        let query = "SELECT seq FROM journal_holes WHERE gate_id = '\(gate)'"
        let out: String?
        switch self {
        case .sqlite(let path): out = try? run("/usr/bin/sqlite3", ["-readonly", path, query])
        case .postgres(let conninfo, _): out = try? run("/usr/bin/psql", [conninfo, "-X", "-A", "-t", "-c", query])
        }
        return Set((out ?? "").split(separator: "\n").compactMap { UInt64($0) })
    }

    /// The record central holds for each of `sequences` of `gate` (read while the gate is down).
    func holds(gate: String) -> [UInt64: String] {
        guard let rows = try? records(gate: gate) else { return [:] }
        return Dictionary(rows.map { ($0.sequence, $0.record) }, uniquingKeysWith: { a, _ in a })
    }

    /// Makes central unavailable until the returned outage is ended: SQLite, another process
    /// holding an exclusive transaction (writers wait, then fail); PostgreSQL, the server stopped.
    func beginOutage() throws -> Outage {
        switch self {
        case .sqlite(let path):
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
            p.arguments = [path]
            let input = Pipe()
            let output = Pipe()
            p.standardInput = input
            p.standardOutput = output
            p.standardError = FileHandle.nullDevice
            try p.run()
            input.fileHandleForWriting.write(
                Data("PRAGMA busy_timeout=10000;\nBEGIN EXCLUSIVE;\nSELECT 'held';\n".utf8))
            var got = Data()
            while !String(decoding: got, as: UTF8.self).contains("held") {
                let chunk = output.fileHandleForReading.availableData
                guard !chunk.isEmpty else { throw TortureError("central lock: sqlite3 ended before taking the lock") }
                got += chunk
            }
            return Outage(end: {
                input.fileHandleForWriting.write(Data("ROLLBACK;\n.quit\n".utf8))
                try? input.fileHandleForWriting.close()
                p.waitUntilExit()
            })
        case .postgres(_, let control):
            try service(control, "pause")
            return Outage(end: { try? service(control, "resume") })
        }
    }

    struct Outage {
        let end: () -> Void
    }
}

/// The admin operations the driver uses, on either store.
protocol AdminStore {
    func setHealth(of key: CardKey, to health: HealthStatus, wallMillis: Int64) throws(CentralStoreError) -> Int
}
extension SQLiteCentralStore: AdminStore {}
extension PostgresCentralStore: AdminStore {}

struct TortureError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Runs a tool to its end and returns its standard output; a non-zero exit is an error.
@discardableResult
func run(_ tool: String, _ arguments: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: tool)
    p.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    // Read both to their end before waiting (a full pipe would block the tool).
    let errData = Locked(Data())
    let errRead = DispatchSemaphore(value: 0)
    Thread {
        errData.set(err.fileHandleForReading.readDataToEndOfFile())
        errRead.signal()
    }.start()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    errRead.wait()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        throw TortureError(
            "\(tool) \(arguments.first ?? "") exited \(p.terminationStatus): \(String(decoding: errData.get(), as: UTF8.self).prefix(400))"
        )
    }
    return String(decoding: data, as: UTF8.self)
}

/// A value behind a lock (the driver's shared flags).
final class Locked<T>: @unchecked Sendable {
    // @unchecked Sendable: `value` is only touched under `lock`.
    private let lock = NSLock()
    private var value: T
    init(_ v: T) { value = v }
    func get() -> T { lock.withLock { value } }
    func set(_ v: T) { lock.withLock { value = v } }
    func update<R>(_ body: (inout T) -> R) -> R { lock.withLock { body(&value) } }
}

/// Runs the PostgreSQL service script with `verb`. Spawned and reaped here (posix_spawn,
/// waitpid), output to the null device: Foundation's `Process.waitUntilExit` missed the end of
/// this short script (the child stayed a zombie), and a pipe would be held open by the server it
/// starts.
func service(_ script: String, _ verb: String) throws {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let argv: [UnsafeMutablePointer<CChar>?] = [strdup(script), strdup(verb), nil]
    defer { for a in argv { free(a) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, script, &actions, nil, argv, environ)
    guard rc == 0 else { throw TortureError("cannot run \(script): \(String(cString: strerror(rc)))") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    guard status == 0 else { throw TortureError("\(script) \(verb) failed (wait status \(status))") }
}
