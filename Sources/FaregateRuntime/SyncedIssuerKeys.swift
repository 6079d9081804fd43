import FaregateCore
import Foundation
import Synchronization

/// The ride-code issuer keys of a gate with a pinned central key (issue 17.3): central's signed
/// issuer-key document, fetched at every sync, verified (`SyncVerifier.verifyIssuerKeys`:
/// signature, scope, not rolled back, not from the future, not expired), written beside the
/// table (`PATH`, usually `table.snapshot.issuer-keys`) atomically with `SafeFile`, and then put
/// in force for the scanner threads in one exchange (`RideCodeIssuerKeyHolder`). At a start the
/// kept document is verified again (an expired one stays in force: codes must work while central
/// is out of reach) before any code is checked against it; a file that does not verify is
/// refused (logged) and the gate starts with no issuer key, so every code is refused
/// `ride_code_unknown_key` until a sync brings a document.
///
/// Thread-safe: `load` runs at start, `update` on the sync thread (serialised by SyncService);
/// the document in force is under a mutex, the keys themselves in the holder.
final class SyncedIssuerKeys: Sendable {
    let gateID: String
    /// Where the document is kept; nil keeps none (memory only).
    let path: String?
    let verifier: SyncVerifier
    let holder: RideCodeIssuerKeyHolder
    let clock: any GateClock
    private let held = Mutex<IssuerKeyDocument?>(nil)
    /// The last reason a sync brought no document (logged when it changes).
    private let lastProblem = Mutex<String?>(nil)

    init(gateID: String, path: String?, verifier: SyncVerifier, holder: RideCodeIssuerKeyHolder, clock: any GateClock) {
        self.gateID = gateID
        self.path = path
        self.verifier = verifier
        self.holder = holder
        self.clock = clock
    }

    /// The version of the document in force (0: none).
    var version: UInt64 { held.withLock { $0?.version ?? 0 } }

    /// Puts the kept document in force, verified again; nothing when there is none.
    func load() {
        guard let path, FileManager.default.fileExists(atPath: path) else { return }
        do {
            guard
                let sealed = try FileBytes.read(path, maxBytes: IssuerKeyDocument.maxSealedSize)
            else { return }
            let d = try verifier.verifyIssuerKeys(sealed, nowMillis: clock.wallMillis(), held: nil, checkExpiry: false)
            put(d, from: "\(path) (verified)")
        } catch {
            Log.error("gate \(gateID): issuer keys \(path) refused (\(error)); no issuer key in force until a sync")
        }
    }

    /// Fetches central's newest document and puts it in force when it is newer than the one held.
    /// A document that does not verify throws (`.refused`, counted as a failed sync) and the keys
    /// in force stay.
    func update(from store: any CentralStore) throws(CentralStoreError) {
        guard let keys = store as? any IssuerKeyStore else {
            throw CentralStoreError(.refused, "this central store keeps no issuer keys")
        }
        guard let latest = try keys.latestIssuerKeyDocument() else {
            note("central has published no issuer-key document yet")
            return
        }
        let current = held.withLock { $0 }
        let d: IssuerKeyDocument
        do {
            d = try verifier.verifyIssuerKeys(latest.sealed, nowMillis: clock.wallMillis(), held: current)
        } catch {
            throw CentralStoreError(.refused, "issuer keys refused: \(error)")
        }
        lastProblem.withLock { $0 = nil }
        guard d.version > current?.version ?? 0 else { return }
        if let path {
            do { try SafeFile.replace(path, with: latest.sealed, mode: 0o644) } catch {
                Log.warning("gate \(gateID): cannot keep the issuer keys at \(path): \(error)")
            }
        }
        put(d, from: "central")
    }

    private func put(_ d: IssuerKeyDocument, from source: String) {
        holder.replace(with: d.keys)
        held.withLock { $0 = d }
        let revoked = d.keys.keys.filter(\.revoked).count
        Log.info(
            "gate \(gateID): issuer keys version \(d.version) in force from \(source): \(d.keys.keys.count) key(s), \(revoked) revoked"
        )
    }

    private func note(_ problem: String) {
        let changed = lastProblem.withLock { last -> Bool in
            defer { last = problem }
            return last != problem
        }
        if changed { Log.warning("gate \(gateID): \(problem); issuer keys in force unchanged") }
    }
}
