/// Entry and exit rules of a station's gates, as data (configuration, not code).
public struct AccessRules: Hashable, Sendable {
    /// The same card entering again within this many seconds of its last entry is refused.
    public var antiPassbackSeconds: Int64
    /// What a gate does with a passback.
    public var passback: Decision.Outcome
    /// Check, at exit, that the card has an entry record.
    public var requireEntryRecord: Bool
    /// What a gate does with an exit without an entry record (the rider is sent to staff to settle).
    public var exitWithoutEntry: Decision.Outcome
    /// An entry record older than this is forgotten (longest plausible ride, seconds).
    public var entryLifetimeSeconds: Int64

    public init(
        antiPassbackSeconds: Int64 = 20 * 60, passback: Decision.Outcome = .deny, requireEntryRecord: Bool = true,
        exitWithoutEntry: Decision.Outcome = .staff, entryLifetimeSeconds: Int64 = 4 * 3600
    ) {
        self.antiPassbackSeconds = antiPassbackSeconds
        self.passback = passback
        self.requireEntryRecord = requireEntryRecord
        self.exitWithoutEntry = exitWithoutEntry
        self.entryLifetimeSeconds = entryLifetimeSeconds
    }

    /// Rules that never refuse anything (a station without passage control).
    public static let permissive = AccessRules(
        antiPassbackSeconds: 0, passback: .open, requireEntryRecord: false, exitWithoutEntry: .open)
}
