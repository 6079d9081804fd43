import FaregateCore
import FaregateRuntime
import FaregateSimulation
import FaregateSodium
import Foundation

/// The fuzz seed corpus, made from files the project itself writes: journal lines and a journal
/// written by `FileJournal`, `acked` files, a snapshot written by `SnapshotFile`, delta bodies
/// and sealed manifests encoded by the core, the APDU responses of the `seeds/cards` profiles,
/// the `seeds/policies` files, gate configurations and control requests as `farectl` sends them.
enum FuzzSeeds {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Replaces `corpus/<target>/` for every target.
    static func write(to corpus: URL) throws {
        let fm = FileManager.default
        for (target, files) in try seeds() {
            let dir = corpus.appendingPathComponent(target)
            try? fm.removeItem(at: dir)
            try fm.createDirectory(at: dir, withIntermediateDirectories: true)
            for (name, bytes) in files { try Data(bytes).write(to: dir.appendingPathComponent(name)) }
        }
    }

    static func seeds() throws -> [String: [(String, [UInt8])]] {
        let journal = try journalFile()
        let lines = journal.split(separator: UInt8(ascii: "\n")).map(Array.init)
        let chained = try journalFile(keyed: true)
        let chainedLines = chained.split(separator: UInt8(ascii: "\n")).map(Array.init)
        return [
            "card": try cardResponses(),
            // A mode byte first (see the journal targets): 0 = the harness seals each line, 1 = raw.
            // 2 = sealed as J2 with the fuzz key, 3 = a J2 line raw (issue 16.5).
            "journal-line": lines.enumerated().map { ("line-\($0)", [UInt8($0 % 2)] + $1) }
                + chainedLines.prefix(4).enumerated().map { ("j2-line-\($0)", [UInt8(2 + $0 % 2)] + $1) },
            // The holes line first, then the lines of a signed batch (raw J2 lines, a hole at 3).
            "journal-batch": [
                (
                    "batch",
                    [3] + Array("3-3\n".utf8)
                        + chainedLines.enumerated().filter { $0.offset != 2 }
                        .flatMap { $0.element + [UInt8(ascii: "\n")] }
                ),
                (
                    "batch-no-holes",
                    [3] + Array("\n".utf8) + chainedLines.prefix(3).flatMap { $0 + [UInt8(ascii: "\n")] }
                ),
            ],
            "journal-recovery": [
                ("journal.log", [0] + journal), ("torn-tail.log", [1] + journal.dropLast(40)),
                ("damaged-middle.log", [1] + damaged(journal)),
                // Sequences near the ceiling: one mutation from the overflow issue 13 found by reading.
                ("near-ceiling.log", [0] + nearCeiling()),
                // A J2 journal as the daemon writes it with the fuzz key (the harness opens it keyed).
                ("chained.log", [1] + chained),
            ],
            "acked": [("acked", AckedFile.encode(1234)), ("acked-old-format", Array("77\n".utf8))],
            "high-water": [
                (
                    "high-water",
                    HighWaterFile.encodeSlot(generation: 3, sequence: 1234)
                        + HighWaterFile.encodeSlot(generation: 2, sequence: 1200)
                ),
                (
                    "one-slot-torn",
                    [UInt8](repeating: 0, count: 64) + HighWaterFile.encodeSlot(generation: 5, sequence: 9)
                ),
            ],
            "snapshot": [("table.snapshot", try snapshot())],
            "delta": deltas().enumerated().map { ("delta-\($0)", $1.encoded()) },
            "manifest": try manifests(),
            "issuer-key-document": try issuerKeyDocuments(),
            "key-set": try keySets(),
            "policy": try policies(),
            "config": configs(),
            "control": controlRequests(),
            "tap-script": [("taps.txt", Array(tapScript.utf8))],
            "io-board-map": try shippedMaps().map { ($0.name, $0.bytes) },
            "io-board-replies": try boardReplies(),
            "replay-cache": replayCaches(),
                // ride-code and issuer-keys are not rewritten here: their seeds were made once by
                // `farectl ride-code issuer-keygen / issue / show` with the keys the target verifies
                // against (`RideCodeFuzzKeys`); new random keys would no longer verify.
        ]
    }

