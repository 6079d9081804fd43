/// A policy file that cannot be used: which file, which field (a dotted path such as
/// `gateRules.health-check.healthRed`, empty for the whole file) and what is wrong with it.
public struct PolicyError: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var field: String
    public var problem: String

    public init(file: String, field: String, problem: String) {
        self.file = file
        self.field = field
        self.problem = problem
    }

    public var description: String {
        field.isEmpty ? "policy \(file): \(problem)" : "policy \(file): field \(field): \(problem)"
    }
}
