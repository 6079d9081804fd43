import FaregateCore
import Foundation

/// The configuration file of `faregated` (JSON, documented in README.md "Configuration file";
/// the keys are in `GateConfig+Coding.swift`).
///
/// Unknown keys are refused, so a misspelt setting never silently falls back to a default.
public struct GateConfig: Sendable, Equatable {
    public var gateID: String
    public var station: String?
    public var line: String?
    public var journalDirectory: String
    /// Make every journal batch durable (fdatasync) before the barrier opens. Only benchmarks and
    /// throwaway simulations turn this off.
    public var journalFsync: Bool
    /// Start a new journal file past this size once everything in it is acknowledged centrally.
    public var journalRotateBytes: Int
    /// Slots of each reader's tap ring (a power of two; one SPSC ring per reader).
    public var ringCapacity: Int
    public var central: Central
    public var sync: Sync
    public var readers: Readers
    public var policy: GatePolicy
    /// Directory of era policy files (`seeds/policies`); when set, the gate's rules come from
    /// there for its station and line, and `policy` is not used.
    public var policyDirectory: String?
    /// An era chosen explicitly (an era id); nil picks the era by date on every tap.
    public var era: String?
    /// Hours east of UTC for dates on cards and in policies (Beijing: 8).
    public var utcOffsetHours: Int
    /// The local snapshot of the last verified table (served after a restart while central state
    /// is unreachable). Default: `table.snapshot` in the journal directory.
    public var snapshotFile: String?
    /// Path of the control socket (`farectl status`, `tap`, …).
    public var controlSocket: String
    /// Prometheus text file for node_exporter's textfile collector; nil writes none.
    public var metricsFile: String?
    public var metricsIntervalSeconds: Double
    /// The least severe messages the daemon logs (`log_level`: debug, info, warning or error).
    /// Only `debug` logs one line per tap.
    public var logLevel: Log.Level = .info

    /// The passage's barrier: I/O board, directions, enforcement, which end each reader serves.
    public struct BarrierSettings: Sendable, Equatable {
        public var directions: DirectionMode = .entryOnly
        public var enforcement: Enforcement = .enforced
        public var readerEnds: [GateEnd] = []
        public var unusedOpeningSeconds: Double = 5
        public init() {}
    }
    public var barrier = BarrierSettings()

    /// The passage's I/O board: simulated, or a board over Modbus RTU / TCP with its register map
    /// (README "I/O board over Modbus", `hardware/io-board.md`).
    public struct IO: Sendable, Equatable {
        public enum Backend: String, Sendable, Equatable, CaseIterable {
            case simulated
            case modbusRTU = "modbus-rtu"
            case modbusTCP = "modbus-tcp"
        }
        public enum Parity: String, Sendable, Equatable, CaseIterable { case none, even, odd }
        public var backend: Backend = .simulated
        /// The register map file (`hardware/modbus-8in8out.json`), relative to the config file.
        public var map: String?
        /// RTU: the serial device, its line settings and the board's slave id.
        public var device: String?
        public var baud = 115_200
        public var parity: Parity = .none
        public var dataBits = 8
        public var stopBits = 1
        public var slaveID = 1
        /// TCP: the board's host, port and unit id.
        public var host: String?
        public var port = 502
        public var unitID = 255
        /// How often the discrete inputs are read.
        public var pollIntervalMillis: Double = 5
        /// How long one request waits for its answer.
        public var responseTimeoutMillis = 50
        /// Failed transactions in a row that take the lane out of service.
        public var failedPollsOutOfService = 10
        /// Longest delay between two reconnect attempts (the first is 100 ms, doubling).
        public var reconnectMaxMillis = 5000
        public init() {}
    }
    public var io = IO()

    /// Ride-code scanners and what checks their codes (`ride_codes`); nil: the gate has none.
    public struct RideCodes: Sendable, Equatable {
        public struct Scanner: Sendable, Equatable {
            public enum Backend: String, Sendable, Equatable, CaseIterable { case serial, simulated }
            public var backend: Backend = .simulated
            public var device: String?
            public var baud = 9600
            public var terminator: ScanTerminator = .crlf
            public var maxLength = 1024
            public init() {}
        }
        public var scanners: [Scanner] = []
        /// The issuer keys (RIDECODE.md's JSON file form), for a gate without a pinned central
        /// key (bench, offline); required then when there are scanners. With `central.public_key`
        /// the keys come from central by signed sync instead, and setting this is refused.
        public var issuerKeys: String?
        /// Where the replay cache is kept across restarts; default `journal_dir/ride-code-replay.bin`.
        public var replayFile: String?
        public var replayCapacity = RideCodeReplayCache.defaultCapacity
        public var maxAgeSeconds = 60
        public var maxSkewSeconds = 30
        public init() {}
    }
    public var rideCodes: RideCodes?
    /// Entry and exit control; nil: none (the default: a gate does not see the other gates'
    /// entries, so exit-without-entry needs a station-wide record to be meaningful).
    public var access: AccessRules?

