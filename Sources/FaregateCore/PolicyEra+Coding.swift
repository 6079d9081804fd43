/// One policy file (see `PolicyEra` for the format) as the strict JSON layer decodes it: every key
/// known, every rule set complete, every assignment naming a rule set the file defines.
extension PolicyEra {
    static let schemaVersion: Int64 = 1

    /// The era of one policy file; `file` names it in errors and in `PolicyEra.file`.
    static func decode(_ bytes: [UInt8], file: String) throws(PolicyError) -> PolicyEra {
        do {
            var era = try StrictJSON.decode(PolicyEra.self, from: bytes)
            era.file = file
            return era
        } catch {
            throw PolicyError(file: file, field: error.field, problem: error.problem, position: error.position)
        }
    }
}

extension PolicyEra: Decodable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case schema, era, title
        case effectiveFrom = "effective_from"
        case source
        case gateRules = "gate_rules"
        case officeRules = "office_rules"
        case defaultAssignment = "default"
        case lines, stations
    }

    /// Keys of the `default` object and of each entry of `lines` and `stations`; `line` and
    /// `station` are asked only in their own list, so a `station` key in a line entry is refused.
    enum AssignmentKeys: String, CodingKey, CaseIterable {
        case enforce, shadow, office, name, line, station
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let schema = try c.decode(Int64.self, forKey: .schema)
        guard schema == Self.schemaVersion else {
            throw DecodingError.dataCorruptedError(
                forKey: .schema, in: c,
                debugDescription: "must be \(Self.schemaVersion): version \(schema) is not understood by this build")
        }
        let id = try c.decodeWord(forKey: .era)
        let title = try c.decodeWord(forKey: .title)
        let from = try c.decodeWord(forKey: .effectiveFrom)
        guard let effectiveFrom = CalendarDate(from) else {
            throw DecodingError.dataCorruptedError(
                forKey: .effectiveFrom, in: c, debugDescription: "must be a date (YYYY-MM-DD), not '\(from)'")
        }
        _ = try c.decodeWordIfPresent(forKey: .source)
        let gateRules = try c.decode([String: GatePolicy].self, forKey: .gateRules)
        let officeRules = try c.decode([String: OfficeRules].self, forKey: .officeRules)
        for (key, empty) in [(CodingKeys.gateRules, gateRules.isEmpty), (.officeRules, officeRules.isEmpty)] where empty
        {
            throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "must define a rule set")
        }

        func assignment(_ a: KeyedDecodingContainer<AssignmentKeys>) throws -> Assignment {
            func named(_ key: AssignmentKeys, in sets: some Collection<String>, _ setName: String) throws -> String? {
                guard let name = try a.decodeWordIfPresent(forKey: key) else { return nil }
                guard sets.contains(name) else {
                    let defined = StrictJSON.alternatives(sets.sorted())
                    throw DecodingError.dataCorruptedError(
                        forKey: key, in: a,
                        debugDescription: "must name a rule set of \(setName) (\(defined)), not '\(name)'")
                }
                return name
            }
            return Assignment(
                enforce: try named(.enforce, in: gateRules.keys, "gate_rules"),
                shadow: try named(.shadow, in: gateRules.keys, "gate_rules"),
                office: try named(.office, in: officeRules.keys, "office_rules"),
                name: try a.decodeWordIfPresent(forKey: .name))
        }
        let d = try c.nestedContainer(keyedBy: AssignmentKeys.self, forKey: .defaultAssignment)
        let defaultAssignment = try assignment(d)
        // The default decides what applies where no line or station says otherwise.
        _ = try d.decodeWord(forKey: .enforce)
        _ = try d.decodeWord(forKey: .office)

        func scopes(_ key: CodingKeys, by scopeKey: AssignmentKeys) throws -> [String: Assignment] {
            guard c.contains(key), try !c.decodeNil(forKey: key) else { return [:] }
            var list = try c.nestedUnkeyedContainer(forKey: key)
            var out: [String: Assignment] = [:]
            while !list.isAtEnd {
                let entry = try list.nestedContainer(keyedBy: AssignmentKeys.self)
                let scope = try entry.decodeWord(forKey: scopeKey)
                guard out[scope] == nil else {
                    throw DecodingError.dataCorruptedError(
                        forKey: scopeKey, in: entry, debugDescription: "'\(scope)' is listed twice")
                }
                out[scope] = try assignment(entry)
            }
            return out
        }
        self.init(
            id: id, title: title, effectiveFrom: effectiveFrom, file: "", gateRules: gateRules,
            officeRules: officeRules, defaultAssignment: defaultAssignment,
            lines: try scopes(.lines, by: .line), stations: try scopes(.stations, by: .station))
    }
}
