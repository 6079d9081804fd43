import FaregateCore
import FaregateSimulation
import Foundation

/// Answers control-socket requests for one running gate (see `ControlServer`).
///
/// Requests are JSON objects with a `command`: `status`, `tap` (simulated readers only:
/// `card`, optional `reader`, `fault`; answers with the decision), `lookup` (`card`),
/// `sync-now`, `journal` (`n`), `metrics` (Prometheus text). Answers carry `ok` and either the
/// result or `error`.
public struct GateControl: Sendable {
    public let runtime: GateRuntime
    public let simulatedReaders: [SimulatedCardReader]
    let clock: any GateClock
    /// Reloads the policy files (optionally pinning an era) and puts them in force; returns the
    /// rules' label, or the error that left the previous rules in force.
    let reloadPolicy: (@Sendable (String?) -> Result<String, PolicyError>)?
    /// The passage's barrier driver, for `mode` and the barrier part of `status`.
    let barrier: BarrierDriver?

    public init(
        runtime: GateRuntime, simulatedReaders: [SimulatedCardReader], clock: any GateClock,
        reloadPolicy: (@Sendable (String?) -> Result<String, PolicyError>)? = nil, barrier: BarrierDriver? = nil
    ) {
        self.barrier = barrier
        self.runtime = runtime
        self.simulatedReaders = simulatedReaders
        self.clock = clock
        self.reloadPolicy = reloadPolicy
    }

    public func handle(_ request: [String: Any]) -> [String: Any] {
        guard let command = request["command"] as? String else { return failure("request has no command") }
        switch command {
        case "status": return status()
        case "tap": return tap(request)
        case "lookup": return lookup(request)
        case "sync-now":
            let ok = runtime.syncOnce()
            var answer = status()
            answer["ok"] = ok
            if !ok { answer["error"] = runtime.lastSyncFailure ?? "no central store configured" }
            return answer
        case "journal":
            let n = (request["n"] as? Int).map { min(max($0, 1), 10_000) } ?? 20
            do {
                return ["ok": true, "entries": try runtime.journal.tail(n).map(Self.describe)]
            } catch {
                return failure(error.description)
            }
        case "mode": return mode(request)
        case "load-snapshot":
            guard let path = request["path"] as? String else { return failure("load-snapshot needs path") }
            switch runtime.loadSnapshot(path) {
            case .success(let v): return ["ok": true, "table_version": Int(clamping: v)]
            case .failure(let e): return failure("\(e); the table in service stays")
            }
        case "policy-reload":
            guard let reloadPolicy else { return failure("this gate runs inline rules (no policy_dir configured)") }
            switch reloadPolicy(request["era"] as? String) {
            case .success(let label): return ["ok": true, "rules": label]
            case .failure(let e): return failure("\(e); the previous rules stay in force")
            }
        case "metrics":
            return ["ok": true, "text": GateMetrics.prometheus(runtime, clock: clock)]
        default:
            return failure(
                "unknown command '\(command)' (status, tap, lookup, sync-now, journal, metrics, mode, policy-reload, load-snapshot)"
            )
        }
    }

    func failure(_ message: String) -> [String: Any] { ["ok": false, "error": message] }

    func parseCard(_ request: [String: Any]) -> CardKey? {
        guard let text = request["card"] as? String else { return nil }
        let parts = text.split(separator: ":")
        guard parts.count == 2, let medium = Medium(name: String(parts[0])) else { return nil }
        return CardKey(medium: medium, number: parts[1])
    }

    func status() -> [String: Any] {
        let (table, verifiedAt) = runtime.table.current()
        let c = runtime.currentCounters
        let now = clock.monotonicNanos()
        var out: [String: Any] = [
            "ok": true, "gate_id": runtime.options.gateID,
            "uptime_s": Double(now &- runtime.startedAt) / 1e9,
            "taps": c.taps, "rejected": c.rejected, "journal_failures": c.journalFailures,
            "syncs": c.syncs, "sync_failures": c.syncFailures, "reader_losses": c.readerLosses,
            "journal_last_sequence": runtime.journal.lastSequence, "journal_acknowledged": runtime.journal.acknowledged,
            "table_cards": table?.count ?? 0, "table_version": table?.dataVersion ?? 0,
        ]
        if let verifiedAt { out["data_age_s"] = Double(now &- verifiedAt) / 1e9 }
        if let b = barrier?.snapshot {
            out["barrier_state"] = b.state.name
            out["barrier_mode"] = Self.modeNames.first { $0.value == b.mode }?.key ?? "\(b.mode)"
            out["barrier_directions"] = Self.directionNames.first { $0.value == b.directions }?.key ?? "\(b.directions)"
            out["barrier_enforcement"] = b.enforcement == .enforced ? "enforced" : "shadow"
            out["passages"] = b.passages
            if let a = b.activeAlarm { out["alarm"] = a.description }
            out["alarms"] = Dictionary(uniqueKeysWithValues: b.alarms.map { ($0.key.description, $0.value) })
        }
        if let f = runtime.lastSyncFailure { out["last_sync_failure"] = f }
        return out
    }

