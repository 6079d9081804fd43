import FaregateCore
import FaregateSodium
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Everything the driver has seen of one gate's journal: every valid line it ever found in the
/// gate's files (after each kill and, while the gate runs, as the file grows), every answer the
/// gate gave to a tap, and the lines an injected fault destroyed before central held them.
///
/// The gate's own files keep at most two generations (`journal.log`, `journal.previous.log`), so
/// the ledger is the only complete record of what the gate wrote; the verification compares it
/// with central's rows. Thread-safe (the tapper, the poller and the trial loop share it).
final class Ledger: @unchecked Sendable {
    // @unchecked Sendable: every field is read and written under `lock`.
    private let lock = NSLock()
    /// Sequence → the distinct valid lines seen with it (more than one: the sequence was reused).
    private var observed: [UInt64: Set<String>] = [:]
    /// Lines the gate answered a tap with (durable by the gate's word), and whether it opened.
    private var answered: [(line: String, sequence: UInt64, open: Bool)] = []
    /// Lines an injected fault cut or damaged while central did not hold them.
    private var destroyed: Set<String> = []
    /// Taps the gate refused as not journalled (disk full): the rider was told so, nothing opened.
    private(set) var refused = 0
    /// Taps with no answer (the gate was killed mid-tap, or did not answer in time).
    private(set) var unanswered = 0

    func observe(_ line: String, sequence: UInt64) {
        lock.lock()
        observed[sequence, default: []].insert(line)
        lock.unlock()
    }

    /// The gate's journal key (read from its `journal.key` once the gate made it): a J2 line is
    /// one of the gate's only when its MAC verifies, as the gate itself decides (issue 16.5); a
    /// damaged J2 line can still parse.
    private var key: GateJournalKey?

    /// Reads the gate's key from `directory` when it is not known yet (never creates it).
    func learnKey(directory: String) {
        guard lock.withLock({ key == nil }),
            let data = FileManager.default.contents(atPath: directory + "/journal.key"),
            let first = String(decoding: data, as: UTF8.self).split(separator: "\n").first,
            let secret = Hex.bytes(exact: first), let k = try? GateJournalKey(secretKey: secret)
        else { return }
        lock.withLock { key = k }
    }

    /// Every valid journal line in `bytes` (lines that fail their checksum or MAC are not records).
    func observe(bytes: ArraySlice<UInt8>) {
        let key = lock.withLock { self.key }
        for raw in bytes.split(separator: UInt8(ascii: "\n")) {
            let line = String(decoding: raw, as: UTF8.self)
            let decoded: JournalCodec.DecodedLine?
            if let key {
                decoded = try? JournalCodec.authenticate(Substring(line), with: key)
            } else {
                decoded = try? JournalCodec.decodeLine(Substring(line))
            }
            if let d = decoded { observe(line, sequence: d.entry.sequence) }
        }
    }

    /// A line's entry in the one J1 spelling (answers carry entries; the journal has J2 lines).
    static func canonical(_ line: String) -> String {
        (try? JournalCodec.decode(Substring(line))).map { JournalCodec.encode($0) } ?? line
    }

    func answer(_ entry: JournalEntry) {
        lock.lock()
        answered.append((JournalCodec.encode(entry), entry.sequence, entry.decision.outcome == .open))
        lock.unlock()
    }

    func noteRefused() { lock.withLock { refused += 1 } }
    func noteUnanswered() { lock.withLock { unanswered += 1 } }
    func noteDestroyed(_ line: String) { _ = lock.withLock { destroyed.insert(line) } }

    struct Findings {
        var records = 0
        var opens = 0
        var lost = 0
        var duplicated = 0
        var reused = 0
        var phantom = 0
        var unbacked = 0
        var gaps = 0
        var destroyed = 0
        var holes = 0
        var examples: [String] = []

        mutating func add(_ o: Findings) {
            records += o.records
            opens += o.opens
            lost += o.lost
            duplicated += o.duplicated
            reused += o.reused
            phantom += o.phantom
            unbacked += o.unbacked
            gaps += o.gaps
            destroyed += o.destroyed
            holes += o.holes
            examples += o.examples
        }

        var failures: Int { lost + duplicated + reused + phantom + unbacked + gaps }
    }

