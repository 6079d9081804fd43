import FaregateCore
import Foundation
import Glibc
import Synchronization

/// The gate's local copy of its table, so that a restart serves from it even while central state
/// is unreachable.
///
/// - **Signed mode** (a pinned central key): the local table is kept as the signed publications
///   it was built from, in `SignedBundle` files: `PATH` holds the snapshot, `PATH.deltas` the
///   deltas verified since. Every load (at start, and `load-snapshot` from an operator) verifies
///   them again with the pinned key and the gate's network and environment before anything is
///   served; an unsigned file (a bare status snapshot), a foreign key, another environment or a
///   version past 2^63 − 1 is refused and the table in service stays (issue 16).
/// - **Trusted mode** (no key, a bench): `PATH` is a checksummed status snapshot (`SnapshotFile`).
///
/// Data age after a load: signed mode's local table is as old as central's signed timestamp
/// statement kept beside it (`PATH.timestamp`, verified again) says; any other table counts as
/// never verified (the stale rule applies) until a sync confirms it. Nothing unsigned claims an
/// age (the `.verified` stamp is gone: a file anyone could write said how fresh the data was).
///
/// Thread-safe: `save`/`append` run on the sync thread, `load` at start and for the control
/// socket; the deltas kept for `PATH.deltas` are under a lock, each file is replaced atomically.
final class SnapshotStore: Sendable {
    let gateID: String
    /// Where the local table lives; nil keeps none (`save` does nothing).
    let path: String?
    let table: TableSlot
    /// Signed mode's verifier; nil in trusted mode.
    let verifier: SyncVerifier?
    let clock: any GateClock
    /// Signed mode: the deltas after the stored snapshot (what `PATH.deltas` holds).
    private let deltas = Mutex<[SignedPublication]>([])

    /// Largest signed bundle a gate reads: 2 GiB (a 30M-card snapshot is about 300 MB).
    static let maxBundleBytes = 2 << 30

    init(gateID: String, path: String?, table: TableSlot, verifier: SyncVerifier?, clock: any GateClock) {
        self.clock = clock
        self.gateID = gateID
        self.path = path
        self.table = table
        self.verifier = verifier
    }

    /// After a sync replaced the table: writes it (trusted) or the signed basis it came from
    /// (signed). A failure is logged: the gate serves on from memory.
    func save(basis: SignedBasis?) {
        guard let path else { return }
        do {
            if verifier != nil {
                guard let basis else { return }
                try SafeFile.replace(path, with: SignedBundle([basis.snapshot]).encoded(), mode: 0o644)
                try writeDeltas(basis.deltas, path: path)
            } else {
                try SnapshotFile.write(table.holder.currentTable(), to: path)
            }
        } catch {
            Log.warning("gate \(gateID): cannot save the local table: \(error)")
        }
    }

    /// After a sync applied deltas: records them beside the stored snapshot (signed), or writes
    /// the table (trusted).
    func append(_ more: [SignedPublication]) {
        guard let path else { return }
        guard verifier != nil else { return save(basis: nil) }
        do { try writeDeltas(deltas.withLock { $0 } + more, path: path) } catch {
            Log.warning("gate \(gateID): cannot save the local table's deltas: \(error)")
        }
    }

    /// Signed mode: keeps central's timestamp statement that last vouched for the table
    /// (`PATH.timestamp`), so that a restart knows the data's true age.
    func saveTimestamp(_ sealed: [UInt8]) {
        guard let path, verifier != nil else { return }
        do { try SafeFile.replace(path + ".timestamp", with: sealed, mode: 0o644) } catch {
            Log.warning("gate \(gateID): cannot save the timestamp statement: \(error)")
        }
    }

