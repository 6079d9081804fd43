import FaregateCore

/// The payload of each kind of answer, nil for any other kind: lets a test assert on a field in
/// one expression, and fail (not crash) on an answer of the wrong kind.
extension ControlResponse {
    var statusReport: GateStatusReport? {
        if case .status(let s) = self { return s }
        return nil
    }

    var syncedReport: GateStatusReport? {
        if case .synced(let s) = self { return s }
        return nil
    }

    var entry: JournalEntry? {
        if case .tap(let e) = self { return e }
        return nil
    }

    var entries: [JournalEntry]? {
        if case .journal(let e) = self { return e }
        return nil
    }

    var cardLookup: CardLookup? {
        if case .lookup(let l) = self { return l }
        return nil
    }

    var metricsText: String? {
        if case .metrics(let t) = self { return t }
        return nil
    }

    var succeeded: Bool { failure == nil }
}
