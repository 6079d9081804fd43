import FaregateCore

/// The keys of the configuration file (README.md "Configuration file"), in one table per object:
/// snake_case, like the policy files. Decoded through `StrictJSON` by `GateConfig.parse`; paths
/// decode as written and are resolved by `parse`. Fields decode in table order, so `era` and
/// `policy` can be checked against the `policy_dir` before them. Encoding writes every setting
/// (a round trip decodes to the same value), the inline `policy` only when no `policy_dir` is set.
extension GateConfig: JSONSettings {
    public static var defaults: GateConfig { GateConfig(gateID: "", journalDirectory: "") }

    public static var fields: [JSONField<GateConfig>] {
        [
            JSONField(
                "gate_id",
                decode: { c, k, root, _ in
                    root.gateID = try c.decode(String.self, forKey: k)
                    guard !root.gateID.isEmpty, root.gateID.count <= 64,
                        root.gateID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) })
                    else {
                        throw DecodingError.dataCorruptedError(
                            forKey: k, in: c,
                            debugDescription: "must be 1–64 characters of letters, digits, '-', '_' or '.'")
                    }
                }, encode: { c, k, root in try c.encode(root.gateID, forKey: k) }),
            .optional("station", \.station), .optional("line", \.line),
            JSONField(
                "journal_dir",
                decode: { c, k, root, _ in root.journalDirectory = try c.decode(String.self, forKey: k) },
                encode: { c, k, root in try c.encode(root.journalDirectory, forKey: k) }),
            .value("journal_fsync", \.journalFsync),
            JSONField(
                "journal_rotate_mib",
                decode: { c, k, root, _ in
                    if let mib = try c.decodeIfPresent(Int.self, forKey: k, in: 1...65536) {
                        root.journalRotateBytes = mib << 20
                    }
                }, encode: { c, k, root in try c.encode(root.journalRotateBytes >> 20, forKey: k) }),
            JSONField(
                "ring_capacity",
                decode: { c, k, root, _ in
                    guard let n = try c.decodeIfPresent(Int.self, forKey: k, in: 2...(1 << 20)) else { return }
                    guard n & (n - 1) == 0 else {
                        throw DecodingError.dataCorruptedError(
                            forKey: k, in: c, debugDescription: "must be a power of two, not \(n)")
                    }
                    root.ringCapacity = n
                }, encode: { c, k, root in try c.encode(root.ringCapacity, forKey: k) }),
            .value("utc_offset_hours", \.utcOffsetHours, in: -12...14), .optional("snapshot_file", \.snapshotFile),
            .value("control_socket", \.controlSocket), .optional("metrics_file", \.metricsFile),
            .value("metrics_interval_seconds", \.metricsIntervalSeconds, in: 1...3600), .name("log_level", \.logLevel),
            JSONField(
                "central",
                decode: { c, k, root, _ in
                    guard let central = try c.decodeIfPresent(CentralSettings.self, forKey: k) else { return }
                    switch (central.sqlite, central.postgres) {
                    case (let p?, nil): root.central = .sqlite(path: p)
                    case (nil, let conninfo?): root.central = .postgres(conninfo: conninfo)
                    case (nil, nil): break
                    case (_?, _?):
                        throw DecodingError.dataCorruptedError(
                            forKey: k, in: c, debugDescription: "must set sqlite or postgres, not both")
                    }
                    root.centralPublicKeyFile = central.publicKey
                    root.centralNetwork = central.network
                    root.centralEnvironment = central.environment
                    root.centralMinimumVersion = central.minimumVersion
                    guard central.publicKey == nil || (central.network != nil && central.environment != nil) else {
                        throw DecodingError.dataCorruptedError(
                            forKey: k, in: c,
                            debugDescription:
                                "public_key needs network and environment (the scope publications are signed for)")
                    }
                    if let network = central.network, let environment = central.environment {
                        do { _ = try SyncScope(network: network, environment: environment) } catch {
                            throw DecodingError.dataCorruptedError(forKey: k, in: c, debugDescription: "\(error)")
                        }
                    }
                }, encode: { c, k, root in try c.encode(CentralSettings(root), forKey: k) }),
            .value("sync", \.sync), .value("readers", \.readers), .value("barrier", \.barrier),
            JSONField(
                "io",
                decode: { c, k, root, _ in
                    guard let io = try c.decodeIfPresent(IO.self, forKey: k) else { return }
                    let missing: String? =
                        switch io.backend {
                        case .simulated: nil
                        case .modbusRTU: io.map == nil ? "map" : io.device == nil ? "device" : nil
                        case .modbusTCP: io.map == nil ? "map" : io.host == nil ? "host" : nil
                        }
                    if let missing {
                        throw DecodingError.dataCorruptedError(
                            forKey: k, in: c,
                            debugDescription: "needs \(missing) for the \(io.backend.rawValue) backend")
                    }
                    root.io = io
                }, encode: { c, k, root in try c.encode(root.io, forKey: k) }),
            JSONField(
                "ride_codes",
                decode: { c, k, root, _ in
                    guard let r = try c.decodeIfPresent(RideCodes.self, forKey: k) else { return }
                    // Precedence (README "Ride codes"): with a pinned central key the issuer keys in
                    // force are the ones central signs and the gate syncs; a local file beside them
                    // would leave two sources of truth, so that combination is refused.
                    if r.issuerKeys != nil && root.centralPublicKeyFile != nil {
                        throw DecodingError.dataCorruptedError(
                            forKey: k, in: c,
                            debugDescription:
                                "issuer_keys (a local file) cannot be set with central.public_key: a gate with a pinned central key takes the issuer keys central signs (remove issuer_keys)"
                        )
                    }
                    if !r.scanners.isEmpty && r.issuerKeys == nil && root.centralPublicKeyFile == nil {
                        throw DecodingError.dataCorruptedError(
                            forKey: k, in: c,
                            debugDescription:
                                "needs issuer_keys (a file) when scanners are set, or central.public_key (issuer keys by signed sync)"
                        )
                    }
                    if let i = r.scanners.firstIndex(where: { $0.backend == .serial && $0.device == nil }) {
                        throw DecodingError.dataCorruptedError(
                            forKey: k, in: c, debugDescription: "scanners[\(i)] needs device for the serial backend")
                    }
                    if let i = r.scanners.firstIndex(where: {
                        $0.backend == .serial && SerialRideCodeScanner.Settings.speeds[$0.baud] == nil
                    }) {
                        throw DecodingError.dataCorruptedError(
                            forKey: k, in: c,
                            debugDescription:
                                "scanners[\(i)].baud \(r.scanners[i].baud) is not one of "
                                + SerialRideCodeScanner.Settings.speeds.keys.sorted().map(String.init).joined(
                                    separator: ", "))
                    }
                    root.rideCodes = r
                }, encode: { c, k, root in try c.encodeIfPresent(root.rideCodes, forKey: k) }),
            .optional("access", \.access), .optional("policy_dir", \.policyDirectory),
            JSONField(
                "era",
                decode: { c, k, root, _ in
                    root.era = try c.decodeIfPresent(String.self, forKey: k)
                    if root.era != nil && root.policyDirectory == nil {
                        throw DecodingError.dataCorruptedError(
                            forKey: k, in: c,
                            debugDescription: "needs policy_dir (eras are defined in the policy files)")
                    }
                }, encode: { c, k, root in try c.encodeIfPresent(root.era, forKey: k) }),
            JSONField(
                "policy",
                decode: { c, k, root, _ in
                    guard let inline = try c.decodeIfPresent(InlinePolicy.self, forKey: k) else { return }
                    guard root.policyDirectory == nil else {
                        throw DecodingError.dataCorruptedError(
                            forKey: k, in: c,
                            debugDescription: "and policy_dir are both set: choose inline rules or policy files")
                    }
                    root.policy = inline.policy
                },
                encode: { c, k, root in
                    if root.policyDirectory == nil { try c.encode(root.policy, forKey: k) }
                }),
        ]
    }

    /// The inline `policy` object: the 2022 health-check era with the fields it sets changed, read
    /// by the same decoder as the rule sets of policy files.
    struct InlinePolicy: Decodable {
        var policy: GatePolicy
        init(from decoder: any Decoder) throws { policy = try GatePolicy(from: decoder, defaults: .healthCheckEra) }
    }

    /// The `central` object: one store, and the key its publications are signed with.
    struct CentralSettings: JSONSettings {
        var sqlite: String?
        var postgres: String?
        var publicKey: String?
        var network: String?
        var environment: String?
        var minimumVersion: UInt64 = 0

        static var defaults: CentralSettings { CentralSettings() }
        static var fields: [JSONField<CentralSettings>] {
            [
                .optional("sqlite", \.sqlite),
                JSONField(
                    "postgres",
                    decode: { c, k, root, _ in
                        root.postgres = try c.decodeIfPresent(String.self, forKey: k)
                        let found = root.postgres.map(LibpqConnectionString.secrets(in:)) ?? []
                        guard found.isEmpty else {
                            throw DecodingError.dataCorruptedError(
                                forKey: k, in: c,
                                debugDescription:
                                    "must not hold a password (it sets \(found.joined(separator: ", "))): "
                                    + "give it to libpq in a passfile (PGPASSFILE, ~/.pgpass of the daemon's user, "
                                    + "or passfile=PATH in the connection string), mode 0600")
                        }
                    }, encode: { c, k, root in try c.encodeIfPresent(root.postgres, forKey: k) }),
                .optional("public_key", \.publicKey),
                .optional("network", \.network), .optional("environment", \.environment),
                .value("minimum_version", \.minimumVersion, in: 0...SyncManifest.maxVersion),
            ]
        }

        init() {}

        init(_ config: GateConfig) {
            if case .sqlite(let path) = config.central { sqlite = path }
            if case .postgres(let conninfo) = config.central { postgres = conninfo }
            publicKey = config.centralPublicKeyFile
            network = config.centralNetwork
            environment = config.centralEnvironment
            minimumVersion = config.centralMinimumVersion
        }
    }
}