    /// The monotonic time the kept timestamp statement vouches for a table at `version`: it must
    /// verify (signature, scope, not from the future) and name a version the table holds; nil
    /// otherwise (the stale rule applies until a sync).
    private func vouchedAt(version: UInt64) -> UInt64? {
        guard let path, let verifier, let sealed = try? Self.readBundle(path + ".timestamp"),
            let t = try? verifier.verifyTimestamp(sealed, nowMillis: clock.wallMillis(), checkExpiry: false),
            t.version <= version
        else { return nil }
        return SyncService.monotonic(ofWall: t.issuedAtMillis, clock: clock)
    }

    /// The key ring of a gate that pins a root key (nil with a single pinned key or trusted).
    var ring: PublicationKeyRing? { verifier?.signatures as? PublicationKeyRing }

    /// Root mode: restores the key set and table epoch kept in `PATH.keys` (the sealed key set,
    /// then the table's epoch as a little-endian u64), verified with the root again. Called
    /// before the local table is loaded, so that it is checked against the keys it was kept
    /// under. A missing or unverifiable file leaves the ring empty (logged): nothing verifies
    /// until the first sync fetches central's key set.
    func restoreKeys() {
        guard let path, let ring else { return }
        let file = path + ".keys"
        guard FileManager.default.fileExists(atPath: file) else { return }
        do {
            let bytes = try Self.readBundle(file)
            guard bytes.count > 8 else { throw SyncVerificationError(.malformed, "\(bytes.count) bytes") }
            let sealed = Array(bytes.dropLast(8))
            var epoch: UInt64 = 0
            for (i, b) in bytes.suffix(8).enumerated() { epoch |= UInt64(b) << (8 * UInt64(i)) }
            try ring.adopt(sealed)
            ring.restore(tableEpoch: epoch)
        } catch {
            Log.warning("gate \(gateID): \(file) does not verify with the pinned root key (\(error)); ignored")
        }
    }

