import FaregateCore
import FaregateRuntime
import FaregateSodium
import Foundation

extension FuzzTarget {
    /// One journal line (`JournalCodec.decode`); a line that decodes must encode back to an
    /// entry that decodes equal, with a sequence inside the journal's range.
    ///
    /// Input: a mode byte, then the line. Mode even: the harness first gives the line a correct
    /// CRC (`JournalLines.seal`), so the fuzzer reaches the field parsing instead of spending
    /// itself on a checksum it cannot compute; odd: the line as it is.
    ///
    /// Mode bit 1 set (2, 6, …): the line is sealed as J2 instead, its last field replaced by the
    /// fuzz key's MAC of what precedes it; a J2 line that authenticates must encode back (chained
    /// after its own `prev`) to a line that authenticates and decodes equal.
    static let journalLine = FuzzTarget("journal-line", "JournalCodec.decode of one line") { bytes in
        let line = Substring(String(decoding: JournalLines.input(bytes), as: UTF8.self))
        guard let entry = try? JournalCodec.decode(line) else { return }
        fuzzCheck(entry.sequence <= JournalEntry.maxSequence, "sequence \(entry.sequence) past the ceiling")
        fuzzCheck(
            (try? JournalCodec.decode(Substring(JournalCodec.encode(entry)))) == entry, "entry does not round-trip")
        guard let key = JournalLines.key, let d = try? JournalCodec.authenticate(line, with: key),
            let previous = d.previous
        else { return }
        let (again, chain) = JournalCodec.encode(d.entry, previous: previous, authenticator: key)
        let back = try? JournalCodec.authenticate(Substring(again), with: key)
        fuzzCheck(back?.entry == d.entry && back?.chain == chain, "J2 entry does not round-trip")
    }

    /// A signed upload batch as central checks it (`JournalBatchCheck.verify`, the signature
    /// taken as valid so the fuzzer reaches the structure and chain checks): the first line of
    /// the input is the holes (`a-b,c-d`), the rest the batch's lines (a mode byte first, as in
    /// `journalLine`). A batch that passes has strictly ascending sequences and holes apart from them.
    static let journalBatch = FuzzTarget("journal-batch", "JournalBatchCheck.verify of a signed batch") { bytes in
        let text = String(decoding: JournalLines.input(bytes), as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard !lines.isEmpty else { return }
        let holeSpec = lines.removeFirst()
        let holes: [ClosedRange<UInt64>] = holeSpec.split(separator: ",").compactMap { part in
            let ends = part.split(separator: "-")
            guard ends.count == 2, let lo = UInt64(ends[0]), let hi = UInt64(ends[1]), lo <= hi else { return nil }
            return lo...hi
        }
        let batch = SignedJournalBatch(
            gate: "FUZZ", publicKey: JournalLines.key?.publicKey ?? [], lines: lines, holes: holes, rejected: [],
            signature: [])
        _ = batch.message
        _ = batch.range
        guard
            let decoded = try? JournalBatchCheck.verify(
                batch, keyState: .active, signatureValid: true, storedLine: { _ in nil })
        else { return }
        let seqs = decoded.map(\.entry.sequence)
        fuzzCheck(zip(seqs, seqs.dropFirst()).allSatisfy { $0 < $1 }, "accepted sequences out of order")
        fuzzCheck(!holes.contains { h in seqs.contains { h.contains($0) } }, "accepted a hole over a record")
    }

    /// Journal recovery: `FileJournal` opening a directory whose `journal.log` is the input (a
    /// mode byte as in `journalLine`, every line sealed in the even mode), then taking the next
    /// sequence, appending one entry and reading what is pending upload.
    static let journalRecovery = FuzzTarget("journal-recovery", "FileJournal opening journal.log") { bytes in
        FuzzDirectory.shared.with(files: ["journal.log": JournalLines.input(bytes)]) { dir in
            exerciseJournal(in: dir)
        }
    }

    /// The `acked` state file: `AckedFile.parse`, then a journal opened beside it.
    static let acked = FuzzTarget("acked", "AckedFile.parse and FileJournal opening acked") { bytes in
        if let v = AckedFile.parse(bytes) {
            fuzzCheck(v <= JournalEntry.maxSequence, "acked \(v) past the ceiling")
            fuzzCheck(AckedFile.parse(AckedFile.encode(v)) == v, "acked \(v) does not round-trip")
        }
        FuzzDirectory.shared.with(files: ["acked": bytes]) { dir in
            exerciseJournal(in: dir)
        }
    }

    /// The `high-water` state file: `HighWaterFile.parse`, then a journal opened beside it (which
    /// must refuse a file with no valid slot, and never number below a valid one).
    static let highWater = FuzzTarget("high-water", "HighWaterFile.parse and FileJournal opening high-water") { bytes in
        let parsed = HighWaterFile.parse(bytes)
        if let (g, v) = parsed {
            fuzzCheck(v <= JournalEntry.maxSequence, "high-water \(v) past the ceiling")
            fuzzCheck(
                HighWaterFile.parseSlot(HighWaterFile.encodeSlot(generation: g, sequence: v)[...])?.sequence == v,
                "high-water \(v) does not round-trip")
        }
        FuzzDirectory.shared.with(files: [HighWaterFile.fileName: bytes]) { dir in
            let journal = try? FileJournal(directory: dir, fsync: false)
            fuzzCheck((journal == nil) == (parsed == nil), "a journal opened beside a high-water file it cannot read")
            if let journal, let (_, v) = parsed {
                fuzzCheck(journal.lastSequence >= v, "numbering below the high-water mark \(v)")
            }
            exerciseJournal(in: dir)
        }
    }

    /// Snapshot files: `SnapshotFile.load` of a temp file holding the input, both placements,
    /// three ways: the input as it is; extended (sparse) to the size its header declares, when
    /// that is at most 16 MiB, so fuzzed bodies of the right size are reached; and extended to
    /// 1 TiB, which must be refused without reading or allocating it (issue 13's `load-snapshot`
    /// abort: memory for the whole file was allocated before any check).
    static let snapshot = FuzzTarget("snapshot", "SnapshotFile.load of a file") { bytes in
        FuzzDirectory.shared.with(files: ["table.snapshot": bytes]) { dir in
            let path = dir + "/table.snapshot"
            loadSnapshot(path)
            if bytes.count >= 48 {
                let declared = bytes[40..<48].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                if declared <= 16 << 20, Int(declared) + StatusSnapshot.headerSize > bytes.count,
                    truncate(path, off_t(Int(declared) + StatusSnapshot.headerSize)) == 0
                {
                    loadSnapshot(path)
                }
            }
            guard truncate(path, off_t(1) << 40) == 0 else { return }
            for placement in [SnapshotFile.Placement.mapped, .hugePageCopy] {
                fuzzCheck((try? SnapshotFile.load(path, placement: placement)) == nil, "a 1 TiB snapshot was taken")
            }
        }
    }

    static func loadSnapshot(_ path: String) {
        for placement in [SnapshotFile.Placement.mapped, .hugePageCopy] {
            guard let table = try? SnapshotFile.load(path, placement: placement) else { continue }
            // A table that loaded answers lookups inside its body.
            _ = table.status(of: CardKey(rawValue: 1_000_751_000_000_000_001))
            _ = table.status(of: CardKey(rawValue: UInt64.max))
        }
    }

    /// Opens a journal in `dir` as the daemon does at start and uses it once.
    static func exerciseJournal(in dir: String) {
        exerciseJournal(in: dir, keying: nil)
        // Again as the daemon opens it, with a gate key (made fresh in the empty fuzz directory).
        exerciseJournal(in: dir, keying: JournalLines.keying)
    }

    static func exerciseJournal(in dir: String, keying: JournalKeying?) {
        guard let journal = try? FileJournal(directory: dir, fsync: false, keying: keying) else { return }
        fuzzCheck(journal.lastSequence <= JournalEntry.maxSequence, "journal sequence past the ceiling")
        let entry = JournalEntry(
            sequence: journal.nextSequence, wallMillis: 1_700_000_000_000, reader: 0, key: CardKey(rawValue: 42),
            kind: .decision, decision: .open(.ok), balanceFen: nil, dataVersion: 1, timings: StageTimings())
        try? journal.append([entry])
        _ = try? journal.pendingUpload(limit: 100)
        _ = try? journal.tail(10)
        _ = try? journal.pendingBatch(limit: 100)
    }
}

/// Journal text as the journal targets take it: a mode byte, then the text.
enum JournalLines {
    /// The fuzz gate's journal key: fixed, so a finding reproduces from its input alone.
    static let key: GateJournalKey? = try? GateJournalKey(seed: Array(repeating: 7, count: 32))
    static let keying = JournalKeying(
        generate: { try GateJournalKey(seed: Array(repeating: 7, count: 32)).secretKeyBytes },
        open: { try GateJournalKey(secretKey: $0) })

