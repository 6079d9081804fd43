/// One era of policy as loaded from one file of `seeds/policies/`: named gate and office rule
/// sets, which of them apply by default, and per-line and per-station assignments.
///
/// File format (every key checked on load, through `StrictJSON`: unknown and duplicate keys are
/// refused with their line and column; keys are snake_case like the gate configuration's):
/// ```json
/// { "schema": 1, "era": "2022-health-check", "title": "…", "effective_from": "2022-05-23",
///   "gate_rules": { "health-check": { "health_check": true, "unbound_card": "open", … } },
///   "office_rules": { "real-name": { "identity_for_issue": true, … } },
///   "default": { "enforce": "health-check", "office": "real-name" },
///   "lines": [ { "line": "bus-2", "enforce": "manual-check", "shadow": "health-check" } ],
///   "stations": [ { "station": "beijing-west", "name": "北京西站", "office": "anonymous" } ] }
/// ```
/// A rule set of `gate_rules` is a `GatePolicy` in its one JSON form (`GatePolicy+Coding.swift`).
/// A station assignment overrides its line's, which overrides the default, field by field.
public struct PolicyEra: Sendable, Hashable {
    public var id: String
    public var title: String
    public var effectiveFrom: CalendarDate
    public var file: String
    public var gateRules: [String: GatePolicy]
    public var officeRules: [String: OfficeRules]
    public var defaultAssignment: Assignment
    public var lines: [String: Assignment]
    public var stations: [String: Assignment]

    /// Which named rule sets apply in a scope; nil fields fall back to the wider scope.
    public struct Assignment: Sendable, Hashable {
        public var enforce: String?
        public var shadow: String?
        public var office: String?
        public var name: String?
    }

    /// The rules of this era at a gate of `station` on `line`, and which entries produced them.
    public func resolve(station: String?, line: String?) -> Resolved {
        var enforce = defaultAssignment.enforce ?? ""
        var shadow = defaultAssignment.shadow
        var office = defaultAssignment.office ?? ""
        var provenance = [
            "era \(id) (\(file)) default: enforce \(enforce)" + (shadow.map { ", shadow \($0)" } ?? "")
                + ", office \(office)"
        ]
        for (scope, name) in [("line", line), ("station", station)] {
            guard let name else { continue }
            guard let a = (scope == "line" ? lines : stations)[name] else {
                provenance.append("\(scope) \(name): no rule in this era, default applies")
                continue
            }
            var parts: [String] = []
            if let e = a.enforce { enforce = e; parts.append("enforce \(e)") }
            if let s = a.shadow { shadow = s; parts.append("shadow \(s)") }
            if let o = a.office { office = o; parts.append("office \(o)") }
            provenance.append(
                "\(scope) \(name)" + (a.name.map { " (\($0))" } ?? "") + ": " + parts.joined(separator: ", "))
        }
        // Names were checked against the rule sets on load, so these lookups succeed.
        return Resolved(
            era: id, enforcedName: enforce, enforced: gateRules[enforce] ?? GatePolicy(), shadowName: shadow,
            shadow: shadow.flatMap { gateRules[$0] }, officeName: office, office: officeRules[office] ?? OfficeRules(),
            provenance: provenance)
    }

    public struct Resolved: Sendable, Hashable {
        public var era: String
        public var enforcedName: String
        public var enforced: GatePolicy
        public var shadowName: String?
        public var shadow: GatePolicy?
        public var officeName: String
        public var office: OfficeRules
        public var provenance: [String]
    }
}

/// Every era loaded from the policy files, sorted by start date; immutable once built. Swap a
/// whole new book (and the engine built from it) to change policy; a book that fails to load
/// leaves the previous one in force because nothing is replaced until `load` returns.
public struct PolicyBook: Sendable, Hashable {
    public private(set) var eras: [PolicyEra]

