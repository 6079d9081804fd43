import FaregateCore
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// An error of the local journal, naming the file and the problem.
public struct JournalError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var message: String
    public var errno: Int32?

    public var description: String {
        "journal \(path): \(message)" + (errno.map { " (\(String(cString: strerror($0))))" } ?? "")
    }
}

/// The gate's append-only journal file (`journal.log` in the journal directory), one
/// `JournalCodec` line per entry, with the highest centrally acknowledged sequence in `acked`.
///
/// Durability: `append` writes a batch and `fdatasync`s it (and then the high-water mark) before
/// returning, so a caller that opens the barrier after `append` returns never opens for an entry
/// a power cut can lose.
///
/// Recovery at open:
/// - a torn last line (no newline, or a bad checksum on the last line) is cut off: it was never
///   synced, so no barrier opened for it;
/// - a damaged line in the middle (disk corruption) does not stop the gate: the file is kept as
///   `journal.damaged-<ms>.log` for inspection and the valid lines are copied into a fresh
///   `journal.log`;
/// - the sequence goes on after the highest ever handed out (`HighWaterFile`, raised with every
///   batch before `append` returns), so a lost tail or an unreadable `acked` never makes a
///   sequence be numbered twice; sequences handed out that no valid line holds any more are
///   uploaded as holes (`pendingBatch`).
///
/// Authenticity (issue 16.5), when opened with a key (`keying`, the daemon always does): every
/// line is written as J2, chained to the one before and MAC'd with the gate's key
/// (`JournalKeyFile`, created 0600 at first start). At open and before each upload the MAC of every
/// line is checked: a line that fails (an edit, a line someone appended or inserted) is never an
/// entry; its sequence, when the gate handed it out, becomes a hole, and the line itself is kept in
/// `journal.rejected.log` and reported in the next signed upload so central flags it. J1 lines
/// (written before the key existed) count up to the key's legacy ceiling only.
///
/// Thread-safety: one writer thread calls `append`; one uploader thread calls `pendingUpload`
/// and `acknowledge`; they share only atomics and a mutex-guarded read cursor.
public final class FileJournal: @unchecked Sendable {
    // @unchecked Sendable: `fd`, `length` and `lastSequence` are touched only by the writer
    // thread; the uploader reads the durable prefix through `durableLength` (an Atomic published
    // after fdatasync, read with acquiring ordering) and its own `cursor` under a Mutex.
    public let directory: String
    public let path: String
    public let fsyncEnabled: Bool
    private var fd: Int32
    private var length: Int
    public private(set) var lastSequence: UInt64
    private let durableLength: Atomic<Int>
    /// The last sequence of the durable prefix (published with `durableLength`): the uploader's
    /// upper bound for holes at the end of the file.
    private let durableSequence: Atomic<UInt64>
    /// The highest sequence ever handed out, durably (`HighWaterFile`).
    private let highWater: HighWaterFile
    private let cursor = Mutex<(offset: Int, acked: UInt64)>((0, 0))
    /// Held while the uploader reads the file and while the writer rotates it.
    let fileLock = NSLock()
    /// Rotate `journal.log` once it is this large and fully acknowledged (0: never).
    public let rotateBytes: Int
    /// Lines cut off or set aside during recovery (for the operator's log).
    public private(set) var recoveryNotes: [String] = []
    /// The gate's journal key (nil: J1 lines, no signature; tests and simulations).
    public let signer: (any JournalBatchSigner)?
    /// J1 lines are trusted up to this sequence (those written before the key was made).
    public let legacyCeiling: UInt64
    /// Whether this open created the gate's key (first start, or an upgrade to signed journals).
    public let keyCreated: Bool
    /// The chain value of the last line written (writer thread only).
    private var chainHead: JournalChainValue = .zero
    /// Lines found in the file that fail the gate's MAC, not yet reported to central.
    private let rejected = Mutex<[String]>([])
    var rejectedPath: String { directory + "/journal.rejected.log" }