    /// The bytes to decode or to write as `journal.log`: with an even mode byte, every line's
    /// last tab-separated field replaced by the CRC-32 of what precedes it (a line without a tab
    /// gets one), so lines are well-sealed and the fuzzer explores what lies behind the checksum.
    static func input(_ bytes: [UInt8]) -> [UInt8] {
        guard let mode = bytes.first else { return [] }
        let text = Array(bytes.dropFirst())
        guard mode & 1 == 0 else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(text.count + 16)
        let lines = text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        for (i, line) in lines.enumerated() {
            // The last piece after the final newline is a torn line: left as it is.
            if i == lines.count - 1 {
                out += line
                break
            }
            let body = line.lastIndex(of: UInt8(ascii: "\t")).map { line[..<$0] } ?? line
            out += body
            if mode & 2 != 0, let key {
                let mac = Array(body).withUnsafeBytes { key.mac($0) }
                out += Array("\t\(mac.hex)\n".utf8)
            } else {
                out += Array("\t\(String(CRC32.checksum(body), radix: 16))\n".utf8)
            }
        }
        return out
    }
}

/// One temp directory per process, emptied before each input: no file survives from one input
/// to the next, so a finding reproduces from its input alone.
final class FuzzDirectory: @unchecked Sendable {
    // @unchecked Sendable: libFuzzer and the replay tests call a target from one thread at a
    // time; `path` never changes.
    static let shared = FuzzDirectory()
    let path: String

    private init() {
        var template = Array((NSTemporaryDirectory() + "faregate-fuzz-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { t in t.baseAddress.flatMap { mkdtemp($0) } }
        guard made != nil else { fatalError("cannot create a temp directory for the fuzz target") }
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Empties the directory, writes `files` into it, and calls `body` with its path.
    func with(files: [String: [UInt8]], _ body: (String) -> Void) {
        let fm = FileManager.default
        for name in (try? fm.contentsOfDirectory(atPath: path)) ?? [] { try? fm.removeItem(atPath: path + "/" + name) }
        for (name, bytes) in files {
            guard fm.createFile(atPath: path + "/" + name, contents: Data(bytes)) else {
                fatalError("cannot write the fuzz input to \(path)/\(name)")
            }
        }
        body(path)
    }
}