    /// Compares the ledger with central's rows for this gate (sequence → stored record).
    func verify(gate: String, central rows: [(sequence: UInt64, record: String)], holes: Set<UInt64>) -> Findings {
        lock.lock()
        defer { lock.unlock() }
        var f = Findings()
        func example(_ s: String) { if f.examples.count < 8 { f.examples.append("\(gate): \(s)") } }
        var central: [UInt64: String] = [:]
        var bodies: [Substring: UInt64] = [:]
        for row in rows {
            if let other = central[row.sequence] {
                f.duplicated += 1
                example("sequence \(row.sequence) stored twice (\(other.prefix(40))…)")
                continue
            }
            central[row.sequence] = row.record
            // The same record stored under two sequences is a duplicate: the line without its
            // sequence and checksum (wall time, reader, card, decision, timings) is the record.
            let fields = row.record.split(separator: "\t", omittingEmptySubsequences: false)
            if fields.count > 3 {
                // J2: the chain fields (prev, mac) differ between equal records; J1: the CRC.
                let tail = row.record.hasPrefix("J2\t") ? fields.count - 2 : fields.count - 1
                let body = row.record[fields[2].startIndex..<fields[tail].startIndex]
                if let first = bodies[body] {
                    f.duplicated += 1
                    example("the record at sequence \(row.sequence) is the one at \(first) again")
                } else {
                    bodies[body] = row.sequence
                }
            }
        }
        f.records = central.count
        f.holes = holes.count
        // Gapless: central holds 1…max, every one, as a record or as a hole the gate reported.
        let stored = Set(central.keys).union(holes)
        if let top = stored.max() {
            let missing = Int(top) - stored.count
            if missing > 0 {
                f.gaps += missing
                let first = (1...top).first { !stored.contains($0) } ?? 0
                example("central has \(missing) gap(s) below \(top), the first at \(first)")
            }
        }
        // Every line the gate wrote is in central, byte for byte, once.
        // A line a fault destroyed before anyone saw it (no tap was answered with it, central did
        // not hold it) was never handed out: the gate wrote it, was killed before its high-water
        // mark covered it, and the fault took it. Its number going to the next tap is not a reuse.
        // Any other second record for a sequence is.
        let answeredLines = Set(answered.map(\.line))
        for (seq, lines) in observed {
            let handedOut = lines.filter { !destroyed.contains($0) || answeredLines.contains(Self.canonical($0)) }
            if handedOut.count > 1 {
                f.reused += handedOut.count - 1
                example("sequence \(seq) was written \(handedOut.count) times with different records")
            }
            for line in lines where central[seq] != line {
                if destroyed.contains(line) {
                    f.destroyed += 1
                } else {
                    f.lost += 1
                    example(
                        central[seq] == nil
                            ? "sequence \(seq) never reached central"
                            : "sequence \(seq): central holds another record (\(central[seq]!.prefix(60))…)")
                }
            }
        }
        // No central record without a journal line.
        for (seq, record) in central where !(observed[seq]?.contains(record) ?? false) {
            f.phantom += 1
            example("central's record \(seq) is in no journal line of the gate")
        }
        // Every answered tap (every barrier the gate opened) was a durable line of the journal.
        for a in answered {
            if a.open { f.opens += 1 }
            if !(observed[a.sequence]?.contains { Self.canonical($0) == a.line } ?? false) {
                f.unbacked += 1
                example(
                    "the gate answered sequence \(a.sequence) (\(a.open ? "open" : "not open")) but no journal line holds it"
                )
            }
        }
        return f
    }

    /// The lines of `bytes`, with their byte ranges (for faults that cut or damage some of them).
    static func lines(_ bytes: [UInt8]) -> [(range: Range<Int>, sequence: UInt64?, text: String)] {
        var out: [(Range<Int>, UInt64?, String)] = []
        var start = 0
        for i in bytes.indices where bytes[i] == UInt8(ascii: "\n") {
            let text = String(decoding: bytes[start..<i], as: UTF8.self)
            out.append((start..<i, (try? JournalCodec.decode(Substring(text)))?.sequence, text))
            start = i + 1
        }
        if start < bytes.count {
            let text = String(decoding: bytes[start...], as: UTF8.self)
            out.append((start..<bytes.count, (try? JournalCodec.decode(Substring(text)))?.sequence, text))
        }
        return out
    }
}

/// Follows a growing `journal.log` while the gate runs, feeding every complete valid line to the
/// ledger: a file rotated away (renamed to `journal.previous.log`) is read to its end first.
struct JournalFollower {
    let directory: String
    private var inode: UInt64 = 0
    private var offset = 0

    init(directory: String) { self.directory = directory }

    mutating func reset() {
        inode = 0
        offset = 0
    }

    mutating func poll(into ledger: Ledger) {
        let path = directory + "/journal.log"
        var st = stat()
        guard stat(path, &st) == 0 else { return }
        if UInt64(st.st_ino) != inode {
            // Rotated: finish the old generation (same inode, now journal.previous.log).
            var prev = stat()
            let previous = directory + "/journal.previous.log"
            if inode != 0, stat(previous, &prev) == 0, UInt64(prev.st_ino) == inode {
                _ = readFrom(previous, offset: offset, into: ledger)
            }
            inode = UInt64(st.st_ino)
            offset = 0
        }
        offset = readFrom(path, offset: offset, into: ledger)
    }

    /// Reads complete lines of `path` from `offset`; returns the offset after the last newline.
    private func readFrom(_ path: String, offset: Int, into ledger: Ledger) -> Int {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return offset }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return offset }
        let size = Int(st.st_size)
        // A file recovered shorter than we had read (the gate cut a torn tail): start over.
        let from = size < offset ? 0 : offset
        guard size > from else { return from }
        var buffer = [UInt8](repeating: 0, count: size - from)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, off_t(from)) }
        guard n > 0 else { return from }
        guard let lastNewline = buffer[0..<n].lastIndex(of: UInt8(ascii: "\n")) else { return from }
        ledger.observe(bytes: buffer[0...lastNewline])
        return from + lastNewline + 1
    }
}
