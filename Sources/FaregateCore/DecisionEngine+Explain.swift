/// Why the engine decided what it did: the era, the policy entries that chose the rules, and each
/// rule consulted in order. Built by running the very same `evaluate` the gate runs, with a
/// recording trace, so it cannot disagree with the gate.
public struct DecisionExplanation: Sendable, Hashable, CustomStringConvertible {
    public struct Step: Sendable, Hashable {
        public var rule: DecisionRule
        /// Nil: the rule passed and the next one was consulted.
        public var verdict: Decision?
    }

    public var era: String
    public var provenance: [String]
    public var decision: Decision
    public var shadow: Decision?
    public var steps: [Step]
    public var shadowSteps: [Step]

    public var description: String {
        var lines = ["era: \(era.isEmpty ? "(single policy)" : era)"]
        lines += provenance.map { "  rules from: \($0)" }
        func render(_ steps: [Step]) {
            for s in steps {
                lines.append("  - \(s.rule): " + (s.verdict.map { "→ \($0)" } ?? "passed"))
            }
        }
        lines.append("enforced rules:")
        render(steps)
        lines.append("decision: \(decision) — \(decision.reason.messageZH) / \(decision.reason.messageEN)")
        if let shadow {
            lines.append("shadow rules:")
            render(shadowSteps)
            lines.append("shadow decision: \(shadow) — \(shadow.reason.messageZH) / \(shadow.reason.messageEN)")
        }
        return lines.joined(separator: "\n")
    }
}

extension DecisionEngine {
    /// The decision for this tap with the chain of rules that produced it.
    public func explain(_ result: Tap.Result, status: CardStatus?, context: DecisionContext) -> DecisionExplanation {
        var enforcedTrace = RecordingDecisionTrace()
        var shadowTrace = RecordingDecisionTrace()
        let pair = evaluate(
            result, status: status, context: context, enforcedTrace: &enforcedTrace, shadowTrace: &shadowTrace)
        let index = scheduleIndex(onDay: context.today.daysSinceEpoch)
        let era = index.map { schedule[$0].era } ?? label
        let provenance = index.map { schedule[$0].provenance } ?? []
        return DecisionExplanation(
            era: era, provenance: provenance, decision: pair.enforced, shadow: pair.shadow,
            steps: enforcedTrace.steps.map { .init(rule: $0.rule, verdict: $0.verdict) },
            shadowSteps: shadowTrace.steps.map { .init(rule: $0.rule, verdict: $0.verdict) })
    }
}
