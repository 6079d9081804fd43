import FaregateCore
import FaregateRuntime
import FaregateSQLite
import Foundation
import Glibc

/// `farectl ride-code bench --pty`: scan received → decided through a running release `faregated`
/// (issue 17 part 9), per pairing of the issuer's and the phone's algorithm. For each pair a fresh
/// gate (its own directory, central SQLite file with the codes' accounts, issuer keys file) reads
/// a `ScannerPTY` as its serial scanner; the bench sends one code every `interval` (riders at a
/// scanner, not a flood: a line never waits behind another's signatures), then reads the gate's
/// own timings: each journal record's stages from the line's arrival (the read that returned its
/// terminator) to the decision (`t_read`: both signatures on the scanner thread; `t_queue`,
/// `t_lookup`, `t_decide`), and the `faregate_scan_decided_seconds` and
/// `faregate_tap_latency_seconds` (to barrier commanded, after the journal's fdatasync) summaries.
struct RideCodePTYBenchRow: Encodable {
    var issuerAlg: String
    var userAlg: String
    var codes: Int
    var accepted: Int
    /// Line received → decided, from the journal's stage timings (exact, µs).
    var decidedP50Micros: Double
    var decidedP99Micros: Double
    var decidedMaxMicros: Double
    /// The scanner thread's share (`t_read`: parse and both signatures), mean and p99.
    var verifyMeanMicros: Double
    var verifyP99Micros: Double
    /// Waiting on the ring for the decision thread (`t_queue`: behind a commit's fsyncs), p99.
    var queueP99Micros: Double
    /// Ring, replay check, lookup and decision (`t_queue + t_lookup + t_decide`), mean.
    var decisionThreadMeanMicros: Double
    /// The gate's own summaries (log-linear histogram, within ~3 %).
    var metricDecidedP99Micros: Double
    var metricCommandedP99Micros: Double
}

func rideCodePTYBench(count: Int, intervalMillis: Int, faregated: String, keepDir: Bool) throws -> [RideCodePTYBenchRow]
{
    guard FileManager.default.isExecutableFile(atPath: faregated) else {
        throw CLIError.failed(
            "\(faregated) is not an executable (build it: swift build -c release --product faregated)")
    }
    let work = NSTemporaryDirectory() + "farectl-ridecode-pty-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    defer { if !keepDir { try? FileManager.default.removeItem(atPath: work) } }
    var rows: [RideCodePTYBenchRow] = []
    for issuerAlg in [RideCodeAlgorithm.ed25519, .sm2] {
        for userAlg in [RideCodeAlgorithm.ed25519, .sm2] {
            rows.append(
                try ptyBenchPair(
                    issuerAlg, userAlg, count: count, intervalMillis: intervalMillis, faregated: faregated,
                    dir: "\(work)/\(issuerAlg.name)-\(userAlg.name)"))
        }
    }
    if keepDir { warn("bench gates kept in \(work)") }
    return rows
}

