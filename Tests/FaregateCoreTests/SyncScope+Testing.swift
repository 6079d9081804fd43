import FaregateCore

extension SyncScope {
    /// The scope the tests' gates serve, and another environment's signed with the same key.
    static var production: SyncScope { get throws { try SyncScope(network: "metro", environment: "production") } }
    static var staging: SyncScope { get throws { try SyncScope(network: "metro", environment: "staging") } }
}
