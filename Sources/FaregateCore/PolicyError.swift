/// A policy file that cannot be used: which file, where in it (nil for a problem of the whole file
/// or between files), which field (a dotted path such as `gate_rules.health-check.health_red`, empty
/// for the whole file) and what is wrong with it.
public struct PolicyError: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var field: String
    public var problem: String
    public var position: JSONPosition?

    public init(file: String, field: String, problem: String, position: JSONPosition? = nil) {
        self.file = file
        self.field = field
        self.problem = problem
        self.position = position
    }

    /// "policy 2022-health-check.json: line 14, column 20: field gate_rules.health-check.health_red:
    /// must be open, deny or staff, not 'dney'".
    public var description: String {
        "policy \(file): " + (position.map { "\($0): " } ?? "")
            + (field.isEmpty ? problem : "field \(field): \(problem)")
    }
}
