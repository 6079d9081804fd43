/// The `access` object of a gate configuration; every rule is optional and defaults as in `init`:
/// `{"anti_passback_seconds": 1200, "passback": "deny", "require_entry_record": true,
///   "exit_without_entry": "staff", "entry_lifetime_seconds": 14400}`.
extension AccessRules: JSONSettings {
    public static var defaults: AccessRules { AccessRules() }

    public static var fields: [JSONField<AccessRules>] {
        [
            .value("anti_passback_seconds", \.antiPassbackSeconds, in: 0...86400), .name("passback", \.passback),
            .value("require_entry_record", \.requireEntryRecord), .name("exit_without_entry", \.exitWithoutEntry),
            .value("entry_lifetime_seconds", \.entryLifetimeSeconds, in: 60...(7 * 86400)),
        ]
    }
}
