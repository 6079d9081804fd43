import FaregateCore
import FaregateRuntime
import FaregateSQLite
import FaregateSodium
import Foundation

/// Peak resident memory of this process (VmHWM), in bytes.
func peakResidentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
        let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    else { return 0 }
    return kb * 1024
}

let snapshotBenchCommands: [Command] = [
    Command(
        ["central", "bench-snapshot"],
        usage: "central bench-snapshot --db FILE [--cards N] [--json]",
        "a signed snapshot of N cards (default 30 million): publish into the store, then fetch, verify, decode and build the gate's table"
    ) { args in
        let json = args.flag("--json")
        guard let db = try args.value("--db") else { throw CLIError("--db FILE (a scratch store) is required") }
        let n = try args.int("--cards", default: 30_000_000, in: 1...100_000_000)
        try args.finish()
        // The cards come from memory, not from an import (importing 30 million cards into the
        // store is its own benchmark, `bench-changes`): this measures the snapshot path itself.
        let store = try SQLiteCentralStore.create(at: db)
        let keys = try Ed25519KeyPair()
        let sha = SodiumSHA256()
        var t = Stopwatch()
        var cards: [(CardKey, CardStatus)] = []
        cards.reserveCapacity(n)
        var x: UInt64 = 0x2545_F491_4F6C_DD1D
        for i in 0..<n {
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            let status = CardStatus(
                health: HealthStatus(rawValue: UInt8(x & 3)) ?? .green, binding: x & 4 == 0 ? .bound : .unbound)
            cards.append((CardKey(rawValue: 1_000_000_000_000_000_000 + UInt64(i) * 7), status))
        }
        let generate = t.lap()
        let body = SyncPublisher.deltaFormatSnapshot(cards, 1)
        cards = []
        let encode = t.lap()
        let benchScope = try SyncScope(network: "bench", environment: "bench")
        let publication = SignedPublication(
            kind: .snapshot, from: 0, to: 1, body: body, scope: benchScope, signer: keys, digest: sha)
        let sign = t.lap()
        try store.storePublication(publication)
        let storeSeconds = t.lap()

        // The gate's side: fetch, verify against the pinned key, decode, build the table.
        let gateStore = try SQLiteCentralStore(path: db)
        guard let fetched = try gateStore.latestSnapshot() else { throw CLIError.failed("no snapshot stored") }
        let fetch = t.lap()
        let verifier = try SyncVerifier(pinnedPublicKey: keys.publicKey, scope: benchScope)
        let manifest = try verifier.verify(
            envelope: fetched.envelope, body: fetched.body, versionInService: nil, expecting: .snapshot)
        let verify = t.lap()
        let decoded = try DeltaBody(decoding: fetched.body, verifiedBy: manifest)
        let decode = t.lap()
        var pairs: [(CardKey, CardStatus)] = []
        pairs.reserveCapacity(decoded.entries.count)
        for e in decoded.entries { if case .upsert(let s) = e.operation { pairs.append((e.key, s)) } }
        let table = CompactStatusTable(dataVersion: manifest.toVersion, pairs: pairs)
        let build = t.lap()
        let local = db + ".table.snapshot"
        try SnapshotFile.write(table, to: local)
        let writeLocal = t.lap()
        let loaded = try SnapshotFile.load(local)
        let loadLocal = t.lap()
        let localBytes = (try? FileManager.default.attributesOfItem(atPath: local)[.size] as? Int) ?? 0
        try? FileManager.default.removeItem(atPath: local)

        struct Result: Encodable {
            var cards: Int, body_bytes: Int, body_bytes_per_card: Double
            var generate_s: Double, encode_s: Double, sign_s: Double, store_s: Double
            var fetch_s: Double, verify_s: Double, decode_s: Double, build_table_s: Double
            var publish_total_s: Double, download_apply_total_s: Double
            var local_snapshot_bytes_per_card: Double, local_snapshot_write_s: Double, local_snapshot_load_s: Double
            var peak_rss_bytes: Int
        }
        let r = Result(
            cards: loaded.count, body_bytes: body.count, body_bytes_per_card: Double(body.count) / Double(n),
            generate_s: generate, encode_s: encode, sign_s: sign, store_s: storeSeconds, fetch_s: fetch,
            verify_s: verify,
            decode_s: decode, build_table_s: build, publish_total_s: encode + sign + storeSeconds,
            download_apply_total_s: fetch + verify + decode + build,
            local_snapshot_bytes_per_card: Double(localBytes) / Double(n), local_snapshot_write_s: writeLocal,
            local_snapshot_load_s: loadLocal, peak_rss_bytes: peakResidentBytes())
        try report(r, json: json) {
            """
            signed snapshot of \(n) cards: \(body.count) bytes (\(String(format: "%.2f", r.body_bytes_per_card)) B/card)
              publish:        encode \(fmt(encode)) s, sign (SHA-256 + Ed25519) \(fmt(sign)) s, store \(fmt(storeSeconds)) s = \(fmt(r.publish_total_s)) s
              download+apply: fetch \(fmt(fetch)) s, verify \(fmt(verify)) s, decode \(fmt(decode)) s, build table \(fmt(build)) s = \(fmt(r.download_apply_total_s)) s
              local snapshot: \(String(format: "%.2f", r.local_snapshot_bytes_per_card)) B/card, write \(fmt(writeLocal)) s, mmap load \(fmt(loadLocal)) s
              peak RSS \(r.peak_rss_bytes / 1_048_576) MiB
            """
        }
        return 0
    }
]
