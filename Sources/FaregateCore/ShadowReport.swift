/// Compares, over journal entries, what the barrier did with what the shadow rules would have
/// done: how often they agree and, for each disagreement, how many taps it concerned.
public struct ShadowReport: Sendable, Hashable, Codable {
    /// One kind of disagreement: the enforced and the shadow outcome and reason.
    public struct Difference: Sendable, Hashable, Codable, Comparable {
        public var enforced: String
        public var shadow: String
        public var count: Int

        public init(enforced: String, shadow: String, count: Int) {
            self.enforced = enforced
            self.shadow = shadow
            self.count = count
        }

        public static func < (a: Difference, b: Difference) -> Bool {
            (b.count, a.enforced, a.shadow) < (a.count, b.enforced, b.shadow)
        }
    }

    /// Entries read.
    public var entries: Int
    /// Entries that carry a shadow decision.
    public var shadowed: Int
    /// Shadowed entries where both rules reach the same outcome (open / deny / staff).
    public var sameOutcome: Int
    /// Shadowed entries where the barrier opened but the shadow rules would not have.
    public var wouldHaveStopped: Int
    /// Shadowed entries where the barrier stayed closed but the shadow rules would have opened.
    public var wouldHaveOpened: Int
    /// Disagreements by kind, most frequent first.
    public var differences: [Difference]

    /// The report over `entries` (any order).
    public init(_ entries: some Sequence<JournalEntry>) {
        var total = 0, shadowed = 0, same = 0, stopped = 0, opened = 0
        var diffs: [String: Difference] = [:]
        for e in entries {
            total += 1
            guard let shadow = e.shadowDecision else { continue }
            shadowed += 1
            let enforced = e.decision
            if enforced.outcome == shadow.outcome {
                same += 1
                continue
            }
            if enforced.outcome == .open { stopped += 1 }
            if shadow.outcome == .open { opened += 1 }
            let key = "\(enforced)|\(shadow)"
            diffs[key, default: Difference(enforced: "\(enforced)", shadow: "\(shadow)", count: 0)].count += 1
        }
        self.entries = total
        self.shadowed = shadowed
        sameOutcome = same
        wouldHaveStopped = stopped
        wouldHaveOpened = opened
        differences = diffs.values.sorted()
    }

    public var text: String {
        var lines = [
            "entries: \(entries), with a shadow decision: \(shadowed)",
            "same outcome: \(sameOutcome), barrier opened but shadow would not: \(wouldHaveStopped), "
                + "barrier closed but shadow would open: \(wouldHaveOpened)",
        ]
        for d in differences { lines.append("  \(d.count)× enforced \(d.enforced), shadow \(d.shadow)") }
        return lines.joined(separator: "\n")
    }
}