extension GateConfig.Sync: JSONSettings {
    public static var defaults: Self { Self() }

    public static var fields: [JSONField<Self>] {
        [
            .value("interval_seconds", \.intervalSeconds, in: 0.01...86400),
            .value("jitter_seconds", \.jitterSeconds, in: 0...3600),
            .value("max_backoff_seconds", \.maxBackoffSeconds, in: 0.01...86400),
            .value("upload_batch", \.uploadBatch, in: 1...1_000_000),
        ]
    }
}

extension GateConfig.Readers.Backend: NamedCase {
    public var name: String { rawValue }
}

extension GateConfig.Readers: JSONSettings {
    public static var defaults: Self { Self() }

    public static var fields: [JSONField<Self>] {
        [
            .name("backend", \.backend), .value("count", \.count, in: 1...16), .value("names", \.names),
            .optional("script", \.script), .value("busy_budget_ms", \.busyBudgetMillis, in: 0...250),
        ]
    }
}

extension GateConfig.BarrierSettings: JSONSettings {
    public static var defaults: Self { Self() }

    public static var fields: [JSONField<Self>] {
        [
            JSONField(
                "io",
                decode: { c, k, _, _ in
                    if let io = try c.decodeIfPresent(String.self, forKey: k), io != "simulated" {
                        throw DecodingError.dataCorruptedError(
                            forKey: k, in: c,
                            debugDescription: "must be simulated (the board is chosen by the top-level io.backend)")
                    }
                }, encode: { c, k, _ in try c.encode("simulated", forKey: k) }),
            .name("directions", \.directions), .name("enforcement", \.enforcement),
            .names("reader_ends", \.readerEnds), .value("unused_opening_seconds", \.unusedOpeningSeconds, in: 1...120),
        ]
    }
}