private func ptyBenchPair(
    _ issuerAlg: RideCodeAlgorithm, _ userAlg: RideCodeAlgorithm, count: Int, intervalMillis: Int, faregated: String,
    dir: String
) throws -> RideCodePTYBenchRow {
    try FileManager.default.createDirectory(atPath: dir + "/journal", withIntermediateDirectories: true)
    // A few codes first, not counted: the first SM2 verification sets OpenSSL up.
    let warmup = max(5, min(50, count / 20))
    let now = nowSeconds()
    let made = try benchCodes(issuerAlg, userAlg, count: warmup + count, now: now, issuer: .alipay)
    try Data(try jsonBytes(made.keys)).write(to: URL(fileURLWithPath: dir + "/keys.json"))
    do {
        try SQLiteCentralStore.create(at: dir + "/central.sqlite").insertCards(
            made.accounts.compactMap { a in
                CardKey(rideCodeIssuer: .alipay, account: a).map {
                    CentralCardRecord(
                        key: $0, cardType: .normal, identityHash: [UInt8](repeating: 1, count: 32), health: .green)
                }
            }, wallMillis: now * 1000)
    } catch { throw CLIError.failed("bench central: \(error)") }
    let scanner = try ScannerPTY(link: dir + "/scanner", terminator: .crlf)
    defer { scanner.unplug() }
    // max_age 3600: the codes are made before the run; freshness is checked the same either way.
    try """
    {"gate_id": "RC-BENCH", "journal_dir": "journal", "control_socket": "gate.sock",
     "central": {"sqlite": "central.sqlite"}, "sync": {"interval_seconds": 3600},
     "readers": {"backend": "simulated", "count": 1}, "log_level": "info",
     "ride_codes": {"issuer_keys": "keys.json", "max_age_seconds": 3600, "scanners": [
       {"backend": "serial", "device": "scanner", "baud": 115200, "terminator": "crlf", "max_length": 1024}]}}
    """.write(toFile: dir + "/gate.json", atomically: true, encoding: .utf8)
    let socket = dir + "/gate.sock"

    let gate = Process()
    gate.executableURL = URL(fileURLWithPath: faregated)
    gate.arguments = ["--config", dir + "/gate.json"]
    _ = FileManager.default.createFile(atPath: dir + "/faregated.log", contents: nil)
    gate.standardError = FileHandle(forWritingAtPath: dir + "/faregated.log")
    gate.standardOutput = FileHandle.nullDevice
    try gate.run()
    defer {
        if gate.isRunning {
            kill(gate.processIdentifier, SIGKILL)
            gate.waitUntilExit()
        }
    }
    func metrics() -> String? {
        guard case .metrics(let text)? = try? ControlClient.send(.metrics, to: socket) else { return nil }
        return text
    }
    // Ready when the table is in service.
    let ready = poll(seconds: 60) {
        guard let m = metrics() else { return false }
        return sample(m, "faregate_table_cards").map { $0 > 0 } ?? false
    }
    guard ready else { throw CLIError.failed("the bench gate did not start: see \(dir)/faregated.log") }

    for text in made.texts {
        try scanner.send(line: Array(text.utf8))
        usleep(useconds_t(intervalMillis * 1000))
    }
    let journalPath = dir + "/journal/journal.log"
    func records() -> [JournalEntry] {
        guard let data = FileManager.default.contents(atPath: journalPath) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap {
            try? JournalCodec.decode($0)
        }
    }
    guard poll(seconds: 60, { records().count >= made.texts.count }) else {
        throw CLIError.failed("the bench gate journalled \(records().count) of \(made.texts.count) scans")
    }
    let text = metrics() ?? ""
    kill(gate.processIdentifier, SIGTERM)
    gate.waitUntilExit()

    let measured = records().filter { $0.sequence > UInt64(warmup) }
    let decided = measured.map { e -> UInt64 in
        let t = e.timings
        return UInt64(t.read) + UInt64(t.queue) + UInt64(t.lookup) + UInt64(t.decide)
    }.sorted()
    func quantile(_ xs: [UInt64], _ p: Double) -> Double {
        xs.isEmpty ? 0 : Double(xs[max(0, min(xs.count - 1, Int((Double(xs.count) * p).rounded(.up)) - 1))])
    }
    func q(_ p: Double) -> Double { quantile(decided, p) }
    let n = Double(max(1, measured.count))
    return RideCodePTYBenchRow(
        issuerAlg: issuerAlg.name, userAlg: userAlg.name, codes: measured.count,
        accepted: measured.filter { if case .open = $0.decision { true } else { false } }.count,
        decidedP50Micros: q(0.5), decidedP99Micros: q(0.99), decidedMaxMicros: Double(decided.last ?? 0),
        verifyMeanMicros: Double(measured.reduce(0) { $0 + UInt64($1.timings.read) }) / n,
        verifyP99Micros: quantile(measured.map { UInt64($0.timings.read) }.sorted(), 0.99),
        queueP99Micros: quantile(measured.map { UInt64($0.timings.queue) }.sorted(), 0.99),
        decisionThreadMeanMicros: Double(
            measured.reduce(0) { $0 + UInt64($1.timings.queue) + UInt64($1.timings.lookup) + UInt64($1.timings.decide) }
        ) / n,
        metricDecidedP99Micros: (sample(text, "faregate_scan_decided_seconds", quantile: "0.99") ?? 0) * 1e6,
        metricCommandedP99Micros: (sample(text, "faregate_tap_latency_seconds", quantile: "0.99") ?? 0) * 1e6)
}

/// The value of metric `name`'s sample (with `quantile` when given) in a Prometheus text.
private func sample(_ text: String, _ name: String, quantile: String? = nil) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(name + "{") {
        if let quantile, !line.contains("quantile=\"\(quantile)\"") { continue }
        guard let space = line.lastIndex(of: " ") else { continue }
        return Double(line[line.index(after: space)...])
    }
    return nil
}

/// Calls `done` every 50 ms until it is true (true) or `seconds` pass (false).
private func poll(seconds: Double, _ done: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if done() { return true }
        usleep(50_000)
    }
    return done()
}

/// The `faregated` next to this `farectl` (`/proc/self/exe`'s directory).
func siblingFaregated() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard n > 0 else { return "faregated" }
    let exe = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("faregated").path
}