    /// Parses and validates every file (name for messages, bytes) and checks them together:
    /// distinct era ids and distinct start dates.
    public static func load(_ files: [(name: String, bytes: [UInt8])]) throws(PolicyError) -> PolicyBook {
        guard !files.isEmpty else { throw PolicyError(file: "(none)", field: "", problem: "no policy files") }
        var eras: [PolicyEra] = []
        for f in files {
            let era = try PolicyEra.decode(f.bytes, file: f.name)
            if let other = eras.first(where: { $0.id == era.id }) {
                throw PolicyError(
                    file: f.name, field: "era", problem: "era '\(era.id)' is also defined in \(other.file)")
            }
            if let other = eras.first(where: { $0.effectiveFrom == era.effectiveFrom }) {
                throw PolicyError(
                    file: f.name, field: "effective_from",
                    problem: "\(era.effectiveFrom) is also the start of era '\(other.id)' in \(other.file)")
            }
            eras.append(era)
        }
        return PolicyBook(eras: eras.sorted { $0.effectiveFrom < $1.effectiveFrom })
    }

    init(eras: [PolicyEra]) { self.eras = eras }

    /// The era in force on `date`: the latest one starting on or before it.
    public func era(on date: CalendarDate) -> PolicyEra? { eras.last { $0.effectiveFrom <= date } }

    public func era(id: String) -> PolicyEra? { eras.first { $0.id == id } }

    /// Every station named in some era (a gate configured for another station gets the defaults,
    /// which is legitimate, but a typo there is worth a warning).
    public var knownStations: Set<String> { Set(eras.flatMap { $0.stations.keys }) }
    /// Every line named in some era.
    public var knownLines: Set<String> { Set(eras.flatMap { $0.lines.keys }) }

    /// The decision engine of a gate at `station` on `line`.
    ///
    /// - Parameter pinnedEra: an era id chosen explicitly; it then applies on every date.
    ///   Without it, each tap picks the era by date. Before the first era the first era applies.
    public func engine(station: String?, line: String?, pinnedEra: String? = nil) throws(PolicyError) -> DecisionEngine
    {
        if let pinnedEra {
            guard let era = era(id: pinnedEra) else {
                throw PolicyError(
                    file: "(configuration)", field: "era",
                    problem: "no era '\(pinnedEra)' (known: \(eras.map(\.id).joined(separator: ", ")))")
            }
            let r = era.resolve(station: station, line: line)
            var e = DecisionEngine(policy: r.enforced, shadowPolicy: r.shadow)
            e.label = r.era
            return e
        }
        let schedule = eras.map { era -> DecisionEngine.ScheduledRules in
            let r = era.resolve(station: station, line: line)
            return DecisionEngine.ScheduledRules(
                fromDay: era.effectiveFrom.daysSinceEpoch, era: era.id, enforced: r.enforced, shadow: r.shadow,
                provenance: r.provenance)
        }
        let first = schedule.first
        var e = DecisionEngine(schedule: schedule, fallback: first?.enforced ?? GatePolicy())
        e.shadowPolicy = first?.shadow
        e.label = first?.era ?? ""
        return e
    }

    /// The office rules at `station` on `date` (or in the era chosen explicitly).
    public func officeRules(station: String?, on date: CalendarDate, pinnedEra: String? = nil) throws(PolicyError)
        -> PolicyEra.Resolved
    {
        if let pinnedEra {
            guard let chosen = era(id: pinnedEra) else {
                throw PolicyError(
                    file: "(configuration)", field: "era",
                    problem: "no era '\(pinnedEra)' (known: \(eras.map(\.id).joined(separator: ", ")))")
            }
            return chosen.resolve(station: station, line: nil)
        }
        // Before the first era, the first era applies (as for the gate engine).
        guard let chosen = era(on: date) ?? eras.first else {
            throw PolicyError(file: "(configuration)", field: "era", problem: "no eras loaded")
        }
        return chosen.resolve(station: station, line: nil)
    }
}