    /// The register maps shipped in `hardware/`.
    static func shippedMaps() throws -> [(name: String, bytes: [UInt8])] {
        try ["modbus-8in8out.json", "modbus-lane-16in.json"].map { name in
            (name, [UInt8](try Data(contentsOf: repository.appendingPathComponent("hardware/" + name))))
        }
    }

    /// Board replies as the io-board-replies target takes them (see its format): for each shipped
    /// map, a connect, the discrete-input bits the board shows (`inputBits(for:)`, as the emulator
    /// does) while an adult walks through and a child follows, failures of every kind until the
    /// lane goes out of service, a failed reconnect, a reconnect read with someone in the passage,
    /// then clear.
    static func boardReplies() throws -> [(String, [UInt8])] {
        try shippedMaps().enumerated().map { index, file in
            let map = try IOBoardMap.parse(file.bytes)
            let span = map.inputSpan
            func read(_ levels: IOBoardLevels, afterMillis ms: UInt8 = 5) -> [UInt8] {
                var reply = [UInt8](repeating: 0, count: (span.count + 7) / 8)
                for b in map.inputBits(for: levels) where b.value {
                    let n = Int(b.address - span.lowerBound)
                    reply[n / 8] |= 1 << (n % 8)
                }
                return [ms << 3 | 7] + reply
            }
            var levels = IOBoardLevels()
            var out: [UInt8] = [UInt8(index) | 2 << 1, 6]
            out += read(levels)
            for zone in [SensorZone.unpaidDetection, .unpaidMonitoring, .buffer, .paidMonitoring, .paidDetection] {
                levels.zones[zone] = .adult
                out += read(levels)
                levels.zones[zone] = .child
                out += read(levels)
                levels.zones[zone] = .clear
                out += read(levels)
            }
            levels.fireAlarm = true
            out += read(levels)
            levels.fireAlarm = false
            levels.powerFailure = true
            out += read(levels)
            levels.powerFailure = false
            out += read(levels)
            out += [0 | 10 << 3, 1 | 10 << 3, 2 | 10 << 3, 3, 4, 5 | 31 << 3, 6]
            levels.zones[.buffer] = .adult
            out += read(levels)
            levels.zones[.buffer] = .clear
            out += read(levels)
            return ("walk-lose-return-\(file.name)", out)
        }
    }

    /// A replay cache as the gate saves it (`serialized()`), after accepting codes of several
    /// accounts, one of them again with a higher counter; and operations on an empty cache.
    static func replayCaches() -> [(String, [UInt8])] {
        var cache = RideCodeReplayCache(capacity: 64)
        let freshness = RideCodeFreshness()
        for (i, account) in [UInt64(42), 123_456_789, 42, 7].enumerated() {
            let code = RideCodeEvidence(
                issuerNumber: 1, issuerKeyID: 7, account: account, certificateHash: [], generatedAt: 1_767_300_000,
                counter: UInt32(i + 1), flags: 0, userSignature: [])
            cache.record(code, now: 1_767_300_000 + Int64(i), freshness: freshness)
        }
        // Operations: account (2 bytes), counter, generated_at offset, seconds (× 7), check/record.
        let ops: [UInt8] =
            [1] + [42, 0, 1, 0, 0, 1] + [42, 0, 1, 0, 1, 0] + [42, 0, 2, 3, 1, 1] + [7, 1, 1, 0, 20, 1]
        return [("saved", [0] + cache.serialized()), ("operations", ops)]
    }

