import FaregateCore

/// The keys of the configuration file (README.md "Configuration file"): snake_case, like the policy
/// files. Decoded through `StrictJSON` by `GateConfig.parse`; paths decode as written and are
/// resolved by `parse`. Encoding writes every setting explicitly (a round trip decodes to the same
/// value), the inline `policy` only when no `policy_dir` is set.
extension GateConfig: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case gateID = "gate_id"
        case station, line
        case journalDirectory = "journal_dir"
        case journalFsync = "journal_fsync"
        case journalRotateMiB = "journal_rotate_mib"
        case ringCapacity = "ring_capacity"
        case utcOffsetHours = "utc_offset_hours"
        case snapshotFile = "snapshot_file"
        case controlSocket = "control_socket"
        case metricsFile = "metrics_file"
        case metricsIntervalSeconds = "metrics_interval_seconds"
        case central, sync, readers, barrier, access
        case policyDirectory = "policy_dir"
        case era, policy
    }

    enum CentralKeys: String, CodingKey, CaseIterable {
        case sqlite, postgres
        case publicKey = "public_key"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(gateID: try c.decode(String.self, forKey: .gateID), journalDirectory: "")
        guard !gateID.isEmpty, gateID.count <= 64,
            gateID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) })
        else {
            throw DecodingError.dataCorruptedError(
                forKey: .gateID, in: c, debugDescription: "must be 1–64 characters of letters, digits, '-', '_' or '.'")
        }
        journalDirectory = try c.decode(String.self, forKey: .journalDirectory)
        station = try c.decodeIfPresent(String.self, forKey: .station)
        line = try c.decodeIfPresent(String.self, forKey: .line)
        journalFsync = try c.decodeIfPresent(Bool.self, forKey: .journalFsync) ?? journalFsync
        journalRotateBytes = (try c.decodeIfPresent(Int.self, forKey: .journalRotateMiB, in: 1...65536) ?? 64) << 20
        ringCapacity = try c.decodeIfPresent(Int.self, forKey: .ringCapacity, in: 2...(1 << 20)) ?? ringCapacity
        guard ringCapacity & (ringCapacity - 1) == 0 else {
            throw DecodingError.dataCorruptedError(
                forKey: .ringCapacity, in: c, debugDescription: "must be a power of two, not \(ringCapacity)")
        }
        utcOffsetHours = try c.decodeIfPresent(Int.self, forKey: .utcOffsetHours, in: -12...14) ?? utcOffsetHours
        snapshotFile = try c.decodeIfPresent(String.self, forKey: .snapshotFile)
        controlSocket = try c.decodeIfPresent(String.self, forKey: .controlSocket) ?? controlSocket
        metricsFile = try c.decodeIfPresent(String.self, forKey: .metricsFile)
        metricsIntervalSeconds =
            try c.decodeIfPresent(Double.self, forKey: .metricsIntervalSeconds, in: 1...3600) ?? metricsIntervalSeconds

        if c.contains(.central), try !c.decodeNil(forKey: .central) {
            let cc = try c.nestedContainer(keyedBy: CentralKeys.self, forKey: .central)
            switch (
                try cc.decodeIfPresent(String.self, forKey: .sqlite),
                try cc.decodeIfPresent(String.self, forKey: .postgres)
            ) {
            case (let p?, nil): central = .sqlite(path: p)
            case (nil, let conninfo?): central = .postgres(conninfo: conninfo)
            case (nil, nil): break
            case (_?, _?):
                throw DecodingError.dataCorruptedError(
                    forKey: .postgres, in: cc, debugDescription: "is set with central.sqlite: set one of them, not both"
                )
            }
            centralPublicKeyFile = try cc.decodeIfPresent(String.self, forKey: .publicKey)
        }
        sync = try c.decodeIfPresent(Sync.self, forKey: .sync) ?? sync
        readers = try c.decodeIfPresent(Readers.self, forKey: .readers) ?? readers
        barrier = try c.decodeIfPresent(BarrierSettings.self, forKey: .barrier) ?? barrier
        access = try c.decodeIfPresent(AccessRules.self, forKey: .access)

        policyDirectory = try c.decodeIfPresent(String.self, forKey: .policyDirectory)
        era = try c.decodeIfPresent(String.self, forKey: .era)
        let inline = try c.decodeIfPresent(InlinePolicy.self, forKey: .policy)
        if policyDirectory != nil && inline != nil {
            throw DecodingError.dataCorruptedError(
                forKey: .policy, in: c,
                debugDescription: "and policy_dir are both set: choose inline rules or policy files")
        }
        if era != nil && policyDirectory == nil {
            throw DecodingError.dataCorruptedError(
                forKey: .era, in: c, debugDescription: "needs policy_dir (eras are defined in the policy files)")
        }
        policy = inline?.policy ?? policy
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(gateID, forKey: .gateID)
        try c.encodeIfPresent(station, forKey: .station)
        try c.encodeIfPresent(line, forKey: .line)
        try c.encode(journalDirectory, forKey: .journalDirectory)
        try c.encode(journalFsync, forKey: .journalFsync)
        try c.encode(journalRotateBytes >> 20, forKey: .journalRotateMiB)
        try c.encode(ringCapacity, forKey: .ringCapacity)
        try c.encode(utcOffsetHours, forKey: .utcOffsetHours)
        try c.encodeIfPresent(snapshotFile, forKey: .snapshotFile)
        try c.encode(controlSocket, forKey: .controlSocket)
        try c.encodeIfPresent(metricsFile, forKey: .metricsFile)
        try c.encode(metricsIntervalSeconds, forKey: .metricsIntervalSeconds)
        var cc = c.nestedContainer(keyedBy: CentralKeys.self, forKey: .central)
        switch central {
        case .sqlite(let path): try cc.encode(path, forKey: .sqlite)
        case .postgres(let conninfo): try cc.encode(conninfo, forKey: .postgres)
        case .none: break
        }
        try cc.encodeIfPresent(centralPublicKeyFile, forKey: .publicKey)
        try c.encode(sync, forKey: .sync)
        try c.encode(readers, forKey: .readers)
        try c.encode(barrier, forKey: .barrier)
        try c.encodeIfPresent(access, forKey: .access)
        try c.encodeIfPresent(policyDirectory, forKey: .policyDirectory)
        try c.encodeIfPresent(era, forKey: .era)
        if policyDirectory == nil { try c.encode(policy, forKey: .policy) }
    }

    /// The inline `policy` object: the 2022 health-check era with the fields it sets changed, read
    /// by the same decoder as the rule sets of policy files.
    struct InlinePolicy: Decodable {
        var policy: GatePolicy
        init(from decoder: any Decoder) throws { policy = try GatePolicy(from: decoder, defaults: .healthCheckEra) }
    }
}