    func tap(_ request: [String: Any]) -> [String: Any] {
        guard let key = parseCard(request) else { return failure("tap needs card: MEDIUM:NUMBER") }
        let reader = request["reader"] as? Int ?? 0
        guard simulatedReaders.indices.contains(reader) else {
            return failure(
                "tap works on simulated readers only; this gate has \(simulatedReaders.count) (reader \(reader) asked)")
        }
        var card = SimulatedCard.medium(key)
        if let f = request["fault"] as? String {
            guard let fault = CardFault(parsing: f) else {
                return failure(
                    "unknown fault '\(f)' (removed, malformed, unknown-app, or as farectl card emulate --fault)")
            }
            card.faults = [fault]
        }
        let before = runtime.journal.lastSequence
        simulatedReaders[reader].present(card)
        guard let report = runtime.waitForReport(reader: UInt16(reader), after: before, timeout: 2) else {
            return failure("the gate did not answer within 2 s")
        }
        var out = Self.describe(report.entry)
        out["ok"] = true
        return out
    }

    static let modeNames: [String: GateMode] = [
        "normal": .normal, "emergency-open": .emergencyOpen, "out-of-service": .outOfService, "closed": .closed,
    ]
    static let directionNames: [String: DirectionMode] = [
        "entry-only": .entryOnly, "exit-only": .exitOnly, "bidirectional": .bidirectional,
    ]

    /// Staff commands to the barrier: `mode`, `directions`, `enforcement`, `reset_alarm`.
    func mode(_ request: [String: Any]) -> [String: Any] {
        guard let barrier else { return failure("this gate has no barrier controller") }
        var commands: [StaffCommand] = []
        if let m = request["mode"] as? String {
            guard let mode = Self.modeNames[m] else {
                return failure("mode must be one of \(Self.modeNames.keys.sorted().joined(separator: ", "))")
            }
            commands.append(.setMode(mode))
        }
        if let d = request["directions"] as? String {
            guard let dir = Self.directionNames[d] else {
                return failure("directions must be one of \(Self.directionNames.keys.sorted().joined(separator: ", "))")
            }
            commands.append(.setDirections(dir))
        }
        if let e = request["enforcement"] as? String {
            guard e == "enforced" || e == "shadow" else { return failure("enforcement must be enforced or shadow") }
            commands.append(.setEnforcement(e == "enforced" ? .enforced : .shadow))
        }
        if request["reset_alarm"] as? Bool == true { commands.append(.resetAlarm) }
        for c in commands { barrier.staff(c) }
        var out = status()
        out["commands_sent"] = commands.count
        return out
    }

    func lookup(_ request: [String: Any]) -> [String: Any] {
        guard let key = parseCard(request) else { return failure("lookup needs card: MEDIUM:NUMBER") }
        let (table, _) = runtime.table.current()
        guard let table else { return failure("no table in service yet") }
        var out: [String: Any] = ["ok": true, "card": key.description, "table_version": table.dataVersion]
        if let s = table.status(of: key) {
            out["found"] = true
            out["binding"] = s.binding.description
            out["health"] = s.health.description
            out["blacklisted"] = s.isBlacklisted
            out["returned"] = s.isReturned
            out["suspended"] = s.isSuspended
        } else {
            out["found"] = false
        }
        return out
    }

    static func describe(_ e: JournalEntry) -> [String: Any] {
        var d: [String: Any] = [
            "seq": Int(clamping: e.sequence), "wall_ms": Int(e.wallMillis), "reader": Int(e.reader),
            "card": e.key.rawValue == 0 ? "-" : e.key.description, "kind": e.kind.description,
            "outcome": e.decision.outcome.description, "reason": e.decision.reason.code,
            "message_zh": e.decision.reason.messageZH, "message_en": e.decision.reason.messageEN,
            "data_version": Int(clamping: e.dataVersion),
        ]
        if let b = e.balanceFen { d["balance_fen"] = Int(b) }
        return d
    }
}