    public init(
        directory: String, fsync: Bool = true, rotateBytes: Int = 64 << 20, keying: JournalKeying? = nil
    ) throws(JournalError) {
        self.directory = directory
        path = directory + "/journal.log"
        fsyncEnabled = fsync
        self.rotateBytes = rotateBytes
        do {
            // 0700: the gate's state (journal, snapshot, acknowledgements) is the daemon's alone.
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw JournalError(
                path: directory, message: "cannot create journal directory: \(error.localizedDescription)")
        }
        if let keying {
            let path = path
            let loaded: JournalKeyFile.Loaded
            do {
                loaded = try JournalKeyFile.loadOrCreate(
                    directory: directory,
                    legacyCeiling: { Self.legacyCeiling(directory: directory, path: path) }, generate: keying.generate)
                signer = try keying.open(loaded.secretKey)
            } catch {
                throw JournalError(path: directory + "/" + JournalKeyFile.fileName, message: "\(error)")
            }
            legacyCeiling = loaded.legacyCeiling
            keyCreated = loaded.created
        } else {
            signer = nil
            legacyCeiling = .max
            keyCreated = false
        }
        let trust = LineTrust(authenticator: signer, legacyCeiling: legacyCeiling)
        let recovered = try Self.recover(path: path, directory: directory, trust: trust)
        recoveryNotes = recovered.notes
        chainHead = recovered.chain
        if recovered.length == 0, signer != nil {
            // An empty file after a rotation: the chain goes on from the previous generation's
            // last line when it is there (otherwise it restarts at zero, which central accepts).
            chainHead = Self.lastChain(inFileAt: directory + "/journal.previous.log", trust: trust) ?? .zero
        }
        let rejectedFile = directory + "/journal.rejected.log"
        var carried = Self.readRejected(rejectedFile)
        if !recovered.rejected.isEmpty {
            Self.appendRejected(recovered.rejected, path: rejectedFile)
            carried += recovered.rejected
        }
        rejected.withLock { $0 = carried }
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw JournalError(path: path, message: "cannot open for appending", errno: errno) }
        length = recovered.length
        // After a rotation the file is empty and `acked` carries the sequence on; a sequence the
        // central store acknowledged is never handed out again. When `acked` is unreadable, the
        // previous generation's last entry is the floor instead (its entries were acknowledged).
        let readAcked = AckedFile.read(directory: directory)
        let acked = readAcked ?? 0
        let floor = readAcked == nil ? Self.lastSequence(inFileAt: directory + "/journal.previous.log") : 0
        // The high-water mark outlives rotation and a lost tail: a sequence handed out before is
        // never handed out again, even when the lines that carried it are gone (issue 16.6).
        let known = max(recovered.lastSequence, acked, floor)
        do { highWater = try HighWaterFile(directory: directory, floor: known, fsync: fsync) } catch {
            close(fd)
            throw JournalError(path: directory + "/" + HighWaterFile.fileName, message: error.description)
        }
        lastSequence = max(known, highWater.mark)
        if lastSequence > recovered.lastSequence && lastSequence > acked {
            recoveryNotes.append(
                "sequences \(max(recovered.lastSequence, acked) + 1)...\(lastSequence) were handed out but are not in the journal; they are uploaded as holes"
            )
        }
        durableLength = Atomic(recovered.length)
        durableSequence = Atomic(lastSequence)
        cursor.withLock { $0 = (0, acked) }
    }

    deinit { close(fd) }

    /// The sequence number the next entry must carry (`lastSequence` is at most
    /// `JournalEntry.maxSequence`, so this cannot overflow).
    public var nextSequence: UInt64 { lastSequence + 1 }

    /// Appends `entries` (consecutive sequences continuing the file) and makes them durable.
    /// On failure nothing of the batch remains in the file and the error says why (disk full…).
    public func append(_ entries: [JournalEntry]) throws(JournalError) {
        guard !entries.isEmpty else { return }
        // Past the ceiling the gate fails closed (taps denied `gate_out_of_service`) rather than
        // write a line the next start would have to set aside as damaged.
        guard let last = entries.last, last.sequence <= JournalEntry.maxSequence else {
            throw JournalError(path: path, message: "sequence space exhausted (past \(JournalEntry.maxSequence))")
        }
        if rotateBytes > 0 && length >= rotateBytes { rotateIfAcknowledged() }
        var text = ""
        text.reserveCapacity(entries.count * 96)
        var seq = lastSequence
        var chain = chainHead
        for e in entries {
            precondition(e.sequence == seq + 1, "journal sequence must be contiguous")
            seq = e.sequence
            if let signer {
                let (line, next) = JournalCodec.encode(e, previous: chain, authenticator: signer)
                text += line
                chain = next
            } else {
                text += JournalCodec.encode(e)
            }
            text += "\n"
        }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                let err = errno
                _ = ftruncate(fd, off_t(length))  // leave no torn line behind
                throw JournalError(path: path, message: "cannot append \(entries.count) entries", errno: err)
            }
            written += n
        }
        if fsyncEnabled && fdatasync(fd) != 0 {
            let err = errno
            _ = ftruncate(fd, off_t(length))
            throw JournalError(path: path, message: "cannot make entries durable (fdatasync)", errno: err)
        }
        do { try highWater.raise(to: seq) } catch {
            _ = ftruncate(fd, off_t(length))
            throw JournalError(path: highWater.path, message: error.description)
        }
        length += bytes.count
        lastSequence = seq
        chainHead = chain
        // Release: the uploader that acquires this length sees the bytes written above. The
        // sequence after the length: an uploader that sees it sees the line too (never a false hole).
        durableLength.store(length, ordering: .releasing)
        durableSequence.store(seq, ordering: .releasing)
    }

    /// Numbers the next entry after `sequence` at least (central's highest record for this gate,
    /// asked at start): durable in the high-water mark before it counts. Writer thread only (the
    /// daemon calls it before the runtime starts).
    public func raiseFloor(to sequence: UInt64) throws(JournalError) {
        guard sequence > lastSequence else { return }
        guard sequence <= JournalEntry.maxSequence else {
            throw JournalError(path: highWater.path, message: "floor \(sequence) out of range")
        }
        do { try highWater.raise(to: sequence) } catch {
            throw JournalError(path: highWater.path, message: error.description)
        }
        lastSequence = sequence
        durableSequence.store(sequence, ordering: .releasing)
    }

    /// The last sequence written durably, for any thread (status, metrics): `lastSequence` is the
    /// writer thread's own, and reading it elsewhere is a data race (ThreadSanitizer saw one).
    public var durableLastSequence: UInt64 { durableSequence.load(ordering: .acquiring) }

    /// The durable high-water mark (the highest sequence ever handed out). Writer thread only.
    public var highWaterMark: UInt64 { highWater.mark }

    /// Whether this open created the high-water file (no mark survived: first start, an upgrade,
    /// or a lost state directory); the daemon then waits, briefly, for central's highest record.
    public var highWaterCreated: Bool { highWater.created }

    /// Starts a new `journal.log` when everything in the current one is acknowledged centrally;
    /// the previous file is kept as `journal.previous.log` (one generation). Best effort: on any
    /// failure the current file simply goes on growing.
    private func rotateIfAcknowledged() {
        fileLock.lock()
        defer { fileLock.unlock() }
        guard cursor.withLock({ $0.acked }) >= lastSequence else { return }
        let previous = directory + "/journal.previous.log"
        guard rename(path, previous) == 0 else { return }
        let newFD = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard newFD >= 0 else {
            _ = rename(previous, path)  // put it back; keep appending to the old descriptor
            return
        }
        fsyncDirectory()
        close(fd)
        fd = newFD
        length = 0
        durableLength.store(0, ordering: .releasing)
        cursor.withLock { $0.offset = 0 }
        Log.info("journal \(path): rotated at sequence \(lastSequence) (all acknowledged)")
    }

    private func fsyncDirectory() {
        let d = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if d >= 0 {
            _ = fsync(d)
            close(d)
        }
    }

    /// What one upload carries: entries, and the holes between them (sequences handed out whose
    /// line is damaged or gone), oldest first.
    public struct UploadBatch: Equatable, Sendable {
        public var entries: [JournalEntry] = []
        /// The original line of each entry (same order), the bytes the gate signs and central stores.
        public var lines: [String] = []
        /// Lines that fail the gate's MAC (reported for central to flag; never entries).
        public var rejected: [String] = []
        /// Ranges of sequences the journal cannot produce, ascending, disjoint from `entries`.
        public var holes: [ClosedRange<UInt64>] = []
        /// The highest sequence the batch covers (entry or hole); nil when it is empty.
        public var lastSequence: UInt64? {
            let last = max(entries.last?.sequence ?? 0, holes.last?.upperBound ?? 0)
            return last == 0 ? nil : last
        }
        public var isEmpty: Bool { entries.isEmpty && holes.isEmpty }
        /// Sequences covered (entries plus hole sizes).
        public var count: Int { entries.count + holes.reduce(0) { $0 + Int(clamping: $1.count) } }
    }

    /// Durable entries not yet acknowledged by the central store, oldest first, at most `limit`.
    public func pendingUpload(limit: Int) throws(JournalError) -> [JournalEntry] {
        try pendingBatch(limit: limit).entries
    }

    /// The next upload after `after` (default: the acknowledged sequence): durable entries, and a
    /// hole for every sequence in between that no valid line holds (a damaged line, a lost tail
    /// the high-water mark remembers), so that uploads carry on past damage instead of sending
    /// the same batch for ever (issue 16.6). At most `limit` sequences, entries and holes together.
    public func pendingBatch(limit: Int, after: UInt64? = nil) throws(JournalError) -> UploadBatch {
        fileLock.lock()
        defer { fileLock.unlock() }
        // The sequence before the length (see `append`).
        let lastDurable = durableSequence.load(ordering: .acquiring)
        let end = durableLength.load(ordering: .acquiring)
        let (offset, acked) = cursor.withLock { $0 }
        let trust = LineTrust(authenticator: signer, legacyCeiling: legacyCeiling)
        let from = max(after ?? acked, acked)
        var batch = UploadBatch()
        var expected = from + 1
        var room = max(limit, 1)
        func hole(upTo last: UInt64) {
            guard last >= expected, room > 0 else { return }
            let upper = min(last, expected + UInt64(room) - 1)
            batch.holes.append(expected...upper)
            room -= Int(upper - expected + 1)
            expected = upper + 1
        }
        var skipOffset = offset
        if end > offset {
            let readFD = open(path, O_RDONLY | O_CLOEXEC)
            guard readFD >= 0 else {
                throw JournalError(path: path, message: "cannot open for reading", errno: errno)
            }
            defer { close(readFD) }
            var buffer = [UInt8](repeating: 0, count: end - offset)
            var got = 0
            while got < buffer.count {
                let n = buffer.withUnsafeMutableBytes {
                    pread(readFD, $0.baseAddress! + got, $0.count - got, off_t(offset + got))
                }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    throw JournalError(path: path, message: "short read of journal", errno: n < 0 ? errno : nil)
                }
                got += n
            }
            var lineStart = 0
            for i in 0..<buffer.count where buffer[i] == UInt8(ascii: "\n") {
                guard room > 0 else { break }
                let line = String(decoding: buffer[lineStart..<i], as: UTF8.self)
                lineStart = i + 1
                let e: JournalEntry
                switch trust.check(Substring(line)) {
                case .trusted(let d): e = d.entry
                case .unreadable: continue
                case .notAuthentic:
                    // Its sequence (when handed out) becomes a hole below; the line is reported.
                    if batch.rejected.count < SignedJournalBatch.maxRejectedLines { batch.rejected.append(line) }
                    continue
                }
                if e.sequence <= acked {
                    if batch.isEmpty { skipOffset = offset + lineStart }
                    continue
                }
                // Below `expected`: already covered (after `after`, or a line out of order).
                guard e.sequence >= expected else { continue }
                hole(upTo: e.sequence - 1)
                guard room > 0 else { break }
                batch.entries.append(e)
                batch.lines.append(line)
                room -= 1
                expected = e.sequence + 1
            }
        }
        // Sequences handed out past the last valid line (a damaged last line, a lost tail).
        hole(upTo: lastDurable)
        let carried = rejected.withLock { $0 }
        for line in carried
        where batch.rejected.count < SignedJournalBatch.maxRejectedLines && !batch.rejected.contains(line) {
            batch.rejected.append(line)
        }
        // Remember where the unacknowledged part starts so the next read skips the acked prefix.
        cursor.withLock { if $0.acked == acked { $0.offset = max($0.offset, skipOffset) } }
        return batch
    }

    /// Bytes of the current file known durable.
    var durableEnd: Int { durableLength.load(ordering: .acquiring) }

    /// The highest sequence the central store holds contiguously.
    public var acknowledged: UInt64 { cursor.withLock { $0.acked } }

    /// Records the central store's acknowledgement (written durably to `acked`, see `AckedFile`).
    /// A sequence past `JournalEntry.maxSequence` is an answer no journal can have earned: refused.
    public func acknowledge(_ sequence: UInt64) throws(JournalError) {
        let current = acknowledged
        guard sequence > current else { return }
        guard sequence <= JournalEntry.maxSequence else {
            throw JournalError(path: directory + "/acked", message: "acknowledged sequence \(sequence) out of range")
        }
        try AckedFile.write(sequence, directory: directory)
        cursor.withLock { $0.acked = max($0.acked, sequence) }
    }

    /// The legacy ceiling of a key made now: every J1 line there is was written before it.
    static func legacyCeiling(directory: String, path: String) -> UInt64 {
        max(
            lastSequence(inFileAt: path), lastSequence(inFileAt: directory + "/journal.previous.log"),
            AckedFile.read(directory: directory) ?? 0)
    }

    /// The gate's journal key in `directory`, made as the daemon would make it when there is none
    /// (`farectl journal key`: provisioning before the first start, so it can be registered first).
    public static func journalKey(
        directory: String, keying: JournalKeying
    ) throws(JournalError) -> (signer: any JournalBatchSigner, created: Bool) {
        do {
            let loaded = try JournalKeyFile.loadOrCreate(
                directory: directory,
                legacyCeiling: { legacyCeiling(directory: directory, path: directory + "/journal.log") },
                generate: keying.generate)
            return (try keying.open(loaded.secretKey), loaded.created)
        } catch {
            throw JournalError(path: directory + "/" + JournalKeyFile.fileName, message: "\(error)")
        }
    }

    /// The highest sequence of a valid line in the file at `path`; 0 when there is none.
    static func lastSequence(inFileAt path: String) -> UInt64 {
        guard let data = try? FileBytes.read(path, maxBytes: .max) ?? [] else { return 0 }
        var highest: UInt64 = 0
        for line in data.split(separator: UInt8(ascii: "\n")) {
            if let e = try? JournalCodec.decode(Substring(String(decoding: line, as: UTF8.self))) {
                highest = max(highest, e.sequence)
            }
        }
        return highest
    }

    struct Recovered {
        var length: Int
        var lastSequence: UInt64
        var notes: [String]
        /// The chain value of the last valid J2 line (zero when there is none).
        var chain: JournalChainValue = .zero
        /// Lines that decode but fail the gate's MAC (or J1 lines past the legacy ceiling).
        var rejected: [String] = []
    }

    /// Scans the journal, cuts a torn tail and sets a damaged file aside (see the type's doc).
    /// A line that fails `trust` counts as damaged; one that fails only its MAC is also returned
    /// in `rejected`, for central to flag.
    static func recover(path: String, directory: String, trust: LineTrust) throws(JournalError) -> Recovered {
        let bytes: [UInt8]
        do {
            guard let read = try FileBytes.read(path, maxBytes: .max) else {
                return Recovered(length: 0, lastSequence: 0, notes: [])
            }
            bytes = read
        } catch {
            throw JournalError(path: path, message: "exists but cannot be read (\(error))")
        }
        var notes: [String] = []
        var goodLines: [ArraySlice<UInt8>] = []
        var lastGoodEnd = 0
        var lastSeq: UInt64 = 0
        var damagedInMiddle = false
        var lineStart = 0
        var lineNo = 0
        var pendingBad: [Int] = []
        var chain = JournalChainValue.zero
        var rejected: [String] = []
        for i in 0..<bytes.count where bytes[i] == UInt8(ascii: "\n") {
            lineNo += 1
            let slice = bytes[lineStart..<i]
            lineStart = i + 1
            let text = String(decoding: slice, as: UTF8.self)
            let verdict = trust.check(Substring(text))
            if case .notAuthentic = verdict {
                rejected.append(text)
                notes.append(
                    "line \(lineNo): not written by this gate (MAC or legacy check failed); set aside and reported")
            }
            if case .trusted(let d) = verdict {
                let e = d.entry
                chain = d.chain ?? chain
                if !pendingBad.isEmpty { damagedInMiddle = true }
                if e.sequence <= lastSeq {
                    notes.append("line \(lineNo): sequence \(e.sequence) not after \(lastSeq); kept")
                }
                lastSeq = max(lastSeq, e.sequence)
                goodLines.append(slice)
                lastGoodEnd = i + 1
            } else {
                pendingBad.append(lineNo)
            }
        }
        if lineStart < bytes.count { notes.append("cut a torn last line of \(bytes.count - lineStart) bytes") }
        if !damagedInMiddle && !pendingBad.isEmpty {
            notes.append("cut \(pendingBad.count) unreadable line(s) at the end (from line \(pendingBad[0]))")
        }
        if damagedInMiddle {
            let aside = directory + "/journal.damaged-\(Int64(Date().timeIntervalSince1970 * 1000)).log"
            guard rename(path, aside) == 0 else {
                throw JournalError(path: path, message: "damaged and cannot be set aside", errno: errno)
            }
            var text = [UInt8]()
            for l in goodLines {
                text.append(contentsOf: l)
                text.append(UInt8(ascii: "\n"))
            }
            guard FileManager.default.createFile(atPath: path, contents: Data(text)) else {
                throw JournalError(path: path, message: "cannot write the recovered journal")
            }
            notes.append(
                "damaged lines \(pendingBad.map(String.init).joined(separator: ",")); original kept as \(aside), \(goodLines.count) valid entries carried over"
            )
            return Recovered(length: text.count, lastSequence: lastSeq, notes: notes, chain: chain, rejected: rejected)
        }
        if lastGoodEnd < bytes.count {
            guard truncate(path, off_t(lastGoodEnd)) == 0 else {
                throw JournalError(path: path, message: "cannot cut the torn tail", errno: errno)
            }
        }
        return Recovered(length: lastGoodEnd, lastSequence: lastSeq, notes: notes, chain: chain, rejected: rejected)
    }
}

