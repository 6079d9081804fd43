import FaregateCore
import Foundation

/// The gate's metrics in the Prometheus text exposition format (version 0.0.4), for the control
/// socket and for node_exporter's textfile collector (written atomically: temp file + rename).
///
/// Every metric has one `# HELP` and one `# TYPE` line before its samples, and every sample
/// carries the `gate` label. Taps are counted by what the rider was told (`GateCore.Settlement`),
/// so the counters agree with the journal and with `farectl tap`.
public enum GateMetrics {
    /// `board`: the I/O board adapter, when it reports its link (the Modbus board).
    public static func prometheus(
        _ runtime: GateRuntime, clock: any GateClock, board: (any IOBoardMonitor)? = nil
    ) -> String {
        let c = runtime.currentCounters
        let (told, total, totalSumNanos) = runtime.currentTallies
        let (table, verifiedAt) = runtime.table.current()
        var out = Exposition(labels: [("gate", runtime.options.gateID)])
        out.metric(
            "faregate_build_info", "gauge", "The running build: version and git commit (1).",
            [([("version", BuildInfo.version), ("commit", BuildInfo.commit)], "1")])
        out.metric(
            "faregate_taps_total", "counter", "Taps answered (decided, aborted or failed reads).", [([], "\(c.taps)")])
        out.metric(
            "faregate_taps_rejected_total", "counter", "Taps refused because the ring was full.",
            [([], "\(c.rejected)")])
        let decisions = told.sorted {
            ($0.key.outcome.rawValue, $0.key.reason.rawValue) < ($1.key.outcome.rawValue, $1.key.reason.rawValue)
        }
        out.metric(
            "faregate_decisions_total", "counter",
            "Taps by the outcome and reason the rider was told (a tap not journalled counts as the "
                + "deny(gate_out_of_service) it was told).",
            decisions.map { ([("outcome", $0.key.outcome.name), ("reason", $0.key.reason.code)], "\($0.value)") })
        out.metric(
            "faregate_journal_failures_total", "counter", "Taps refused because the journal could not be written.",
            [([], "\(c.journalFailures)")])
        out.metric(
            "faregate_staff_commands_total", "counter", "Staff commands journalled (mode, directions, enforcement).",
            [([], "\(c.staffCommands)")])
        out.metric(
            "faregate_lane_events_total", "counter",
            "Lane events journalled (I/O board lost or back, fire-alarm or power-loss free-open, its end).",
            [([], "\(c.laneEvents)")])
        out.metric(
            "faregate_journal_last_sequence", "gauge", "Highest journal sequence written.",
            [([], "\(runtime.journal.durableLastSequence)")])
        out.metric(
            "faregate_journal_acknowledged_sequence", "gauge", "Highest sequence the central store holds contiguously.",
            [([], "\(runtime.journal.acknowledged)")])
        out.metric("faregate_syncs_total", "counter", "Successful syncs.", [([], "\(c.syncs)")])
        out.metric("faregate_sync_failures_total", "counter", "Failed syncs.", [([], "\(c.syncFailures)")])
        out.metric(
            "faregate_last_sync_success_timestamp_seconds", "gauge",
            "Unix time of the last successful sync (0: none since start).",
            [([], c.lastSyncSuccessWallMillis.map { String(format: "%.3f", Double($0) / 1000) } ?? "0")])
        out.metric("faregate_reader_losses_total", "counter", "Times a reader went away.", [([], "\(c.readerLosses)")])
        out.metric(
            "faregate_scan_lines_refused_total", "counter", "Scanner lines refused before parsing (garbage, too long).",
            [([], "\(c.scanLinesRefused)")])
        out.metric(
            "faregate_replay_cache_write_failures_total", "counter",
            "Failed writes of the ride-code replay cache file.",
            [([], "\(c.replayCacheWriteFailures)")])
        out.metric(
            "faregate_reader_up", "gauge", "Whether the reader is present (1) or lost (0).",
            runtime.telemetry.currentReaders.enumerated().map { i, r in
                ([("reader", r.name), ("index", "\(i)")], r.up ? "1" : "0")
            })
        let mode = runtime.barrier.effectiveMode
        out.metric(
            "faregate_barrier_mode", "gauge",
            "The mode the lane acts in (1 for the current one): emergency-open also while a fire alarm or power "
                + "loss holds the flaps open.",
            GateMode.allCases.map { ([("mode", $0.name)], $0 == mode ? "1" : "0") })
        out.metric("faregate_table_cards", "gauge", "Cards in the table in service.", [([], "\(table?.count ?? 0)")])
        out.metric(
            "faregate_table_version", "gauge", "Central data version of the table in service.",
            [([], "\(table?.dataVersion ?? 0)")])
        if let verifiedAt {
            let age = Double(clock.monotonicNanos() &- verifiedAt) / 1e9
            out.metric(
                "faregate_data_age_seconds", "gauge", "Seconds since the last verified sync.",
                [([], String(format: "%.3f", age))])
        }
        out.metric(
            "faregate_tap_latency_seconds", "summary", "Card detected to barrier commanded.",
            [0.5, 0.9, 0.99].map {
                ([("quantile", "\($0)")], String(format: "%.6f", Double(total.quantile($0)) / 1e9))
            },
            extra: [
                ("_sum", String(format: "%.6f", Double(totalSumNanos) / 1e9)), ("_count", "\(total.total)"),
            ])
        let scans = runtime.telemetry.currentScanLatency
        out.metric(
            "faregate_scan_decided_seconds", "summary",
            "Ride-code scanner line received (the read that returned its terminator) to decided: both signatures "
                + "on the scanner thread, the ring, the replay check, the table lookup and the decision.",
            [0.5, 0.9, 0.99].map {
                ([("quantile", "\($0)")], String(format: "%.6f", Double(scans.decided.quantile($0)) / 1e9))
            },
            extra: [
                ("_sum", String(format: "%.6f", Double(scans.sumNanos) / 1e9)), ("_count", "\(scans.decided.total)"),
            ])
        if let board {
            let b = board.boardCounters
            out.metric(
                "faregate_io_board_in_service", "gauge", "1 while the I/O board answers and the lane is in service.",
                [([], board.boardInService ? "1" : "0")])
            out.metric(
                "faregate_io_board_losses_total", "counter", "Times the lane went out of service: I/O board lost.",
                [([], "\(b.losses)")])
            out.metric(
                "faregate_io_board_transactions_total", "counter", "Modbus requests to the I/O board.",
                [([], "\(b.polls)")])
            out.metric(
                "faregate_io_board_failures_total", "counter", "Failed Modbus requests to the I/O board, by kind.",
                [
                    ([("kind", "timeout")], "\(b.timeouts)"), ([("kind", "crc")], "\(b.crcErrors)"),
                    ([("kind", "disconnect")], "\(b.disconnects)"), ([("kind", "exception")], "\(b.exceptions)"),
                    ([("kind", "other")], "\(b.otherErrors)"),
                ])
            out.metric(
                "faregate_io_board_connects_total", "counter", "Connections opened to the I/O board.",
                [([], "\(b.connects)")])
        }
        return out.text
    }

