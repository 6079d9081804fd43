import FaregateCore
import Foundation

/// The gate's metrics in the Prometheus text exposition format, for the control socket and for
/// node_exporter's textfile collector (written atomically: temp file + rename).
public enum GateMetrics {
    /// `board`: the I/O board adapter, when it reports its link (the Modbus board).
    public static func prometheus(
        _ runtime: GateRuntime, clock: any GateClock, board: (any IOBoardMonitor)? = nil
    ) -> String {
        let c = runtime.currentCounters
        let (reasons, total) = runtime.currentTallies
        let (table, verifiedAt) = runtime.table.current()
        let gate = "gate=\"\(runtime.options.gateID)\""
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(String, String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in samples { out += "\(name){\(gate)\(labels.isEmpty ? "" : "," + labels)} \(value)\n" }
        }
        metric(
            "faregate_taps_total", "counter", "Taps answered (decided, aborted or failed reads).", [("", "\(c.taps)")])
        metric(
            "faregate_taps_rejected_total", "counter", "Taps refused because the ring was full.",
            [("", "\(c.rejected)")])
        metric(
            "faregate_decisions_total", "counter", "Journal entries by reason.",
            reasons.sorted { $0.key.rawValue < $1.key.rawValue }.map { ("reason=\"\($0.key.code)\"", "\($0.value)") })
        metric(
            "faregate_journal_failures_total", "counter", "Taps refused because the journal could not be written.",
            [("", "\(c.journalFailures)")])
        metric(
            "faregate_journal_last_sequence", "gauge", "Highest journal sequence written.",
            [("", "\(runtime.journal.lastSequence)")])
        metric(
            "faregate_journal_acknowledged_sequence", "gauge", "Highest sequence the central store holds contiguously.",
            [("", "\(runtime.journal.acknowledged)")])
        metric("faregate_syncs_total", "counter", "Successful syncs.", [("", "\(c.syncs)")])
        metric("faregate_sync_failures_total", "counter", "Failed syncs.", [("", "\(c.syncFailures)")])
        metric("faregate_reader_losses_total", "counter", "Times a reader went away.", [("", "\(c.readerLosses)")])
        metric("faregate_table_cards", "gauge", "Cards in the table in service.", [("", "\(table?.count ?? 0)")])
        metric(
            "faregate_table_version", "gauge", "Central data version of the table in service.",
            [("", "\(table?.dataVersion ?? 0)")])
        if let verifiedAt {
            let age = Double(clock.monotonicNanos() &- verifiedAt) / 1e9
            metric(
                "faregate_data_age_seconds", "gauge", "Seconds since the last verified sync.",
                [("", String(format: "%.3f", age))])
        }
        metric(
            "faregate_tap_latency_seconds", "summary", "Card detected to barrier commanded.",
            [0.5, 0.9, 0.99].map { ("quantile=\"\($0)\"", String(format: "%.6f", Double(total.quantile($0)) / 1e9)) })
        out += "faregate_tap_latency_seconds_count{\(gate)} \(total.total)\n"
        if let board {
            let b = board.boardCounters
            metric(
                "faregate_io_board_in_service", "gauge", "1 while the I/O board answers and the lane is in service.",
                [("", board.boardInService ? "1" : "0")])
            metric(
                "faregate_io_board_losses_total", "counter", "Times the lane went out of service: I/O board lost.",
                [("", "\(b.losses)")])
            metric(
                "faregate_io_board_transactions_total", "counter", "Modbus requests to the I/O board.",
                [("", "\(b.polls)")])
            metric(
                "faregate_io_board_failures_total", "counter", "Failed Modbus requests to the I/O board, by kind.",
                [
                    ("kind=\"timeout\"", "\(b.timeouts)"), ("kind=\"crc\"", "\(b.crcErrors)"),
                    ("kind=\"disconnect\"", "\(b.disconnects)"), ("kind=\"exception\"", "\(b.exceptions)"),
                    ("kind=\"other\"", "\(b.otherErrors)"),
                ])
            metric(
                "faregate_io_board_connects_total", "counter", "Connections opened to the I/O board.",
                [("", "\(b.connects)")])
        }
        return out
    }

    /// Writes the metrics to `path` atomically.
    public static func write(
        _ runtime: GateRuntime, clock: any GateClock, board: (any IOBoardMonitor)? = nil, to path: String
    ) throws {
        let tmp = path + ".tmp"
        try Data(prometheus(runtime, clock: clock, board: board).utf8).write(to: URL(fileURLWithPath: tmp))
        guard rename(tmp, path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }
}