extension GateConfig.IO.Backend: NamedCase {
    public var name: String { rawValue }
}

extension GateConfig.IO.Parity: NamedCase {
    public var name: String { rawValue }
}

extension GateConfig.IO: JSONSettings {
    public static var defaults: Self { Self() }

    public static var fields: [JSONField<Self>] {
        [
            .name("backend", \.backend), .optional("map", \.map), .optional("device", \.device),
            .value("baud", \.baud, in: 300...4_000_000), .name("parity", \.parity),
            .value("data_bits", \.dataBits, in: 5...8),
            .value("stop_bits", \.stopBits, in: 1...2), .value("slave_id", \.slaveID, in: 1...247),
            .optional("host", \.host), .value("port", \.port, in: 1...65535), .value("unit_id", \.unitID, in: 0...255),
            .value("poll_interval_ms", \.pollIntervalMillis, in: 1...1000),
            .value("response_timeout_ms", \.responseTimeoutMillis, in: 5...5000),
            .value("failed_polls_out_of_service", \.failedPollsOutOfService, in: 1...1000),
            .value("reconnect_max_ms", \.reconnectMaxMillis, in: 100...600_000),
        ]
    }
}

extension GateConfig.RideCodes.Scanner.Backend: NamedCase {
    public var name: String { rawValue }
}

extension GateConfig.RideCodes.Scanner: JSONSettings {
    public static var defaults: Self { Self() }

    public static var fields: [JSONField<Self>] {
        [
            .name("backend", \.backend), .optional("device", \.device), .value("baud", \.baud, in: 300...4_000_000),
            .name("terminator", \.terminator), .value("max_length", \.maxLength, in: 16...65536),
        ]
    }
}

extension GateConfig.RideCodes: JSONSettings {
    public static var defaults: Self { Self() }

    public static var fields: [JSONField<Self>] {
        [
            .value("scanners", \.scanners), .optional("issuer_keys", \.issuerKeys),
            .optional("replay_file", \.replayFile), .value("replay_capacity", \.replayCapacity, in: 8...(1 << 24)),
            .value("max_age_seconds", \.maxAgeSeconds, in: 1...3600),
            .value("max_skew_seconds", \.maxSkewSeconds, in: 0...3600),
        ]
    }
}

extension GateConfig.RideCodes {
    /// Reads the issuer keys file (RIDECODE.md's JSON array), refusing it with the field named.
    public func loadIssuerKeys() throws(ConfigError) -> RideCodeIssuerKeyList {
        guard let path = issuerKeys else { return .empty }
        let bytes: [UInt8]
        do {
            guard let b = try FileBytes.read(path, maxBytes: RideCodeIssuerKeyList.maxFileBytes) else {
                throw ConfigError(path: path, message: "ride_codes.issuer_keys does not exist")
            }
            bytes = b
        } catch let e as ConfigError {
            throw e
        } catch {
            throw ConfigError(path: path, message: "ride_codes.issuer_keys cannot be read (\(error))")
        }
        do {
            return try RideCodeIssuerKeyList.decode(json: bytes)
        } catch {
            throw ConfigError(path: path, message: "ride_codes.issuer_keys: \(error)")
        }
    }

    public var freshness: RideCodeFreshness {
        RideCodeFreshness(maxAgeSeconds: Int64(maxAgeSeconds), maxSkewSeconds: Int64(maxSkewSeconds))
    }
}
