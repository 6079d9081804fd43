/// The `access` object of a gate configuration; every rule is optional and defaults as in `init`:
/// `{"anti_passback_seconds": 1200, "passback": "deny", "require_entry_record": true,
///   "exit_without_entry": "staff", "entry_lifetime_seconds": 14400}`.
extension AccessRules: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case antiPassbackSeconds = "anti_passback_seconds"
        case passback
        case requireEntryRecord = "require_entry_record"
        case exitWithoutEntry = "exit_without_entry"
        case entryLifetimeSeconds = "entry_lifetime_seconds"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = AccessRules()
        self.init(
            antiPassbackSeconds: try c.decodeIfPresent(Int64.self, forKey: .antiPassbackSeconds, in: 0...86400)
                ?? d.antiPassbackSeconds,
            passback: try c.decodeNameIfPresent(Decision.Outcome.self, forKey: .passback) ?? d.passback,
            requireEntryRecord: try c.decodeIfPresent(Bool.self, forKey: .requireEntryRecord) ?? d.requireEntryRecord,
            exitWithoutEntry: try c.decodeNameIfPresent(Decision.Outcome.self, forKey: .exitWithoutEntry)
                ?? d.exitWithoutEntry,
            entryLifetimeSeconds: try c.decodeIfPresent(Int64.self, forKey: .entryLifetimeSeconds, in: 60...(7 * 86400))
                ?? d.entryLifetimeSeconds)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(antiPassbackSeconds, forKey: .antiPassbackSeconds)
        try c.encodeName(passback, forKey: .passback)
        try c.encode(requireEntryRecord, forKey: .requireEntryRecord)
        try c.encodeName(exitWithoutEntry, forKey: .exitWithoutEntry)
        try c.encode(entryLifetimeSeconds, forKey: .entryLifetimeSeconds)
    }
}
