/// The one rendering of a journal entry for people and tools: `textLine` for a person (`farectl
/// journal tail`, `farectl tap`, the daemon's tap log line) and the `Codable` JSON object for
/// tools (`--json`, the control socket). `JournalCodec` is the other, durable form: the line in
/// `journal.log` with its checksum, which no person is meant to read.
extension JournalEntry {
    /// Tab-separated: sequence, wall-clock milliseconds, reader, card, outcome, reason, the
    /// rider's message in Chinese and English; then, for an entry with a shadow decision,
    /// `shadow OUTCOME(REASON)`. A staff command has `-` for reader and card and ends with
    /// `command TOKEN` (`command mode=closed`); a lane event likewise ends with `event TOKEN`
    /// (`event io_board=lost`). A passage on a ride code ends with `ride_code counter=N
    /// generated_at=T`, and ` clearing` when the ride is settled by inter-city clearing.
    public var textLine: String { textLine(sequence: String(sequence)) }

    /// The line with `sequence` in the first column: `-` for an entry that never became durable
    /// (`GateCore.Settlement.textLine`).
    func textLine(sequence: String) -> String {
        let reason = decision.reason
        let who = kind.isTap ? "r\(reader)\t\(key.text)" : "-\t-"
        var line =
            "\(sequence)\t\(wallMillis)\t\(who)\t\(decision.outcome)\t\(reason.code)\t"
            + "\(reason.messageZH) / \(reason.messageEN)"
        if let shadowDecision { line += "\tshadow \(shadowDecision)" }
        if let command { line += "\tcommand \(command.token)" }
        if let event { line += "\tevent \(event.token)" }
        if let rideCode {
            line += "\tride_code counter=\(rideCode.counter) generated_at=\(rideCode.generatedAt)"
            if rideCode.clearing { line += " clearing" }
        }
        return line
    }
}

extension JournalEntry: Codable {
    /// The JSON keys. `message_zh` and `message_en` are written for the reader's convenience and
    /// follow from `reason`, so they are not read back.
    enum Field: String {
        case sequence = "seq", wallMillis = "wall_ms", reader, card, kind, outcome, reason
        case messageZH = "message_zh", messageEN = "message_en", balanceFen = "balance_fen"
        case dataVersion = "data_version", timings = "timings_us"
        case shadowOutcome = "shadow_outcome", shadowReason = "shadow_reason"
        case command, event, rideCode = "ride_code"

        var key: ControlKey { ControlKey(stringValue: rawValue) }
    }

    public init(from decoder: any Decoder) throws {
        let f = try ControlFields(decoder, what: "the journal entry")
        func decision(_ outcome: Field, _ reason: Field) throws(ControlFailure) -> Decision? {
            guard let o = try f.string(outcome.rawValue) else { return nil }
            let r = try f.string(reason.rawValue) ?? ""
            guard let outcome = Decision.Outcome(name: o), let reason = Reason(code: r) else {
                throw ControlFailure(.badRequest, "the journal entry's decision \(o)(\(r)) is not one this build knows")
            }
            return Decision(outcome: outcome, reason: reason)
        }
        let kindName: String = try f.required(Field.kind.rawValue, "a string")
        guard let kind = Kind(name: kindName) else {
            throw ControlFailure(.badRequest, "the journal entry's kind '\(kindName)' is not one this build knows")
        }
        guard let enforced = try decision(.outcome, .reason) else {
            throw ControlFailure(.badRequest, "the journal entry needs field 'outcome'")
        }
        var command: StaffCommand?
        if let token = try f.string(Field.command.rawValue) {
            guard let c = StaffCommand(token: token) else {
                throw ControlFailure(.badRequest, "the journal entry's command '\(token)' is not one this build knows")
            }
            command = c
        }
        guard (kind == .staffCommand) == (command != nil) else {
            throw ControlFailure(
                .badRequest, "a journal entry has field 'command' exactly when its kind is staff_command")
        }
        var event: LaneEvent?
        if let token = try f.string(Field.event.rawValue) {
            guard let e = LaneEvent(token: token) else {
                throw ControlFailure(.badRequest, "the journal entry's event '\(token)' is not one this build knows")
            }
            event = e
        }
        guard (kind == .laneEvent) == (event != nil) else {
            throw ControlFailure(.badRequest, "a journal entry has field 'event' exactly when its kind is lane_event")
        }
        let rideCode: RideCodeEvidence? = try f.optional(Field.rideCode.rawValue, "a ride code's evidence object")
        let key = try f.card(Field.card.rawValue, allowUnread: true)
        if let rideCode {
            guard kind == .decision, enforced.outcome == .open, rideCode.cardKey == key else {
                throw ControlFailure(
                    .badRequest, "a journal entry has field 'ride_code' only for a passage on that ride code")
            }
        }
        let t: [String: UInt32] = try f.optional(Field.timings.rawValue, "an object of microseconds") ?? [:]
        self.init(
            sequence: try f.unsigned(Field.sequence.rawValue),
            wallMillis: try f.required(Field.wallMillis.rawValue, "a whole number"),
            reader: try f.integer(Field.reader.rawValue, in: 0...UInt16.max) ?? 0,
            key: key, kind: kind, decision: enforced,
            balanceFen: try f.integer(Field.balanceFen.rawValue, in: Int32.min...Int32.max),
            dataVersion: try f.unsigned(Field.dataVersion.rawValue),
            timings: StageTimings(
                select: t["select"] ?? 0, read: t["read"] ?? 0, queue: t["queue"] ?? 0, lookup: t["lookup"] ?? 0,
                decide: t["decide"] ?? 0),
            shadowDecision: try decision(.shadowOutcome, .shadowReason), command: command, event: event,
            rideCode: rideCode)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: ControlKey.self)
        try c.encode(sequence, forKey: Field.sequence.key)
        try c.encode(wallMillis, forKey: Field.wallMillis.key)
        try c.encode(reader, forKey: Field.reader.key)
        try c.encode(key.text, forKey: Field.card.key)
        try c.encode(kind.description, forKey: Field.kind.key)
        try c.encode(decision.outcome.description, forKey: Field.outcome.key)
        try c.encode(decision.reason.code, forKey: Field.reason.key)
        try c.encode(decision.reason.messageZH, forKey: Field.messageZH.key)
        try c.encode(decision.reason.messageEN, forKey: Field.messageEN.key)
        try c.encodeIfPresent(balanceFen, forKey: Field.balanceFen.key)
        try c.encode(dataVersion, forKey: Field.dataVersion.key)
        let t = timings
        try c.encode(
            ["select": t.select, "read": t.read, "queue": t.queue, "lookup": t.lookup, "decide": t.decide],
            forKey: Field.timings.key)
        try c.encodeIfPresent(shadowDecision?.outcome.description, forKey: Field.shadowOutcome.key)
        try c.encodeIfPresent(shadowDecision?.reason.code, forKey: Field.shadowReason.key)
        try c.encodeIfPresent(command?.token, forKey: Field.command.key)
        try c.encodeIfPresent(event?.token, forKey: Field.event.key)
        try c.encodeIfPresent(rideCode, forKey: Field.rideCode.key)
    }
}