    /// A journal as the gate writes it: decisions, a failed read, an aborted read, a refused
    /// tap, shadow decisions, staff commands, taps at a closed and at a held-open gate.
    /// `keyed`: J2 lines, with the fuzz targets' fixed key (seed of 32 sevens).
    static func journalFile(keyed: Bool = false) throws -> [UInt8] {
        let dir = NSTemporaryDirectory() + "faregate-seeds-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let keying = JournalKeying(
            generate: { try GateJournalKey(seed: Array(repeating: 7, count: 32)).secretKeyBytes },
            open: { try GateJournalKey(secretKey: $0) })
        let journal = try FileJournal(directory: dir, fsync: false, keying: keyed ? keying : nil)
        let key = CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001) ?? CardKey(rawValue: 1)
        let entries: [(JournalEntry.Kind, Decision, Int32?, Decision?)] = [
            (.decision, .open(.ok), 1250, nil), (.decision, .deny(.blacklisted), 80, nil),
            (.readFailed, .deny(.readError), nil, nil), (.aborted, .deny(.cardRemoved), nil, nil),
            (.rejected, .deny(.tapAgain), nil, nil), (.decision, .open(.ok), 300, .deny(.healthRed)),
            (.staffCommand, .staff(.staffCommand), nil, nil), (.decision, .deny(.stationClosed), 300, nil),
            (.staffCommand, .staff(.staffCommand), nil, nil), (.decision, .open(.emergencyOpen), 300, nil),
        ]
        let commands: [Int: StaffCommand] = [6: .setMode(.closed), 8: .setMode(.emergencyOpen)]
        try journal.append(
            entries.enumerated().map { i, e in
                JournalEntry(
                    sequence: UInt64(i + 1), wallMillis: 1_654_041_600_000 + Int64(i) * 1500, reader: UInt16(i % 2),
                    key: e.0 == .rejected || e.0 == .staffCommand ? CardKey(rawValue: 0) : key, kind: e.0,
                    decision: e.1, balanceFen: e.2, dataVersion: 17,
                    timings: e.0 == .staffCommand
                        ? StageTimings() : StageTimings(select: 900, read: 21_000, queue: 4, lookup: 1, decide: 2),
                    shadowDecision: e.3, command: commands[i])
            })
        // Passages on ride codes (issue 17.6): a Beijing issuer's, and another city's marked for
        // clearing with a shadow decision before its evidence group; then a refused code.
        let codes: [(RideCodeIssuer, Decision?)] = [(.alipay, nil), (.shanghai, .deny(.healthRed))]
        var rideCodeEntries: [JournalEntry] = codes.enumerated().map { i, c in
            let evidence = RideCodeEvidence(
                issuerNumber: c.0.rawValue, issuerKeyID: 7, account: 4242, certificateHash: (0..<32).map { UInt8($0) },
                generatedAt: 1_654_041_590, counter: UInt32(i + 1), flags: UInt8(i),
                userSignature: (0..<64).map { UInt8(200 - $0) })
            return JournalEntry(
                sequence: UInt64(entries.count + i + 1), wallMillis: 1_654_041_620_000, reader: 2,
                key: evidence.cardKey, kind: .decision, decision: .open(.ok), balanceFen: nil, dataVersion: 17,
                timings: StageTimings(read: 1800, queue: 3, lookup: 1, decide: 2), shadowDecision: c.1,
                rideCode: evidence)
        }
        rideCodeEntries.append(
            JournalEntry(
                sequence: UInt64(entries.count + 3), wallMillis: 1_654_041_621_000, reader: 2,
                key: CardKey(rideCodeIssuer: .alipay, account: 4242) ?? CardKey(rawValue: 0), kind: .decision,
                decision: .deny(.rideCodeReused), balanceFen: nil, dataVersion: 17, timings: StageTimings()))
        try journal.append(rideCodeEntries)
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: journal.path)))
    }

    /// Two entries just under `JournalEntry.maxSequence`.
    static func nearCeiling() -> [UInt8] {
        let lines = [JournalEntry.maxSequence - 1, JournalEntry.maxSequence].map { seq in
            JournalCodec.encode(
                JournalEntry(
                    sequence: seq, wallMillis: 1_654_041_600_000, reader: 0, key: CardKey(rawValue: 42),
                    kind: .decision, decision: .open(.ok), balanceFen: 100, dataVersion: 1, timings: StageTimings()))
        }
        return Array(lines.map { $0 + "\n" }.joined().utf8)
    }

    /// The journal with one byte of its second line flipped (damage in the middle).
    static func damaged(_ journal: [UInt8]) -> [UInt8] {
        var bytes = journal
        if let nl = bytes.firstIndex(of: UInt8(ascii: "\n")), nl + 10 < bytes.count { bytes[nl + 10] ^= 0x01 }
        return bytes
    }

    /// Each card profile's responses to the gate's read, one length-prefixed chunk per response
    /// (the `card` target's input format).
    static func cardResponses() throws -> [(String, [UInt8])] {
        let dir = repository.appendingPathComponent("seeds/cards")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }
        return try names.sorted().map { name in
            let (_, compiled) = try CardProfile.load(path: dir.appendingPathComponent(name).path)
            var card = SimulatedSmartCard(card: compiled)
            let report = CardApplicationReader(recordExchanges: true).read {
                (command: CommandAPDU) throws(CardIOError) -> ResponseAPDU in try card.transmit(command)
            }
            var input: [UInt8] = []
            for exchange in report.exchanges {
                guard let r = exchange.response?.bytes, r.count < 0xFF else { continue }
                input.append(UInt8(r.count))
                input += r
            }
            return (String(name.dropLast(5)), input)
        }
    }

    static func snapshot() throws -> [UInt8] {
        let entries = Dictionary(
            uniqueKeysWithValues: (0..<24).map {
                (CardKey(rawValue: 1_000_751_000_000_000_000 + $0 * 7919), CardStatus(rawValue: UInt8($0 % 40)))
            })
        let path = NSTemporaryDirectory() + "faregate-seed-\(UUID().uuidString).snapshot"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SnapshotFile.write(CompactStatusTable(dataVersion: 41, entries: entries), to: path)
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func deltas() -> [DeltaBody] {
        let keys = (0..<6).map { CardKey(rawValue: 1_000_751_000_000_000_000 + UInt64($0) * 31) }
        return [
            DeltaBody(
                fromVersion: 41, toVersion: 42,
                entries: keys.enumerated().map { i, k in
                    .init(key: k, operation: i % 3 == 2 ? .remove : .upsert(CardStatus(rawValue: UInt8(i))))
                }),
            DeltaBody(
                fromVersion: 0, toVersion: 41,
                entries: keys.map { .init(key: $0, operation: .upsert(.init(rawValue: 1))) }),
        ]
    }

    /// Sealed manifests with their bodies, hashed with the target's stand-in digest so that
    /// verification passes and the checks after it are reached.
    static func manifests() throws -> [(String, [UInt8])] {
        let scope = try SyncScope.production
        struct ZeroSigner: ManifestSigner {
            func signature(of message: [UInt8]) -> [UInt8] { [UInt8](repeating: 0x5A, count: 64) }
        }
        return deltas().enumerated().map { i, body in
            let bytes = body.encoded()
            let digest = Array(bytes.prefix(32)) + [UInt8](repeating: 0, count: max(0, 32 - bytes.count))
            let m = SyncManifest(
                kind: body.fromVersion == 0 ? .snapshot : .delta, fromVersion: body.fromVersion,
                toVersion: body.toVersion, bodySize: UInt64(bytes.count), bodySHA256: digest, scope: scope)
            return ("sealed-\(i)", m.sealed(by: ZeroSigner()) + bytes)
        }
    }

    /// Sealed issuer-key documents (both algorithms, a revoked key, and none), signed by a
    /// stand-in the target's accepting verifier takes.
    static func issuerKeyDocuments() throws -> [(String, [UInt8])] {
        struct ZeroSigner: ManifestSigner {
            func signature(of message: [UInt8]) -> [UInt8] { [UInt8](repeating: 0x5A, count: 64) }
        }
        let keys = [
            RideCodeIssuerKey(
                issuer: .alipay, keyID: 7, algorithm: .ed25519, publicKey: [UInt8](repeating: 0x11, count: 32),
                validFrom: 1_767_225_600, validUntil: 1_798_761_600),
            RideCodeIssuerKey(
                issuer: .shanghai, keyID: 2, algorithm: .sm2,
                publicKey: [0x04] + [UInt8](repeating: 0x22, count: 64), validFrom: 1_767_225_600,
                validUntil: 1_798_761_600, revoked: true),
        ]
        return try [keys, []].enumerated().map { i, list in
            let d = IssuerKeyDocument(
                scope: try .production, version: UInt64(i + 1), issuedAtMillis: 1_780_000_000_000,
                expiresAtMillis: 1_780_604_800_000, keys: try RideCodeIssuerKeyList(list))
            return ("sealed-\(i)", d.sealed(by: ZeroSigner()))
        }
    }

    /// Sealed key sets (one key; rotated with the first key revoked; an epoch reset), with a
    /// stand-in root signature (the target's root check accepts everything).
    static func keySets() throws -> [(String, [UInt8])] {
        struct ZeroSigner: ManifestSigner {
            func signature(of message: [UInt8]) -> [UInt8] { [UInt8](repeating: 0x5A, count: 64) }
        }
        let scope = try SyncScope.production
        let a = PublicationKeySet.Key(
            keyID: 0x0403_0201, publicKey: Array(1...32), validFromMillis: 1_700_000_000_000,
            validUntilMillis: 1_800_000_000_000)
        let b = PublicationKeySet.Key(
            keyID: 0x6867_6665, publicKey: Array(101...132), validFromMillis: 1_700_000_000_000,
            validUntilMillis: 1_900_000_000_000)
        return [
            ("one-key", PublicationKeySet(scope: scope, version: 1, keys: [a]).sealed(by: ZeroSigner())),
            (
                "rotated-revoked",
                PublicationKeySet(scope: scope, version: 3, keys: [b], revoked: [a.keyID]).sealed(by: ZeroSigner())
            ),
            (
                "epoch-reset",
                PublicationKeySet(scope: scope, version: 5, epoch: 1, epochFloor: 41, keys: [b], revoked: [a.keyID])
                    .sealed(by: ZeroSigner())
            ),
        ]
    }

    static func policies() throws -> [(String, [UInt8])] {
        let dir = repository.appendingPathComponent("seeds/policies")
        return try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted().map {
            ($0, [UInt8](try Data(contentsOf: dir.appendingPathComponent($0))))
        }
    }

    /// The README's configurations: a production gate, and a bench gate with inline rules.
    static func configs() -> [(String, [UInt8])] {
        [
            (
                "gate.json",
                Array(
                    """
                    {"gate_id": "BJ-L1-XIDAN-E01", "station": "xidan", "line": "1", "journal_dir": "/var/lib/faregate/journal",
                     "journal_fsync": true, "journal_rotate_mib": 64, "ring_capacity": 1024, "utc_offset_hours": 8,
                     "control_socket": "/run/faregate/faregated.sock", "metrics_file": "/var/lib/node_exporter/textfile/faregate.prom",
                     "central": {"postgres": "host=db1,db2 port=5432 dbname=faregate user=fg_gate_xidan_e01 sslmode=verify-full sslrootcert=/etc/faregate/central-ca.crt options='-c search_path=faregate'", "public_key": "/etc/faregate/central.pub", "network": "metro", "environment": "production"},
                     "sync": {"interval_seconds": 60, "jitter_seconds": 10, "max_backoff_seconds": 600, "upload_batch": 5000},
                     "readers": {"backend": "pcsc", "names": ["ACR122"], "busy_budget_ms": 150},
                     "barrier": {"directions": "bidirectional", "enforcement": "enforced", "reader_ends": ["unpaid", "paid"]},
                     "access": {"anti_passback_seconds": 120}, "policy_dir": "/usr/share/faregate/policies", "era": null}
                    """.utf8)
            ),
            (
                "bench.json",
                Array(
                    """
                    {"gate_id": "BENCH-1", "journal_dir": "journal", "readers": {"backend": "simulated", "count": 2, "script": "taps.txt"},
                     "policy": {"health_check": true, "unbound_card": "deny", "health_yellow": "staff", "health_red": "deny",
                     "health_unknown": "staff", "unknown_card": "staff", "minimum_balance_fen": 1,
                     "max_data_age_seconds": 21600, "stale_data": "staff"}}
                    """.utf8)
            ),
        ]
    }

    /// Every request `farectl` sends, as it sends it.
    static func controlRequests() -> [(String, [UInt8])] {
        let card = CardKey(medium: .transitCard, identifier: 1_000_751_000_000_000_001) ?? CardKey(rawValue: 1)
        let requests: [(String, ControlRequest)] = [
            ("status", .status), ("tap", .tap(card: card, reader: 1, fault: nil)), ("lookup", .lookup(card: card)),
            ("sync-now", .syncNow), ("journal", .journal(count: 20)), ("metrics", .metrics),
            ("mode", .mode(.init(mode: .emergencyOpen, resetAlarm: true))),
            ("load-snapshot", .loadSnapshot(path: "/var/lib/faregate/table.snapshot")),
            ("policy-reload", .policyReload(era: "2024-real-name")),
        ]
        return requests.map { ($0.0, [UInt8](ControlWire.line($0.1))) }
    }

    static let tapScript = """
        # delay_ms  reader  medium:number            [fault]
        0           0       transit-card:1000751000000000001
        250         1       ride-code:10000042
        100         0       transit-card:1000751000000000002  removed
        10          0       transit-card:1000751000000000003  remove-after:3
        10          1       transit-card:1000751000000000004  wrong-sw:2:6A82

        """
}