    public static let defaultControlSocket = "/run/faregate/faregated.sock"

    public enum Central: Sendable, Equatable {
        case sqlite(path: String)
        /// A libpq connection string (multi-host strings fail over to replicas).
        case postgres(conninfo: String)
        case none
    }
    /// The pinned central Ed25519 public key (a hex key file). When set, the gate takes only
    /// signed publications; without it, it trusts the store and reloads the whole table.
    public var centralPublicKeyFile: String?
    /// The network and environment this gate serves (`central.network`, `central.environment`):
    /// required with a pinned key; a publication signed for any other is refused.
    public var centralNetwork: String?
    public var centralEnvironment: String?
    /// The oldest version this gate takes as its first table (`central.minimum_version`, set
    /// when the gate is provisioned): an old signed snapshot cannot start it.
    public var centralMinimumVersion: UInt64 = 0

    public struct Sync: Sendable, Equatable {
        public var intervalSeconds: Double = 60
        public var jitterSeconds: Double = 10
        public var maxBackoffSeconds: Double = 600
        public var uploadBatch: Int = 5000
        public init() {}
    }

    public struct Readers: Sendable, Equatable {
        public enum Backend: String, Sendable, Equatable, CaseIterable { case simulated, pcsc }
        public var backend: Backend = .simulated
        /// Simulated: how many readers. PC/SC: ignored (see `names`).
        public var count: Int = 1
        /// PC/SC: reader names (substring match); empty means every reader pcscd reports.
        public var names: [String] = []
        /// Simulated: a tap script to play (see `TapScript`), relative to the config file.
        public var script: String?
        /// PC/SC: how long a tap waits for another application that holds the reader exclusively
        /// before it is denied `reader_busy` ("tap again"). At most 250 ms, so the decision stays
        /// inside the 300 ms budget.
        public var busyBudgetMillis: Int = 150
        public init() {}
    }

    public init(gateID: String, journalDirectory: String) {
        self.gateID = gateID
        self.journalDirectory = journalDirectory
        station = nil
        line = nil
        journalFsync = true
        journalRotateBytes = 64 << 20
        ringCapacity = 1024
        central = .none
        sync = Sync()
        readers = Readers()
        policy = .healthCheckEra
        utcOffsetHours = 8
        controlSocket = Self.defaultControlSocket
        metricsFile = nil
        metricsIntervalSeconds = 15
    }
}

/// A configuration problem, naming the file, the setting and (for a problem inside the file) its
/// line and column: "config /etc/faregate/gate.json: line 3, column 2: ring_capacty is not a known
/// setting (known: …)".
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var message: String
    public var position: JSONPosition? = nil
    public var description: String { "config \(path): \(message)" }
}

extension GateConfig {
    /// Reads and validates the configuration at `path`; relative paths inside resolve against
    /// the file's directory.
    public static func load(path: String) throws(ConfigError) -> GateConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(
                path: path, message: FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist")
        }
        let base = (path as NSString).deletingLastPathComponent
        return try parse(data, path: path, baseDirectory: base.isEmpty ? "." : base)
    }

    /// Decodes `data` through the strict JSON layer (`StrictJSON`: unknown and duplicate keys,
    /// trailing commas and comments are refused with their line and column), then resolves the
    /// relative paths against `baseDirectory`.
    public static func parse(_ data: Data, path: String, baseDirectory: String) throws(ConfigError) -> GateConfig {
        do {
            var config = try StrictJSON.decode(GateConfig.self, from: [UInt8](data))
            config.resolvePaths(against: baseDirectory)
            return config
        } catch {
            throw ConfigError(path: path, message: error.description, position: error.position)
        }
    }

    /// Makes every relative path of the file absolute against `base` (paths decode as written),
    /// and sets the default snapshot file, which lives in the journal directory.
    mutating func resolvePaths(against base: String) {
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : base + "/" + p }
        journalDirectory = resolve(journalDirectory)
        snapshotFile = snapshotFile.map(resolve) ?? journalDirectory + "/table.snapshot"
        controlSocket = resolve(controlSocket)
        metricsFile = metricsFile.map(resolve)
        if case .sqlite(let p) = central { central = .sqlite(path: resolve(p)) }
        centralPublicKeyFile = centralPublicKeyFile.map(resolve)
        readers.script = readers.script.map(resolve)
        policyDirectory = policyDirectory.map(resolve)
        io.map = io.map.map(resolve)
        if var r = rideCodes {
            r.issuerKeys = r.issuerKeys.map(resolve)
            r.replayFile = r.replayFile.map(resolve) ?? journalDirectory + "/ride-code-replay.bin"
            r.scanners = r.scanners.map { sc in
                var sc = sc
                sc.device = sc.device.map(resolve)
                return sc
            }
            rideCodes = r
        }
    }
}