extension GateConfig.Sync: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case intervalSeconds = "interval_seconds"
        case jitterSeconds = "jitter_seconds"
        case maxBackoffSeconds = "max_backoff_seconds"
        case uploadBatch = "upload_batch"
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        intervalSeconds =
            try c.decodeIfPresent(Double.self, forKey: .intervalSeconds, in: 0.01...86400) ?? intervalSeconds
        jitterSeconds = try c.decodeIfPresent(Double.self, forKey: .jitterSeconds, in: 0...3600) ?? jitterSeconds
        maxBackoffSeconds =
            try c.decodeIfPresent(Double.self, forKey: .maxBackoffSeconds, in: 0.01...86400) ?? maxBackoffSeconds
        uploadBatch = try c.decodeIfPresent(Int.self, forKey: .uploadBatch, in: 1...1_000_000) ?? uploadBatch
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(intervalSeconds, forKey: .intervalSeconds)
        try c.encode(jitterSeconds, forKey: .jitterSeconds)
        try c.encode(maxBackoffSeconds, forKey: .maxBackoffSeconds)
        try c.encode(uploadBatch, forKey: .uploadBatch)
    }
}

extension GateConfig.Readers.Backend: NamedCase {
    public var name: String { rawValue }
}

extension GateConfig.Readers: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case backend, count, names, script
        case busyBudgetMillis = "busy_budget_ms"
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        backend = try c.decodeNameIfPresent(Backend.self, forKey: .backend) ?? backend
        count = try c.decodeIfPresent(Int.self, forKey: .count, in: 1...16) ?? count
        names = try c.decodeIfPresent([String].self, forKey: .names) ?? names
        script = try c.decodeIfPresent(String.self, forKey: .script)
        busyBudgetMillis = try c.decodeIfPresent(Int.self, forKey: .busyBudgetMillis, in: 0...250) ?? busyBudgetMillis
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeName(backend, forKey: .backend)
        try c.encode(count, forKey: .count)
        try c.encode(names, forKey: .names)
        try c.encodeIfPresent(script, forKey: .script)
        try c.encode(busyBudgetMillis, forKey: .busyBudgetMillis)
    }
}

extension GateConfig.BarrierSettings: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case io, directions, enforcement
        case readerEnds = "reader_ends"
        case unusedOpeningSeconds = "unused_opening_seconds"
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let io = try c.decodeIfPresent(String.self, forKey: .io), io != "simulated" {
            throw DecodingError.dataCorruptedError(
                forKey: .io, in: c, debugDescription: "must be simulated (no I/O board driver in this build)")
        }
        directions = try c.decodeNameIfPresent(DirectionMode.self, forKey: .directions) ?? directions
        enforcement = try c.decodeNameIfPresent(Enforcement.self, forKey: .enforcement) ?? enforcement
        readerEnds = try c.decodeNamesIfPresent(GateEnd.self, forKey: .readerEnds) ?? readerEnds
        unusedOpeningSeconds =
            try c.decodeIfPresent(Double.self, forKey: .unusedOpeningSeconds, in: 1...120) ?? unusedOpeningSeconds
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("simulated", forKey: .io)
        try c.encodeName(directions, forKey: .directions)
        try c.encodeName(enforcement, forKey: .enforcement)
        try c.encodeNames(readerEnds, forKey: .readerEnds)
        try c.encode(unusedOpeningSeconds, forKey: .unusedOpeningSeconds)
    }
}