    /// Root mode: writes the key set in force and the table's epoch to `PATH.keys` (atomically).
    func saveKeys() {
        guard let path, let ring, let sealed = ring.sealedKeySet else { return }
        var bytes = sealed
        let epoch = ring.tableEpoch
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: epoch >> (8 * UInt64(i)))) }
        do { try SafeFile.replace(path + ".keys", with: bytes, mode: 0o644) } catch {
            Log.warning("gate \(gateID): cannot save the key set: \(error)")
        }
    }

    /// Whether the signed publications the table in service was built from still verify with
    /// the keys in force (after a key set changed: a revoked or retired key's table is rebuilt).
    func basisVerifies() -> Bool {
        guard let path, let verifier, let bytes = try? Self.readBundle(path),
            let bundle = try? SignedBundle(decoding: bytes)
        else { return false }
        let all = SignedBundle(bundle.publications + deltas.withLock { $0 })
        return (try? verifier.table(from: all, versionInService: nil)) != nil
    }

    private func writeDeltas(_ list: [SignedPublication], path: String) throws {
        try SafeFile.replace(path + ".deltas", with: SignedBundle(list).encoded(), mode: 0o644)
        deltas.withLock { $0 = list }
    }

    /// Puts the table at `path` in service (at start, or handed over by an operator). A file that
    /// does not verify (signed mode), is truncated, corrupt, of another format, or older than the
    /// table in service is refused with an error naming it, and the table in service stays.
    func load(_ path: String) -> Result<UInt64, SnapshotFileError> {
        guard let verifier else { return loadUnsigned(path) }
        let isLocal = path == self.path
        let loaded: (table: CompactStatusTable, basis: SignedBasis)
        do { loaded = try verified(path, isLocal: isLocal, verifier) } catch { return .failure(error) }
        table.publish(loaded.table, verifiedAt: isLocal ? vouchedAt(version: loaded.table.dataVersion) : nil)
        // An operator's bundle becomes the local table, so that a restart serves it too.
        if isLocal { deltas.withLock { $0 = loaded.basis.deltas } } else { save(basis: loaded.basis) }
        Log.info(
            "gate \(gateID): table version \(loaded.table.dataVersion) in service from signed bundle \(path) (\(1 + loaded.basis.deltas.count) publication(s) verified), \(loaded.table.count) cards"
        )
        return .success(loaded.table.dataVersion)
    }

    /// Reads and verifies the bundle at `path` (and, for the local table, `PATH.deltas`).
    private func verified(_ path: String, isLocal: Bool, _ verifier: SyncVerifier) throws(SnapshotFileError) -> (
        table: CompactStatusTable, basis: SignedBasis
    ) {
        let bytes = try Self.readBundle(path)
        let bundle: SignedBundle
        do { bundle = try SignedBundle(decoding: bytes) } catch {
            throw SnapshotFileError(path: path, problem: .unverified(error))
        }
        // The local table's deltas, when they continue its snapshot; ones that do not verify are
        // dropped (logged): the snapshot alone is still signed, and the next sync catches up.
        if isLocal, let more = try? Self.readBundle(path + ".deltas"), let extra = try? SignedBundle(decoding: more),
            !extra.publications.isEmpty
        {
            let withDeltas = SignedBundle(bundle.publications + extra.publications)
            if let all = try? verifier.table(from: withDeltas, versionInService: table.current().table?.dataVersion) {
                return all
            }
            Log.warning("gate \(gateID): \(path).deltas does not verify after its snapshot; ignored")
        }
        let current = table.current().table?.dataVersion
        do { return try verifier.table(from: bundle, versionInService: current) } catch {
            guard error.code == .rolledBack, let current else {
                throw SnapshotFileError(path: path, problem: .unverified(error))
            }
            throw SnapshotFileError(path: path, problem: .olderThanInService(bundle.version, current))
        }
    }

    private func loadUnsigned(_ path: String) -> Result<UInt64, SnapshotFileError> {
        let loaded: CompactStatusTable
        // Read into the gate's own (huge-page) memory rather than served from a mapping: the
        // file may be an operator's, and a mapped file truncated in place by someone else would
        // fault (SIGBUS) on the next lookup; a copy cannot. The copy costs ~35 ms at 30M cards;
        // lookups are as fast as from the mapping on a quiet machine and up to ~10 % faster
        // under load (fewer page walks; BENCHMARKS.md).
        do { loaded = try SnapshotFile.load(path, placement: .hugePageCopy) } catch { return .failure(error) }
        if let current = table.current().table, current.dataVersion > loaded.dataVersion {
            return .failure(
                SnapshotFileError(path: path, problem: .olderThanInService(loaded.dataVersion, current.dataVersion)))
        }
        table.publish(loaded, verifiedAt: nil)
        Log.info(
            "gate \(gateID): table version \(loaded.dataVersion) in service from snapshot \(path), \(loaded.count) cards"
        )
        return .success(loaded.dataVersion)
    }

    /// Reads a bundle file: a regular file (not a FIFO or device, no symlink followed), at most
    /// `maxBundleBytes`, refused from its size before memory is allocated for it.
    static func readBundle(_ path: String) throws(SnapshotFileError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW)
        guard fd >= 0 else { throw SnapshotFileError(path: path, problem: .system("open", errno)) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SnapshotFileError(path: path, problem: .system("fstat", errno)) }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw SnapshotFileError(path: path, problem: .unverified(.init(.malformed, "not a regular file")))
        }
        let size = Int(st.st_size)
        guard size <= maxBundleBytes else {
            throw SnapshotFileError(path: path, problem: .tooLarge(size, maxBundleBytes))
        }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, size - done, off_t(done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SnapshotFileError(path: path, problem: .system("read", errno))
            }
            if n == 0 { break }
            done += n
        }
        return Array(bytes.prefix(done))
    }
}

extension SignedBundle {
    /// The version the bundle reaches (unverified: for messages only).
    var version: UInt64 { publications.last?.manifest.toVersion ?? 0 }
}
