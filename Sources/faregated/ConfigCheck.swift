import FaregateCore
import FaregateRuntime
import FaregateSQLite
import FaregateSimulation
import FaregateSodium
import Foundation

/// `faregated --check-config FILE`: reads the configuration and every file it names the way a
/// start would — policy files (and the rules for this gate's station, line and era), the central
/// public key, the SQLite central store, the tap script, the I/O board's register map (`io.map`,
/// read and checked as a start does: a wrong map names the setting) — and checks the paths the daemon will
/// write (journal, snapshot, metrics, control socket), without creating, binding or starting
/// anything. Neither a PostgreSQL central store nor a Modbus board is contacted (a check must not
/// depend on the network or on the board being wired); an RTU device that does not exist is a
/// warning (a USB adapter may be plugged in later).
///
/// Prints a summary and exits 0, or names every error found and exits 1. Warnings (the ones a
/// start would log, such as a station no era names) are printed and do not fail the check.
enum ConfigCheck {
    static func run(path: String) -> Int32 {
        let config: GateConfig
        do { config = try GateConfig.load(path: path) } catch {
            print("faregated --check-config: \(error)")
            return 1
        }
        var check = ConfigCheck.Findings()
        var summary = ["gate \(config.gateID)" + place(config)]
        summary.append(
            "journal \(config.journalDirectory) (fsync \(config.journalFsync ? "on" : "off"), rotate at "
                + "\(config.journalRotateBytes >> 20) MiB)")
        check.directory(config.journalDirectory, "journal_dir")
        if let snapshot = config.snapshotFile { check.file(snapshot, "snapshot_file") }

        switch config.readers.backend {
        case .simulated: summary.append("readers: \(config.readers.count) simulated")
        case .pcsc:
            summary.append(
                "readers: PC/SC "
                    + (config.readers.names.isEmpty
                        ? "(the first reader)" : config.readers.names.joined(separator: ", ")))
        }
        if let script = config.readers.script {
            if let data = FileManager.default.contents(atPath: script) {
                do { _ = try TapScript(parsing: String(decoding: data, as: UTF8.self)) } catch {
                    check.error("readers.script \(script): \(error)")
                }
            } else {
                check.error("readers.script \(script) cannot be read")
            }
        }

        io(config.io, &summary, &check)

        if let dir = config.policyDirectory {
            do {
                let book = try PolicyFiles.loadBook(directory: dir)
                _ = try book.engine(station: config.station, line: config.line, pinnedEra: config.era)
                let today = CalendarDate(
                    wallMillis: Int64(Date().timeIntervalSince1970 * 1000),
                    utcOffsetSeconds: config.utcOffsetHours * 3600)
                let era = config.era ?? book.era(on: today)?.id ?? "none in force"
                summary.append(
                    "rules: policy_dir \(dir): \(book.eras.count) era(s) (\(book.eras.map(\.id).joined(separator: ", "))); "
                        + "era \(era)\(config.era == nil ? " today" : " (pinned)")")
                if let station = config.station, !book.knownStations.contains(station) {
                    check.warning("station '\(station)' is named in no era of \(dir); it gets the default rules")
                }
                if let line = config.line, !book.knownLines.contains(line) {
                    check.warning("line '\(line)' is named in no era of \(dir); it gets the default rules")
                }
            } catch {
                check.error("policy_dir \(dir): \(error)")
            }
        } else {
            summary.append("rules: inline policy")
        }

        switch config.central {
        case .sqlite(let store):
            do {
                let version = try SQLiteCentralStore(path: store).dataVersion()
                summary.append("central: SQLite \(store) (data version \(version))")
            } catch {
                check.error("central.sqlite: \(error)")
            }
        case .postgres(let conninfo):
            let sslmode = LibpqConnectionString.setting("sslmode", in: conninfo)
            summary.append(
                "central: PostgreSQL, sslmode \(sslmode ?? "unset (libpq: prefer)") (not contacted by the check)")
            // A remote server is authenticated only by verify-full (README "Central store on PostgreSQL").
            let hosts = (LibpqConnectionString.setting("host", in: conninfo) ?? "").split(separator: ",")
            let local: Set<Substring> = ["localhost", "127.0.0.1", "::1"]
            let remote = hosts.contains { !$0.hasPrefix("/") && !local.contains($0) }
            if remote && sslmode != "verify-full" {
                check.warning(
                    "central.postgres: sslmode \(sslmode ?? "unset") does not authenticate the remote server; "
                        + "use sslmode=verify-full sslrootcert=CA-FILE")
            } else if sslmode == "verify-full" && LibpqConnectionString.setting("sslrootcert", in: conninfo) == nil {
                check.warning(
                    "central.postgres: no sslrootcert; libpq reads ~/.postgresql/root.crt of the daemon's user")
            }
        case .none:
            summary.append("central: none (the gate serves from its snapshot or inline rules only)")
        }
        if let keyFile = config.centralPublicKeyFile {
            do {
                let scope = try SyncScope(
                    network: config.centralNetwork ?? "", environment: config.centralEnvironment ?? "")
                _ = try SyncVerifier(pinnedPublicKey: try KeyFile.read(keyFile, bytes: 32), scope: scope)
                summary.append("central.public_key \(keyFile): signed publications only, for \(scope)")
            } catch {
                check.error("central.public_key \(keyFile): \(error)")
            }
        } else if config.central != .none {
            check.warning(
                "no central.public_key: the gate trusts the central store without signatures (bench use only)")
        }

        if let rc = config.rideCodes {
            do {
                let keys = try rc.loadIssuerKeys()
                let fromCentral = config.centralPublicKeyFile != nil
                summary.append(
                    "ride codes: \(rc.scanners.count) scanner(s) "
                        + "(\(rc.scanners.map { $0.backend == .serial ? "serial \($0.device ?? "")" : "simulated" }.joined(separator: ", "))), "
                        + (fromCentral
                            ? "issuer keys from central (signed sync, kept at \(config.snapshotFile ?? "-").issuer-keys), "
                            : "\(keys.keys.count) issuer key(s) from \(rc.issuerKeys ?? "-"), ")
                        + "replay cache \(rc.replayFile ?? "-") "
                        + "(\(rc.replayCapacity) entries, \(rc.replayCapacity * 24 / 1024) KiB)")
                if keys.keys.isEmpty && !rc.scanners.isEmpty && !fromCentral {
                    check.warning("ride_codes.issuer_keys \(rc.issuerKeys ?? "-") holds no key: every code is refused")
                }
            } catch {
                check.error(error.description)
            }
            if let replay = rc.replayFile { check.file(replay, "ride_codes.replay_file") }
            for (i, sc) in rc.scanners.enumerated() where sc.backend == .serial {
                let device = sc.device ?? ""
                if !FileManager.default.fileExists(atPath: device) {
                    // A warning: a USB scanner may be plugged in after the start (it is reopened).
                    check.warning("ride_codes.scanners[\(i)].device \(device) does not exist (yet)")
                }
            }
        }

        summary.append("control socket \(config.controlSocket)")
        check.file(config.controlSocket, "control_socket", socket: true)
        if let metrics = config.metricsFile {
            summary.append("metrics \(metrics) every \(config.metricsIntervalSeconds) s")
            check.file(metrics, "metrics_file")
        }

        for w in check.warnings { print("warning: \(w)") }
        guard check.errors.isEmpty else {
            print("faregated --check-config: config \(path): \(check.errors.count) error(s)")
            for e in check.errors { print("  error: \(e)") }
            return 1
        }
        print("config \(path): ok\n" + summary.map { "  " + $0 }.joined(separator: "\n"))
        return 0
    }

