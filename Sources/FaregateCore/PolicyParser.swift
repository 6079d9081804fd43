/// Turns one policy file into a `PolicyEra`, checking every field (see `PolicyEra` for the format).
enum PolicyParser {
    static let schemaVersion: Int64 = 1

    static func parse(_ bytes: [UInt8], file: String) throws(PolicyError) -> PolicyEra {
        let root = try PolicyObject(try PolicyJSON.parse(bytes, file: file), file: file, path: "")
        try root.allowOnly([
            "schema", "era", "title", "effectiveFrom", "source", "gateRules", "officeRules", "default", "lines",
            "stations",
        ])
        let schema = try root.int("schema", in: 1...Int64.max)
        guard schema == schemaVersion else {
            throw root.fail("schema", "version \(schema) is not understood by this build (\(schemaVersion))")
        }
        let id = try root.string("era")
        let title = try root.string("title")
        let from = try root.date("effectiveFrom")
        if root.has("source") { _ = try root.string("source") }

        let gateObj = try root.object("gateRules")
        var gateRules: [String: GatePolicy] = [:]
        for name in gateObj.fields.keys.sorted() {
            gateRules[name] = try gatePolicy(try gateObj.object(name))
        }
        guard !gateRules.isEmpty else { throw root.fail("gateRules", "defines no rule set") }

        let officeObj = try root.object("officeRules")
        var officeRules: [String: OfficeRules] = [:]
        for name in officeObj.fields.keys.sorted() {
            officeRules[name] = try office(try officeObj.object(name))
        }
        guard !officeRules.isEmpty else { throw root.fail("officeRules", "defines no rule set") }

        func assignment(_ o: PolicyObject, scopeKey: String?) throws(PolicyError) -> PolicyEra.Assignment {
            var allowed: Set<String> = ["enforce", "shadow", "office", "name"]
            if let scopeKey { allowed.insert(scopeKey) }
            try o.allowOnly(allowed)
            let a = PolicyEra.Assignment(
                enforce: try o.optionalString("enforce"), shadow: try o.optionalString("shadow"),
                office: try o.optionalString("office"), name: try o.optionalString("name"))
            for (key, value, known) in [
                ("enforce", a.enforce, Array(gateRules.keys)), ("shadow", a.shadow, Array(gateRules.keys)),
                ("office", a.office, Array(officeRules.keys)),
            ] {
                if let value, !known.contains(value) {
                    let set = key == "office" ? "officeRules" : "gateRules"
                    throw o.fail(
                        key, "'\(value)' is not defined in \(set) (defined: \(known.sorted().joined(separator: ", ")))")
                }
            }
            return a
        }

        let def = try root.object("default")
        let defaultAssignment = try assignment(def, scopeKey: nil)
        if defaultAssignment.enforce == nil { throw def.fail("enforce", "missing") }
        if defaultAssignment.office == nil { throw def.fail("office", "missing") }

        func scopes(_ key: String, scopeKey: String) throws(PolicyError) -> [String: PolicyEra.Assignment] {
            guard root.has(key) else { return [:] }
            var out: [String: PolicyEra.Assignment] = [:]
            for (i, v) in try root.array(key).enumerated() {
                let o = try PolicyObject(v, file: file, path: "\(key)[\(i)]")
                let name = try o.string(scopeKey)
                guard out[name] == nil else { throw o.fail(scopeKey, "'\(name)' is listed twice") }
                out[name] = try assignment(o, scopeKey: scopeKey)
            }
            return out
        }
        return PolicyEra(
            id: id, title: title, effectiveFrom: from, file: file, gateRules: gateRules, officeRules: officeRules,
            defaultAssignment: defaultAssignment, lines: try scopes("lines", scopeKey: "line"),
            stations: try scopes("stations", scopeKey: "station"))
    }

    static func gatePolicy(_ o: PolicyObject) throws(PolicyError) -> GatePolicy {
        try o.allowOnly([
            "healthCheck", "unboundCard", "unregisteredTicket", "unauthorisedRideCode", "healthYellow", "healthRed",
            "healthUnknown", "unknownCard", "staleData", "minimumBalanceFen", "maxDataAgeSeconds", "acceptedMedia",
            "suspendedMedia", "acceptedRideCodeIssuers", "note",
        ])
        let mediaNames = Medium.allCases.map(\.description)
        func mask(_ key: String) throws(PolicyError) -> UInt64? {
            guard o.has(key) else { return nil }
            return try o.names(key, known: mediaNames) { Medium(name: $0) }.reduce(0) { $0 | GatePolicy.bit(of: $1) }
        }
        var issuers = GatePolicy.allIssuers
        if o.has("acceptedRideCodeIssuers") {
            issuers = try o.names("acceptedRideCodeIssuers", known: RideCodeIssuer.allCases.map(\.description)) {
                RideCodeIssuer(name: $0)
            }.reduce(0) { $0 | $1.bit }
        }
        if o.has("note") { _ = try o.string("note") }
        let accepted = try mask("acceptedMedia") ?? GatePolicy.allMedia
        let suspended = try mask("suspendedMedia") ?? 0
        return GatePolicy(
            healthCheck: try o.bool("healthCheck"), unboundCard: try o.outcome("unboundCard"),
            healthYellow: try o.outcome("healthYellow"), healthRed: try o.outcome("healthRed"),
            healthUnknown: try o.outcome("healthUnknown"), unknownCard: try o.outcome("unknownCard"),
            minimumBalanceFen: Int32(try o.int("minimumBalanceFen", in: 0...Int64(Int32.max))),
            maxDataAgeSeconds: Int(try o.int("maxDataAgeSeconds", in: 1...(366 * 86400))),
            staleData: try o.outcome("staleData"), unregisteredTicket: try o.outcome("unregisteredTicket"),
            unauthorisedRideCode: try o.outcome("unauthorisedRideCode"), acceptedMedia: accepted,
            suspendedMedia: suspended, acceptedRideCodeIssuers: issuers)
    }

    static func office(_ o: PolicyObject) throws(PolicyError) -> OfficeRules {
        try o.allowOnly([
            "identityForIssue", "identityForTopUp", "identityForTicketSale", "maxPhysicalCardsPerIdentity",
            "bindOnBehalfWithCode", "staffBindForRelative", "electronicTicketSales", "refundUnusedElectronicTickets",
            "note",
        ])
        if o.has("note") { _ = try o.string("note") }
        return OfficeRules(
            identityForIssue: try o.bool("identityForIssue"), identityForTopUp: try o.bool("identityForTopUp"),
            identityForTicketSale: try o.bool("identityForTicketSale"),
            maxPhysicalCardsPerIdentity: Int(try o.int("maxPhysicalCardsPerIdentity", in: 0...1000)),
            bindOnBehalfWithCode: try o.bool("bindOnBehalfWithCode"),
            staffBindForRelative: try o.bool("staffBindForRelative"),
            electronicTicketSales: try o.bool("electronicTicketSales"),
            refundUnusedElectronicTickets: try o.bool("refundUnusedElectronicTickets"))
    }
}
