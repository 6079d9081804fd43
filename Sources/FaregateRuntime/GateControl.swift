import FaregateCore
import Foundation

/// Answers control-socket requests for one running gate (see `ControlServer`).
///
/// Takes requests already decoded and checked at the edge (`ControlRequest`) and answers with
/// typed payloads (`ControlResponse`); the bytes are `ControlWire`'s business. It reaches the gate
/// through `GateRuntime`'s public API and the barrier through `BarrierDriver.staff`/`snapshot`.
/// Thread-safe as those are; `tap` blocks the caller for at most 2 s.
public struct GateControl: Sendable {
    public let runtime: GateRuntime
    /// Where `tap` presents a card: the bench gate's simulated readers; nil on real readers.
    public let presenter: (any TapPresenter)?
    let clock: any GateClock
    /// Where `scan` hands a code's text: the bench gate's simulated scanners; nil without.
    let scans: (any ScanPresenter)?
    /// The gate's reader index of each of `scans`' scanners (after the card readers).
    let scanReaders: [UInt16]
    /// Reloads the policy files (optionally pinning an era) and puts them in force; returns the
    /// rules' label, or the error that left the previous rules in force.
    let reloadPolicy: (@Sendable (String?) -> Result<String, PolicyError>)?
    /// The passage's barrier driver, for `mode` and the barrier part of `status`.
    let barrier: BarrierDriver?
    /// The I/O board adapter's link, for `metrics` (nil: a board that reports none).
    let board: (any IOBoardMonitor)?

    public init(
        runtime: GateRuntime, presenter: (any TapPresenter)?, clock: any GateClock,
        scans: (any ScanPresenter)? = nil, scanReaders: [UInt16] = [],
        reloadPolicy: (@Sendable (String?) -> Result<String, PolicyError>)? = nil, barrier: BarrierDriver? = nil,
        board: (any IOBoardMonitor)? = nil
    ) {
        self.barrier = barrier
        self.board = board
        self.runtime = runtime
        self.presenter = presenter
        self.clock = clock
        self.scans = scans
        self.scanReaders = scanReaders
        self.reloadPolicy = reloadPolicy
    }

    public func handle(_ request: ControlRequest) -> ControlResponse {
        switch request {
        case .status: return .status(status())
        case .tap(let card, let reader, let fault): return tap(card, reader: reader, fault: fault)
        case .scan(let text, let scanner): return scan(text, scanner: scanner)
        case .lookup(let card): return lookup(card)
        case .syncNow:
            guard runtime.syncOnce() else {
                return failure(.failed, runtime.lastSyncFailure ?? "no central store configured")
            }
            return .synced(status())
        case .journal(let count):
            do {
                return .journal(try runtime.journal.tail(count))
            } catch {
                return failure(.failed, error.description)
            }
        case .mode(let change): return mode(change)
        case .loadSnapshot(let path):
            switch runtime.loadSnapshot(path) {
            case .success(let v): return .snapshotLoaded(tableVersion: v)
            case .failure(let e): return failure(.failed, "\(e); the table in service stays")
            }
        case .policyReload(let era):
            guard let reloadPolicy else {
                return failure(.unsupported, "this gate runs inline rules (no policy_dir configured)")
            }
            switch reloadPolicy(era) {
            case .success(let label): return .policyReloaded(rules: label)
            case .failure(let e): return failure(.failed, "\(e); the previous rules stay in force")
            }
        case .metrics: return .metrics(GateMetrics.prometheus(runtime, clock: clock, board: board))
        }
    }

    func failure(_ code: ControlFailure.Code, _ message: String) -> ControlResponse {
        .failure(ControlFailure(code, message))
    }

    func status() -> GateStatusReport {
        let (table, verifiedAt) = runtime.table.current()
        let c = runtime.currentCounters
        let now = clock.monotonicNanos()
        var report = GateStatusReport(
            gateID: runtime.options.gateID, uptimeSeconds: Double(now &- runtime.startedAt) / 1e9, taps: c.taps,
            rejected: c.rejected, journalFailures: c.journalFailures, syncs: c.syncs, syncFailures: c.syncFailures,
            readerLosses: c.readerLosses, journalLastSequence: runtime.journal.durableLastSequence,
            journalAcknowledged: runtime.journal.acknowledged, tableCards: table?.count ?? 0,
            tableVersion: table?.dataVersion ?? 0, dataAgeSeconds: verifiedAt.map { Double(now &- $0) / 1e9 },
            lastSyncFailure: runtime.lastSyncFailure)
        if let b = barrier?.snapshot {
            report.barrier = GateStatusReport.Barrier(
                state: b.state.name, mode: b.mode, directions: b.directions, enforcement: b.enforcement,
                passages: b.passages, activeAlarm: b.activeAlarm, alarms: b.alarms, boardOnline: b.boardOnline,
                outOfServiceReason: b.outOfServiceReason)
        }
        return report
    }