    /// The `io` section: the backend, its endpoint, and the register map read and checked.
    static func io(_ io: GateConfig.IO, _ summary: inout [String], _ check: inout Findings) {
        let endpoint: String
        switch io.backend {
        case .simulated:
            summary.append("io: simulated board")
            return
        case .modbusRTU:
            let device = io.device ?? ""
            endpoint =
                "\(device) \(io.baud) \(io.parity.rawValue) \(io.dataBits)\(io.stopBits) slave \(io.slaveID)"
            if access(device, F_OK) != 0 {
                check.warning("io.device \(device) does not exist (yet); the lane starts out of service until it does")
            }
        case .modbusTCP:
            endpoint = "\(io.host ?? ""):\(io.port) unit \(io.unitID)"
        }
        do {
            let map = try IOBoardMapFile.read(io.map ?? "")
            summary.append(
                "io: \(io.backend.rawValue) \(endpoint), map \(io.map ?? "") (\(map.beams.count) beams, "
                    + "watchdog \(map.watchdogMillis) ms; the board is not contacted by the check)")
        } catch {
            check.error("io.map \(error)")
        }
    }

    static func place(_ config: GateConfig) -> String {
        (config.station.map { " at station \($0)" } ?? "") + (config.line.map { " on line \($0)" } ?? "")
    }

    /// What the check found, in the order found.
    struct Findings {
        var errors: [String] = []
        var warnings: [String] = []

        mutating func error(_ message: String) { errors.append(message) }
        mutating func warning(_ message: String) { warnings.append(message) }

        /// A directory the daemon creates if missing: what exists of the path must be directories.
        mutating func directory(_ path: String, _ setting: String) {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
                if !isDir.boolValue { error("\(setting) \(path) is not a directory") }
                return
            }
            let parent = (path as NSString).deletingLastPathComponent
            guard !parent.isEmpty, parent != path else { return }
            directory(parent, setting)
        }

        /// A file the daemon writes (or, for a socket, binds): an existing one must be of that
        /// kind; a directory that does not exist is a warning.
        mutating func file(_ path: String, _ setting: String, socket: Bool = false) {
            var st = stat()
            if lstat(path, &st) == 0 {
                let kind = st.st_mode & S_IFMT
                let expected = socket ? S_IFSOCK : S_IFREG
                if kind != expected {
                    error("\(setting) \(path) exists and is not a \(socket ? "socket" : "regular file")")
                }
                return
            }
            let parent = (path as NSString).deletingLastPathComponent
            var isDir: ObjCBool = false
            if !FileManager.default.fileExists(atPath: parent.isEmpty ? "." : parent, isDirectory: &isDir)
                || !isDir.boolValue
            {
                // A warning, not an error: the daemon starts without it (and logs why), and under
                // systemd StateDirectory= and RuntimeDirectory= create theirs only at the start.
                warning("\(setting) \(path): directory \(parent) does not exist (yet)")
            }
        }
    }
}