    /// Writes the metrics to `path` atomically.
    public static func write(
        _ runtime: GateRuntime, clock: any GateClock, board: (any IOBoardMonitor)? = nil, to path: String
    ) throws {
        // An unpredictable temp name, O_EXCL | O_NOFOLLOW (SafeFile); 0644: node_exporter reads it.
        try SafeFile.replace(path, with: Array(prometheus(runtime, clock: clock, board: board).utf8), mode: 0o644)
    }

    /// The text being built: metrics with their HELP and TYPE lines, and labels common to every
    /// sample.
    struct Exposition {
        var labels: [(String, String)]
        var text = ""

        /// A metric's HELP and TYPE lines, its samples, then `extra` series of the same family
        /// (`_sum`, `_count`) with the common labels only.
        mutating func metric(
            _ name: String, _ type: String, _ help: String, _ samples: [([(String, String)], String)],
            extra: [(String, String)] = []
        ) {
            text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(type)\n"
            for (own, value) in samples { text += "\(name)\(Self.labelSet(labels + own)) \(value)\n" }
            for (suffix, value) in extra { text += "\(name)\(suffix)\(Self.labelSet(labels)) \(value)\n" }
        }

        static func labelSet(_ labels: [(String, String)]) -> String {
            labels.isEmpty ? "" : "{" + labels.map { "\($0.0)=\"\(escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
        }

        /// A label value: backslash, double quote and newline escaped (the exposition format's rule).
        static func escapeLabel(_ value: String) -> String {
            var out = ""
            for ch in value {
                switch ch {
                case "\\": out += "\\\\"
                case "\"": out += "\\\""
                case "\n": out += "\\n"
                default: out.append(ch)
                }
            }
            return out
        }

        /// A HELP text: backslash and newline escaped.
        static func escapeHelp(_ value: String) -> String {
            value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
        }
    }
}