    func scan(_ text: String, scanner: UInt16) -> ControlResponse {
        let count = scans?.scannerCount ?? 0
        guard let scans, Int(scanner) < count, Int(scanner) < scanReaders.count else {
            return failure(
                .unsupported,
                "scan works on simulated scanners only; this gate has \(count) (scanner \(scanner) asked)")
        }
        let before = runtime.telemetry.lastReportSerial
        scans.present(text, at: Int(scanner))
        guard
            let report = runtime.waitForReport(
                reader: scanReaders[Int(scanner)], afterSerial: before, timeout: 2)
        else { return failure(.failed, "the gate did not answer within 2 s") }
        return answer(report)
    }

    func tap(_ key: CardKey, reader: UInt16, fault: CardFault?) -> ControlResponse {
        let index = Int(reader)
        let readers = presenter?.readerCount ?? 0
        guard let presenter, index < readers else {
            return failure(
                .unsupported, "tap works on simulated readers only; this gate has \(readers) (reader \(reader) asked)")
        }
        // By report serial, not journal sequence: a tap that was not journalled gave its sequence
        // back, and the next tap's report must not be mistaken for it (or it for the next).
        let before = runtime.telemetry.lastReportSerial
        presenter.present(key, fault: fault, at: index)
        guard let report = runtime.waitForReport(reader: reader, afterSerial: before, timeout: 2) else {
            return failure(.failed, "the gate did not answer within 2 s")
        }
        return answer(report)
    }

    /// A tap's or scan's answer from its report. An entry that was not journalled: the lane showed
    /// gate_out_of_service, whatever the rules decided, and its sequence was handed out again; the
    /// answer is a refusal saying so.
    private func answer(_ report: GateTelemetry.TapReport) -> ControlResponse {
        guard report.durable else {
            let told = report.told
            return failure(
                .failed,
                "not journalled: the rider was told \(told) \(told.reason.messageZH) / \(told.reason.messageEN) "
                    + "(the journal could not be written; the rules said \(report.entry.decision))")
        }
        return .tap(report.entry)
    }

    /// Gives the barrier the staff commands, waits until it has handled them (so the answer shows
    /// the state after the change), then logs and journals each one it carried out. A command the
    /// barrier refused (a mode other than emergency-open while the fire-alarm input is active) is
    /// answered as a failure, with the state that stays.
    func mode(_ change: ControlRequest.ModeChange) -> ControlResponse {
        guard let barrier else { return failure(.unsupported, "this gate has no barrier controller") }
        let before = barrier.snapshot
        let commands = change.staffCommands
        for c in commands { barrier.staff(c) }
        barrier.flush()
        let after = barrier.snapshot
        var refused: [StaffCommand] = []
        for c in commands {
            let was: String
            switch c {
            case .setMode(let m):
                guard after.mode == m else {
                    refused.append(c)
                    continue
                }
                was = before.mode.name
            case .setDirections(let d):
                guard after.directions == d else {
                    refused.append(c)
                    continue
                }
                was = before.directions.name
            case .setEnforcement(let e):
                guard after.enforcement == e else {
                    refused.append(c)
                    continue
                }
                was = before.enforcement.name
            case .resetAlarm:
                was = before.activeAlarm.map { "alarm \($0)" } ?? "no alarm"
            }
            Log.info("gate \(runtime.options.gateID): staff command \(c.token) (was \(was)) from the control socket")
            runtime.journalStaffCommand(c)
        }
        guard refused.isEmpty else {
            let list = refused.map(\.token).joined(separator: ", ")
            Log.warning("gate \(runtime.options.gateID): staff command \(list) refused by the barrier")
            return failure(
                .failed,
                "refused now: \(list) (the fire-alarm input is active); barrier \(after.state.name), "
                    + "mode \(after.mode.name), \(after.directions.name), \(after.enforcement.name)")
        }
        return .mode(commandsSent: commands.count, status: status())
    }

    func lookup(_ key: CardKey) -> ControlResponse {
        guard let table = runtime.table.current().table else { return failure(.unsupported, "no table in service yet") }
        return .lookup(CardLookup(card: key, tableVersion: table.dataVersion, status: table.status(of: key)))
    }
}
