import FaregateCore
import Foundation

/// The gate's local copy of its last verified table: an mmap-able snapshot file with the wall
/// time of its verification beside it (`PATH.verified`), so that a restart serves from it, with
/// its true age, even while central state is unreachable.
///
/// Thread-safe: `save` runs on the sync thread, `load` at start and for the control socket; the
/// table slot is thread-safe, and each file is replaced atomically (temp file, fsync, rename).
struct SnapshotStore: Sendable {
    var gateID: String
    /// Where the snapshot lives; nil keeps none (`save` does nothing).
    var path: String?
    var table: TableSlot
    var clock: any GateClock

    /// Writes the table in service as the snapshot, stamped with the wall time now (it was just
    /// verified). A failure is logged: the gate serves on from memory.
    func save() {
        guard let path else { return }
        do {
            try SnapshotFile.write(table.holder.currentTable(), to: path)
            try SafeFile.replace(path + ".verified", with: Array(String(clock.wallMillis()).utf8), mode: 0o644)
        } catch {
            Log.warning("gate \(gateID): cannot save the local snapshot: \(error)")
        }
    }

    /// Puts the snapshot at `path` in service (at start, or handed over by an operator). A file
    /// that is truncated, corrupt, of another format or older than the table in service is
    /// refused with an error naming it, and the table in service stays. Its age comes from
    /// `path.verified`; without that the data counts as never verified (the stale rule applies
    /// until the next sync).
    func load(_ path: String) -> Result<UInt64, SnapshotFileError> {
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
        table.publish(loaded, verifiedAt: verifiedAt(stampedIn: path + ".verified"))
        Log.info(
            "gate \(gateID): table version \(loaded.dataVersion) in service from snapshot \(path), \(loaded.count) cards"
        )
        return .success(loaded.dataVersion)
    }

    /// The monotonic time the stamp's wall time corresponds to; nil when there is no readable
    /// stamp. A stamp from the future counts as verified now.
    private func verifiedAt(stampedIn stampPath: String) -> UInt64? {
        // FileBytes, as for the journal's state files: an operator's stamp may be any size.
        guard let bytes = try? FileBytes.read(stampPath, maxBytes: 64) ?? nil,
            case let text = String(decoding: bytes, as: UTF8.self),
            let wall = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return nil }
        // Any Int64 may be in the file: the age is computed without overflow, and a stamp older
        // than the monotonic clock's origin counts as verified at the origin (stale, not a trap).
        let (age, overflow) = clock.wallMillis().subtractingReportingOverflow(wall)
        let (ageNanos, tooOld) = UInt64(max(0, age)).multipliedReportingOverflow(by: 1_000_000)
        let now = clock.monotonicNanos()
        guard !overflow, !tooOld, now > ageNanos else { return 1 }
        return now - ageNanos
    }
}
