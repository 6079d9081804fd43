/// Entries recorded per card key, with bounded memory, for anti-passback and exit checks.
///
/// A fixed-size open-addressing table allocated once: a key lives in one of `window` consecutive
/// slots after its hash. Lookups scan the whole window (no tombstones are needed, so removal is
/// just clearing a slot); an insert takes the key's own slot, an empty or expired slot, or evicts
/// the oldest entry in the window (counted in `evictions`: the evicted card's exit is then sent to
/// staff, the safe side). Time is an argument: wall-clock Unix milliseconds, because entry records
/// may be replicated between gates. Pure and not thread-safe: owned by the decision thread.
public struct PassageLedger: Sendable {
    public var rules: AccessRules
    public let capacity: Int
    public let window: Int
    private var keys: [UInt64]
    /// Entry time in wall milliseconds; `Int64.min` marks an empty slot.
    private var times: [Int64]
    public private(set) var count = 0
    public private(set) var evictions: UInt64 = 0

    /// - Parameter capacity: slots, rounded up to a power of two (about 16 bytes each).
    public init(rules: AccessRules, capacity: Int = 1 << 16, window: Int = 16) {
        var c = 1
        while c < max(capacity, window, 2) { c <<= 1 }
        self.rules = rules
        self.capacity = c
        self.window = min(window, c)
        keys = Array(repeating: 0, count: c)
        times = Array(repeating: .min, count: c)
    }

    private func home(_ key: CardKey) -> Int {
        Int(truncatingIfNeeded: (key.rawValue &* 0x9E37_79B9_7F4A_7C15) >> 32) & (capacity - 1)
    }

    private func slot(of key: CardKey) -> Int? {
        let h = home(key)
        for i in 0..<window {
            let s = (h + i) & (capacity - 1)
            if times[s] != .min && keys[s] == key.rawValue { return s }
        }
        return nil
    }

    private func live(_ s: Int, _ nowMillis: Int64) -> Bool {
        times[s] != .min && nowMillis - times[s] <= rules.entryLifetimeSeconds * 1000
    }

    /// When `key` last entered, if that record is still alive at `nowMillis`.
    public func entryTime(of key: CardKey, nowMillis: Int64) -> Int64? {
        guard let s = slot(of: key), live(s, nowMillis) else { return nil }
        return times[s]
    }

    /// The refusal for a tap of `key` travelling in `direction`, or nil when the rules allow it.
    public func check(_ key: CardKey, _ direction: PassageDirection, nowMillis: Int64) -> Decision? {
        check(direction, enteredAt: entryTime(of: key, nowMillis: nowMillis), nowMillis: nowMillis)
    }

    /// The refusal for a tap travelling in `direction` by a card whose live entry record is
    /// `entered` (nil: none), or nil when the rules allow it. `GateCore` passes the record as it
    /// will be once the passages of its batch are durable.
    public func check(_ direction: PassageDirection, enteredAt entered: Int64?, nowMillis: Int64) -> Decision? {
        switch direction {
        case .entry:
            guard let t = entered, rules.passback != .open, nowMillis - t < rules.antiPassbackSeconds * 1000 else {
                return nil
            }
            return Decision(outcome: rules.passback, reason: .passback)
        case .exit:
            guard rules.requireEntryRecord, entered == nil, rules.exitWithoutEntry != .open else { return nil }
            return Decision(outcome: rules.exitWithoutEntry, reason: .noEntryRecord)
        }
    }

    /// Applies the rules to an engine decision: an open decision becomes the ledger's refusal, if
    /// any; refusals are kept as they are (the card's own problem comes first).
    public func apply(_ decision: Decision, key: CardKey, _ direction: PassageDirection, nowMillis: Int64) -> Decision {
        guard case .open = decision, let refusal = check(key, direction, nowMillis: nowMillis) else { return decision }
        return refusal
    }

    /// Records a passage that was let through: an entry stores the time, an exit clears the record.
    /// `GateCore.settle` calls it once the passage's journal entry is durable.
    public mutating func record(_ key: CardKey, _ direction: PassageDirection, nowMillis: Int64) {
        switch direction {
        case .exit:
            if let s = slot(of: key) {
                times[s] = .min
                count -= 1
            }
        case .entry:
            if let s = slot(of: key) {
                times[s] = nowMillis
                return
            }
            let h = home(key)
            var victim = h
            for i in 0..<window {
                let s = (h + i) & (capacity - 1)
                if !live(s, nowMillis) {
                    victim = s
                    break
                }
                if times[s] < times[victim] { victim = s }
            }
            if times[victim] == .min {
                count += 1
            } else if live(victim, nowMillis) {
                evictions += 1
            }
            keys[victim] = key.rawValue
            times[victim] = nowMillis
        }
    }
}