/// Which lines of a journal file count as the gate's own: with a key, a J2 line whose MAC
/// verifies, or a J1 line up to the legacy ceiling; without one, every line that decodes.
struct LineTrust {
    var authenticator: (any JournalBatchSigner)?
    var legacyCeiling: UInt64

    enum Verdict {
        case trusted(JournalCodec.DecodedLine)
        /// Torn or damaged: does not decode.
        case unreadable
        /// Decodes, but the gate did not write it.
        case notAuthentic
    }

    func check(_ line: Substring) -> Verdict {
        guard let authenticator else {
            guard let d = try? JournalCodec.decodeLine(line) else { return .unreadable }
            return .trusted(d)
        }
        do {
            let d = try JournalCodec.authenticate(line, with: authenticator)
            if !d.isChained && d.entry.sequence > legacyCeiling { return .notAuthentic }
            return .trusted(d)
        } catch {
            return error == .notAuthentic ? .notAuthentic : .unreadable
        }
    }
}

extension FileJournal {
    /// The chain value of the last trusted J2 line of the file at `path`; nil when there is none.
    static func lastChain(inFileAt path: String, trust: LineTrust) -> JournalChainValue? {
        guard let data = try? FileBytes.read(path, maxBytes: .max) ?? [] else { return nil }
        var chain: JournalChainValue?
        for line in data.split(separator: UInt8(ascii: "\n")) {
            if case .trusted(let d) = trust.check(Substring(String(decoding: line, as: UTF8.self))), let c = d.chain {
                chain = c
            }
        }
        return chain
    }

