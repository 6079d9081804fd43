import FaregateCore
import Foundation

/// The configuration file of `faregated` (JSON, documented in README.md "Configuration").
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

    /// The passage's barrier: I/O board, directions, enforcement, which end each reader serves.
    public struct BarrierSettings: Sendable, Equatable {
        public var directions: DirectionMode = .entryOnly
        public var enforcement: Enforcement = .enforced
        public var readerEnds: [GateEnd] = []
        public var unusedOpeningSeconds: Double = 5
        public init() {}
    }
    public var barrier = BarrierSettings()
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

    public struct Sync: Sendable, Equatable {
        public var intervalSeconds: Double = 60
        public var jitterSeconds: Double = 10
        public var maxBackoffSeconds: Double = 600
        public var uploadBatch: Int = 5000
        public init() {}
    }

    public struct Readers: Sendable, Equatable {
        public enum Backend: String, Sendable, Equatable { case simulated, pcsc }
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

/// A configuration problem, naming the file and the setting.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var message: String
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

    public static func parse(_ data: Data, path: String, baseDirectory: String) throws(ConfigError) -> GateConfig {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ConfigError(path: path, message: "not valid JSON: \(error.localizedDescription)")
        }
        guard let root = object as? [String: Any] else {
            throw ConfigError(path: path, message: "top level must be an object")
        }
        var r = Reader(path: path, object: root, context: "")
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : baseDirectory + "/" + p }

        var c = GateConfig(gateID: try r.string("gate_id"), journalDirectory: resolve(try r.string("journal_dir")))
        guard !c.gateID.isEmpty, c.gateID.count <= 64,
            c.gateID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) })
        else {
            throw ConfigError(
                path: path, message: "gate_id must be 1–64 characters of letters, digits, '-', '_' or '.'")
        }
        c.station = try r.optionalString("station")
        c.line = try r.optionalString("line")
        c.journalFsync = try r.optionalBool("journal_fsync") ?? true
        c.journalRotateBytes = (try r.optionalInt("journal_rotate_mib", in: 1...65536) ?? 64) << 20
        c.ringCapacity = try r.optionalInt("ring_capacity", in: 2...(1 << 20)) ?? 1024
        guard c.ringCapacity & (c.ringCapacity - 1) == 0 else {
            throw ConfigError(path: path, message: "ring_capacity must be a power of two, not \(c.ringCapacity)")
        }
        c.utcOffsetHours = try r.optionalInt("utc_offset_hours", in: -12...14) ?? 8
        c.snapshotFile = try r.optionalString("snapshot_file").map(resolve) ?? c.journalDirectory + "/table.snapshot"
        c.controlSocket = try r.optionalString("control_socket").map(resolve) ?? Self.defaultControlSocket
        c.metricsFile = try r.optionalString("metrics_file").map(resolve)
        c.metricsIntervalSeconds = try r.optionalDouble("metrics_interval_seconds", in: 1...3600) ?? 15

        if var central = try r.optionalObject("central") {
            let sqlite = try central.optionalString("sqlite")
            let postgres = try central.optionalString("postgres")
            switch (sqlite, postgres) {
            case (let p?, nil): c.central = .sqlite(path: resolve(p))
            case (nil, let conninfo?): c.central = .postgres(conninfo: conninfo)
            case (nil, nil): break
            case (_?, _?): throw ConfigError(path: path, message: "central: set sqlite or postgres, not both")
            }
            c.centralPublicKeyFile = try central.optionalString("public_key").map(resolve)
            try central.finish()
        }
        if var s = try r.optionalObject("sync") {
            c.sync.intervalSeconds =
                try s.optionalDouble("interval_seconds", in: 0.01...86400) ?? c.sync.intervalSeconds
            c.sync.jitterSeconds = try s.optionalDouble("jitter_seconds", in: 0...3600) ?? c.sync.jitterSeconds
            c.sync.maxBackoffSeconds =
                try s.optionalDouble("max_backoff_seconds", in: 0.01...86400) ?? c.sync.maxBackoffSeconds
            c.sync.uploadBatch = try s.optionalInt("upload_batch", in: 1...1_000_000) ?? c.sync.uploadBatch
            try s.finish()
        }
        if var rd = try r.optionalObject("readers") {
            if let b = try rd.optionalString("backend") {
                guard let backend = Readers.Backend(rawValue: b) else {
                    throw ConfigError(
                        path: path, message: "readers.backend must be \"simulated\" or \"pcsc\", not \"\(b)\"")
                }
                c.readers.backend = backend
            }
            c.readers.count = try rd.optionalInt("count", in: 1...16) ?? 1
            c.readers.names = try rd.optionalStrings("names") ?? []
            c.readers.script = try rd.optionalString("script").map(resolve)
            c.readers.busyBudgetMillis = try rd.optionalInt("busy_budget_ms", in: 0...250) ?? 150
            try rd.finish()
        }
        if var b = try r.optionalObject("barrier") {
            if let io = try b.optionalString("io"), io != "simulated" {
                throw ConfigError(
                    path: path, message: "barrier.io must be \"simulated\" (no I/O board driver in this build)")
            }
            if let d = try b.optionalString("directions") {
                guard
                    let m = [
                        "entry-only": DirectionMode.entryOnly, "exit-only": .exitOnly, "bidirectional": .bidirectional,
                    ][d]
                else {
                    throw ConfigError(
                        path: path, message: "barrier.directions must be entry-only, exit-only or bidirectional")
                }
                c.barrier.directions = m
            }
            if let e = try b.optionalString("enforcement") {
                guard let m = ["enforced": Enforcement.enforced, "shadow": .shadow][e] else {
                    throw ConfigError(path: path, message: "barrier.enforcement must be enforced or shadow")
                }
                c.barrier.enforcement = m
            }
            if let ends = try b.optionalStrings("reader_ends") {
                c.barrier.readerEnds = try ends.map { (e: String) throws(ConfigError) -> GateEnd in
                    guard let end = ["unpaid": GateEnd.unpaid, "paid": .paid][e] else {
                        throw ConfigError(path: path, message: "barrier.reader_ends: '\(e)' is not unpaid or paid")
                    }
                    return end
                }
            }
            c.barrier.unusedOpeningSeconds = try b.optionalDouble("unused_opening_seconds", in: 1...120) ?? 5
            try b.finish()
        }
        if var a = try r.optionalObject("access") {
            var rules = AccessRules()
            rules.antiPassbackSeconds = Int64(
                try a.optionalInt("anti_passback_seconds", in: 0...86400) ?? Int(rules.antiPassbackSeconds))
            rules.passback = try a.optionalOutcome("passback") ?? rules.passback
            rules.requireEntryRecord = try a.optionalBool("require_entry_record") ?? rules.requireEntryRecord
            rules.exitWithoutEntry = try a.optionalOutcome("exit_without_entry") ?? rules.exitWithoutEntry
            rules.entryLifetimeSeconds = Int64(
                try a.optionalInt("entry_lifetime_seconds", in: 60...(7 * 86400)) ?? Int(rules.entryLifetimeSeconds))
            try a.finish()
            c.access = rules
        }
        c.policyDirectory = try r.optionalString("policy_dir").map(resolve)
        c.era = try r.optionalString("era")
        if c.policyDirectory != nil && r.object["policy"] != nil {
            throw ConfigError(
                path: path, message: "policy and policy_dir are both set: choose inline rules or policy files")
        }
        if c.era != nil && c.policyDirectory == nil {
            throw ConfigError(path: path, message: "era needs policy_dir (eras are defined in the policy files)")
        }
        if var p = try r.optionalObject("policy") {
            var policy = GatePolicy.healthCheckEra
            policy.healthCheck = try p.optionalBool("health_check") ?? policy.healthCheck
            policy.unboundCard = try p.optionalOutcome("unbound_card") ?? policy.unboundCard
            policy.healthYellow = try p.optionalOutcome("health_yellow") ?? policy.healthYellow
            policy.healthRed = try p.optionalOutcome("health_red") ?? policy.healthRed
            policy.healthUnknown = try p.optionalOutcome("health_unknown") ?? policy.healthUnknown
            policy.unknownCard = try p.optionalOutcome("unknown_card") ?? policy.unknownCard
            policy.minimumBalanceFen = Int32(
                try p.optionalInt("minimum_balance_fen", in: 0...1_000_000) ?? Int(policy.minimumBalanceFen))
            policy.maxDataAgeSeconds =
                try p.optionalInt("max_data_age_seconds", in: 1...(86400 * 365)) ?? policy.maxDataAgeSeconds
            policy.staleData = try p.optionalOutcome("stale_data") ?? policy.staleData
            try p.finish()
            c.policy = policy
        }
        try r.finish()
        return c
    }

    /// Reads typed fields of one JSON object and remembers which keys were used.
    struct Reader {
        let path: String
        let object: [String: Any]
        let context: String
        var used: Set<String> = []

        init(path: String, object: [String: Any], context: String) {
            self.path = path
            self.object = object
            self.context = context
        }

        func name(_ key: String) -> String { context.isEmpty ? key : context + "." + key }
        func fail(_ key: String, _ what: String) -> ConfigError {
            ConfigError(path: path, message: "\(name(key)) \(what)")
        }

        mutating func raw(_ key: String) -> Any? {
            used.insert(key)
            guard let v = object[key], !(v is NSNull) else { return nil }
            return v
        }

        mutating func string(_ key: String) throws(ConfigError) -> String {
            guard let v = try optionalString(key) else { throw fail(key, "is required") }
            return v
        }

        mutating func optionalString(_ key: String) throws(ConfigError) -> String? {
            guard let v = raw(key) else { return nil }
            guard let s = v as? String else { throw fail(key, "must be a string") }
            return s
        }

        mutating func optionalStrings(_ key: String) throws(ConfigError) -> [String]? {
            guard let v = raw(key) else { return nil }
            guard let s = v as? [String] else { throw fail(key, "must be a list of strings") }
            return s
        }

        mutating func optionalBool(_ key: String) throws(ConfigError) -> Bool? {
            guard let v = raw(key) else { return nil }
            guard let n = v as? NSNumber, Self.isBoolean(n) else { throw fail(key, "must be true or false") }
            return n.boolValue
        }

        mutating func optionalDouble(_ key: String, in range: ClosedRange<Double>) throws(ConfigError) -> Double? {
            guard let v = raw(key) else { return nil }
            guard let n = v as? NSNumber, !Self.isBoolean(n) else { throw fail(key, "must be a number") }
            guard range.contains(n.doubleValue) else {
                throw fail(key, "must be between \(range.lowerBound) and \(range.upperBound)")
            }
            return n.doubleValue
        }

        mutating func optionalInt(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
            guard let d = try optionalDouble(key, in: Double(range.lowerBound)...Double(range.upperBound)) else {
                return nil
            }
            guard d == d.rounded() else { throw fail(key, "must be a whole number") }
            return Int(d)
        }

        mutating func optionalOutcome(_ key: String) throws(ConfigError) -> Decision.Outcome? {
            guard let s = try optionalString(key) else { return nil }
            guard let o = Decision.Outcome(name: s) else {
                throw fail(key, "must be \"open\", \"deny\" or \"staff\", not \"\(s)\"")
            }
            return o
        }

        mutating func optionalObject(_ key: String) throws(ConfigError) -> Reader? {
            guard let v = raw(key) else { return nil }
            guard let o = v as? [String: Any] else { throw fail(key, "must be an object") }
            return Reader(path: path, object: o, context: name(key))
        }

        /// JSONSerialization gives booleans as NSNumbers of ObjC type "c" (char), numbers otherwise.
        static func isBoolean(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }

        func finish() throws(ConfigError) {
            let unknown = Set(object.keys).subtracting(used).sorted()
            if let k = unknown.first { throw fail(k, "is not a known setting") }
        }
    }
}
