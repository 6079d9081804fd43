import FaregateCore
import FaregateSodium
import Foundation

// Benchmarks of the central side (run by scripts/bench-central; results in BENCHMARKS.md).
// They write to the store they are given: point them at a scratch database or file.

let centralBenchCommands: [Command] = [
    Command(
        ["central", "bench-changes"],
        usage: "central bench-changes (--db FILE | --pg CONN) [--cards N] [--per-identity K] [--json]",
        "import N cards, change every identity's health, publish, then delta→sign→verify→apply end to end"
    ) { args in
        let json = args.flag("--json")
        let backend = try CentralBackend(&args)
        let n = try args.int("--cards", default: 100_000, in: 1...50_000_000)
        let perIdentity = try args.int("--per-identity", default: 2, in: 1...1000)
        try args.finish()
        let store = try backend.migrate()
        let base = try store.dataVersion()
        let keys = try Ed25519KeyPair()
        let sha = SodiumSHA256()
        func hash(_ i: Int) -> [UInt8] { sha.sha256(Array("bench-identity-\(i)".utf8)) }
        let salt = UInt64(nowMillis() % 1_000_000) * 10_000_000  // distinct keys per run on a shared store
        let records = (0..<n).lazy.map { i in
            CentralCardRecord(
                key: CardKey(rawValue: 1_000_000_000_000_000_000 + salt + UInt64(i)), cardType: .normal,
                identityHash: hash(i / perIdentity), health: .green)
        }
        var t = Stopwatch()
        try store.insertCards(records, wallMillis: nowMillis())
        let importSeconds = t.lap()
        let initial = try store.publish(wallMillis: nowMillis())
        let firstPublishSeconds = t.lap()
        let identities = (n + perIdentity - 1) / perIdentity
        var changed = 0
        for i in 0..<identities {
            changed += try store.setHealth(identityHash: hash(i), to: .red, wallMillis: nowMillis())
        }
        let writeSeconds = t.lap()
        let published = try store.publish(wallMillis: nowMillis())
        let publishSeconds = t.lap()
        let benchScope = try SyncScope(network: "bench", environment: "bench")
        guard
            let delta = try SyncPublisher.delta(
                from: store, after: initial.version, maxChanges: Int.max, scope: benchScope, signer: keys,
                digest: sha)
        else { throw CLIError.failed("no delta after version \(initial.version)") }
        let fetchSignSeconds = t.lap()
        let verifier = try SyncVerifier(pinnedPublicKey: keys.publicKey, scope: benchScope)
        let m = try verifier.verify(envelope: delta.envelope, body: delta.body, versionInService: initial.version)
        var table: [CardKey: CardStatus] = [:]
        table.reserveCapacity(n)
        try DeltaBody(decoding: delta.body, verifiedBy: m).apply(to: &table)
        let verifyApplySeconds = t.lap()
        let r = ChangesBench(
            backend: backend.name, cards: n, identities: identities, changedCards: changed, baseVersion: base,
            importSeconds: importSeconds, firstPublishSeconds: firstPublishSeconds, healthWriteSeconds: writeSeconds,
            publishSeconds: publishSeconds, publishedCards: published.cards,
            deltaFetchSignSeconds: fetchSignSeconds, deltaBytes: delta.body.count,
            deltaVerifyApplySeconds: verifyApplySeconds, appliedCards: table.count)
        try report(r, json: json) {
            """
            \(backend.name): \(n) cards, \(identities) identities
              import                   \(fmt(importSeconds)) s
              publish (import)         \(fmt(firstPublishSeconds)) s  (\(initial.cards) cards)
              health writes            \(fmt(writeSeconds)) s  (\(changed) cards)
              publish (changes)        \(fmt(publishSeconds)) s  (\(published.cards) cards)
              delta fetch + sign       \(fmt(fetchSignSeconds)) s  (\(delta.body.count) bytes)
              delta verify + apply     \(fmt(verifyApplySeconds)) s  (\(table.count) cards)
            """
        }
        return 0
    },
    Command(
        ["central", "bench-poll"],
        usage: "central bench-poll --pg CONN [--pollers N] [--seconds S] [--interval-ms MS] [--json]",
        "N gates poll changes(after:) against one PostgreSQL while a writer publishes; poll latency quantiles"
    ) { args in
        let json = args.flag("--json")
        let backend = try CentralBackend(&args)
        let pollers = try args.int("--pollers", default: 200, in: 1...1000)
        let seconds = try args.int("--seconds", default: 20, in: 1...3600)
        // 0: every gate polls back to back (saturation); otherwise each sleeps MS ± 50% between polls.
        let intervalMs = try args.int("--interval-ms", default: 0, in: 0...600_000)
        try args.finish()
        let setup = try backend.migrate()
        let salt = UInt64(nowMillis() % 1_000_000) * 10_000_000
        let cardKeys = (0..<1000).map { CardKey(rawValue: 1_000_000_000_000_000_000 + salt + UInt64($0)) }
        @Sendable func hash(_ i: Int) -> [UInt8] { SodiumSHA256().sha256(Array("poll-identity-\(salt)-\(i)".utf8)) }
        try setup.insertCards(
            cardKeys.enumerated().map {
                CentralCardRecord(key: $1, cardType: .normal, identityHash: hash($0), health: .green)
            },
            wallMillis: nowMillis())
        try setup.publish(wallMillis: nowMillis())
        let start = try setup.dataVersion()

        let results = BenchResults()
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds) * 1_000_000_000
        let group = DispatchGroup()
        let colours: [HealthStatus] = [.green, .yellow, .red]
        // Writer: one health change + publish at a time, as fast as the server allows.
        group.enter()
        Thread {
            defer { group.leave() }
            do {
                let store = try backend.open()
                var i = 0
                while DispatchTime.now().uptimeNanoseconds < deadline {
                    try store.setHealth(
                        identityHash: hash(i % cardKeys.count), to: colours[i % 3], wallMillis: nowMillis())
                    try store.publish(wallMillis: nowMillis())
                    i += 1
                }
                results.publications(i)
            } catch { results.fail("writer: \(error)") }
        }.start()
        for p in 0..<pollers {
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    let store = try backend.open()
                    var version = start
                    var h = LatencyHistogram()
                    var rows = 0
                    while DispatchTime.now().uptimeNanoseconds < deadline {
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        guard let set = try store.changes(after: version, maxChanges: 100_000) else {
                            throw CLIError.failed("poller too far behind")
                        }
                        h.record(DispatchTime.now().uptimeNanoseconds - t0)
                        rows += set.changes.count
                        version = set.toVersion
                        try store.recordSync(gate: "bench-\(p)", dataVersion: version, wallMillis: nowMillis())
                        if intervalMs > 0 {
                            usleep(useconds_t(intervalMs * 1000 / 2 + Int.random(in: 0...(intervalMs * 1000))))
                        }
                    }
                    results.add(h, rows: rows)
                } catch { results.fail("poller \(p): \(error)") }
            }.start()
        }
        group.wait()
        let (h, rows, pubs, failures) = results.snapshot()
        for f in failures.prefix(5) { warn(f) }
        let r = PollBench(
            pollers: pollers, seconds: seconds, intervalMillis: intervalMs, polls: Int(h.total), changeRows: rows,
            publications: pubs,
            p50Millis: Double(h.quantile(0.5)) / 1e6, p99Millis: Double(h.quantile(0.99)) / 1e6,
            maxMillis: Double(h.max) / 1e6, failures: failures.count)
        try report(r, json: json) {
            "\(pollers) pollers, \(seconds) s, interval \(intervalMs) ms: \(r.polls) polls (\(r.changeRows) change rows), \(pubs) publications; "
                + "poll latency p50 \(fmt(r.p50Millis)) ms, p99 \(fmt(r.p99Millis)) ms, max \(fmt(r.maxMillis)) ms; \(failures.count) failure(s)"
        }
        return failures.isEmpty ? 0 : 1
    },
]