    static func readRejected(_ path: String) -> [String] {
        guard let data = try? FileBytes.read(path, maxBytes: 1 << 20) ?? [] else { return [] }
        return data.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Best effort: the lines are also in the set-aside damaged file, and reported from memory.
    static func appendRejected(_ lines: [String], path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array(lines.map { SignedJournalBatch.cutForReport($0) + "\n" }.joined().utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        _ = fsync(fd)
    }

    /// Central has recorded `lines` (reported in a signed upload): they are not reported again.
    public func rejectedReported(_ lines: [String]) {
        guard !lines.isEmpty else { return }
        let left = rejected.withLock { r -> [String] in
            r.removeAll { lines.contains($0) || lines.contains(SignedJournalBatch.cutForReport($0)) }
            return r
        }
        if left.isEmpty {
            unlink(rejectedPath)
        } else {
            try? SafeFile.replace(rejectedPath, with: Array(left.map { $0 + "\n" }.joined().utf8), mode: 0o600)
        }
    }

    /// Lines of the file the gate did not write, not yet reported to central.
    public var unreportedRejectedLines: [String] { rejected.withLock { $0 } }
}

extension FileJournal {
    /// The last `count` durable entries, oldest first (for `journal tail` over the control socket).
    public func tail(_ count: Int) throws(JournalError) -> [JournalEntry] {
        fileLock.lock()
        defer { fileLock.unlock() }
        let end = durableEnd
        let want = min(end, max(count, 1) * 256)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw JournalError(path: path, message: "cannot open for reading", errno: errno) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: want)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, want, off_t(end - want)) }
        guard n == want else { throw JournalError(path: path, message: "short read", errno: n < 0 ? errno : nil) }
        let lines = buffer.split(separator: UInt8(ascii: "\n")).suffix(count)
        return lines.compactMap { try? JournalCodec.decode(Substring(String(decoding: $0, as: UTF8.self))) }
    }
}