struct ChangesBench: Encodable {
    var backend: String
    var cards: Int
    var identities: Int
    var changedCards: Int
    var baseVersion: UInt64
    var importSeconds: Double
    var firstPublishSeconds: Double
    var healthWriteSeconds: Double
    var publishSeconds: Double
    var publishedCards: Int
    var deltaFetchSignSeconds: Double
    var deltaBytes: Int
    var deltaVerifyApplySeconds: Double
    var appliedCards: Int
}

struct PollBench: Encodable {
    var pollers: Int
    var seconds: Int
    var intervalMillis: Int
    var polls: Int
    var changeRows: Int
    var publications: Int
    var p50Millis: Double
    var p99Millis: Double
    var maxMillis: Double
    var failures: Int
}

struct Stopwatch {
    var last = DispatchTime.now().uptimeNanoseconds
    mutating func lap() -> Double {
        let now = DispatchTime.now().uptimeNanoseconds
        defer { last = now }
        return Double(now - last) / 1e9
    }
}

func fmt(_ x: Double) -> String { String(format: "%.3f", x) }

/// Results of the poll benchmark's threads. Safe: every field is touched only under `lock`.
final class BenchResults: @unchecked Sendable {
    private let lock = NSLock()
    private var histogram = LatencyHistogram()
    private var rows = 0
    private var pubs = 0
    private var failures: [String] = []
    func add(_ h: LatencyHistogram, rows r: Int) {
        lock.withLock {
            histogram.merge(h)
            rows += r
        }
    }
    func publications(_ n: Int) { lock.withLock { pubs = n } }
    func fail(_ s: String) { lock.withLock { failures.append(s) } }
    func snapshot() -> (LatencyHistogram, Int, Int, [String]) { lock.withLock { (histogram, rows, pubs, failures) } }
}
