/// Which ride codes this gate accepted recently (check 8 of RIDECODE.md): per (issuer, account),
/// the highest counter accepted and when. A code is refused as reused when its account has an
/// entry accepted within `max_age + max_skew` whose counter is at least the code's: that is the
/// same code shown again (a screenshot) or an older one of the account.
///
/// Fixed size, chosen at init and never grown: `capacity` entries of 24 bytes
/// (`MemoryLayout<Entry>.stride`), so the memory bound is `capacity × 24` bytes plus the array
/// header (96 KiB at the default 4096). Set-associative: an account hashes to one set of
/// `ways` entries; a new account takes an empty or expired entry of its set, else the set's
/// oldest entry is evicted. Evicting an entry that has not yet expired could let its code through
/// again, so the cache then refuses, until that entry would have expired, every code made no later
/// than the evicted one (`floor`): fail closed, and only under a load far past a gate's (thousands
/// of accepted codes inside 90 s at one gate).
///
/// An entry expires `max_age + max_skew` after it was accepted: by then check 7 refuses every code
/// made before it was accepted, so forgetting it lets nothing through.
///
/// Pure value type; the decision thread owns it. `serialized()` / `init(serialized:)` keep it
/// across a daemon restart, so a restart does not re-admit a screenshot.
public struct RideCodeReplayCache: Hashable, Sendable {
    /// One remembered account; `key == 0` is an empty slot (no ride-code `CardKey` is 0).
    public struct Entry: Hashable, Sendable {
        public var key: UInt64
        public var acceptedAt: Int64
        public var counter: UInt32
        public var generatedAt: UInt32
    }

    /// The newest code made among evicted, unexpired entries, and when the last of them was accepted.
    public struct Floor: Hashable, Sendable {
        public var generatedAt: UInt32
        public var acceptedAt: Int64

        public init(generatedAt: UInt32, acceptedAt: Int64) {
            self.generatedAt = generatedAt
            self.acceptedAt = acceptedAt
        }

        /// The floor raised over `e`.
        func raised(over e: Entry) -> Floor {
            Floor(generatedAt: max(generatedAt, e.generatedAt), acceptedAt: max(acceptedAt, e.acceptedAt))
        }
    }

    /// Entries per set.
    public static let ways = 8
    public static let defaultCapacity = 4096

    public let capacity: Int
    private var slots: [Entry]
    /// The newest code made (generated_at) among evicted, unexpired entries, and the latest time
    /// one of them was accepted; nil when no unexpired entry was ever evicted.
    public private(set) var floor: Floor?
    /// Unexpired entries evicted for room since this cache was made (a health counter).
    public private(set) var evictions: UInt64 = 0

    /// A cache of `capacity` entries, rounded up to a power of two of at least `ways`.
    public init(capacity: Int = Self.defaultCapacity) {
        var c = Self.ways
        while c < capacity && c < 1 << 24 { c <<= 1 }
        self.capacity = c
        slots = [Entry](repeating: Entry(key: 0, acceptedAt: 0, counter: 0, generatedAt: 0), count: c)
    }

    /// The accounts remembered (expired ones included until their slot is reused).
    public var entries: [Entry] { slots.filter { $0.key != 0 } }

    private func slotRange(of key: UInt64) -> Range<Int> {
        var g = SplitMix64(seed: key)
        let first = Int(truncatingIfNeeded: g.next() & UInt64(capacity / Self.ways - 1)) * Self.ways
        return first..<first + Self.ways
    }

    /// Seconds from `at` to `now`, saturating: a saved cache is outside input, and its times may
    /// be anything (a plain `now - at` trapped on an entry accepted at `Int64.min`).
    static func age(of at: Int64, now: Int64) -> Int64 {
        let (age, overflow) = now.subtractingReportingOverflow(at)
        return overflow ? (at < now ? .max : .min) : age
    }

    private static func expired(_ e: Entry, now: Int64, window: Int64) -> Bool {
        age(of: e.acceptedAt, now: now) > window
    }

    /// Nil when `code` was not accepted here before (check 8), else the refusal.
    public func check(_ code: RideCodeEvidence, now: Int64, freshness: RideCodeFreshness) -> RideCodeRefusal? {
        let window = freshness.replayWindowSeconds
        let key = code.cardKey.rawValue
        for i in slotRange(of: key) where slots[i].key == key {
            let e = slots[i]
            if !Self.expired(e, now: now, window: window) && code.counter <= e.counter {
                return RideCodeRefusal(
                    .rideCodeReused,
                    code.counter == e.counter
                        ? "counter \(code.counter) was accepted here \(Self.age(of: e.acceptedAt, now: now)) s ago"
                        : "counter \(code.counter) is below \(e.counter), accepted here "
                            + "\(Self.age(of: e.acceptedAt, now: now)) s ago")
            }
        }
        if let floor, Self.age(of: floor.acceptedAt, now: now) <= window, code.generatedAt <= floor.generatedAt {
            return RideCodeRefusal(
                .rideCodeReused, "the replay cache was overfull: codes made up to \(floor.generatedAt) are refused")
        }
        return nil
    }

    /// Remembers an accepted code at `now`; keeps the account's highest counter.
    public mutating func record(_ code: RideCodeEvidence, now: Int64, freshness: RideCodeFreshness) {
        let window = freshness.replayWindowSeconds
        let key = code.cardKey.rawValue
        let fresh = Entry(key: key, acceptedAt: now, counter: code.counter, generatedAt: code.generatedAt)
        let set = slotRange(of: key)
        if let i = set.first(where: { slots[$0].key == key }) {
            if code.counter > slots[i].counter || Self.expired(slots[i], now: now, window: window) {
                slots[i] = fresh
            }
            return
        }
        if let i = set.first(where: { slots[$0].key == 0 || Self.expired(slots[$0], now: now, window: window) }) {
            slots[i] = fresh
            return
        }
        // Full of live entries: evict the oldest and raise the floor over it.
        let i = set.min { slots[$0].acceptedAt < slots[$1].acceptedAt } ?? set.lowerBound
        let old = slots[i]
        floor = (floor ?? Floor(generatedAt: 0, acceptedAt: .min)).raised(over: old)
        evictions &+= 1
        slots[i] = fresh
    }
}

extension RideCodeReplayCache {
    static let magic: [UInt8] = Array("RCRP".utf8)
    static let formatVersion: UInt8 = 1
    static let entryBytes = 24

    /// The cache as bytes: `RCRP`, version 1, capacity, floor, entry count, entries (key,
    /// accepted_at, counter, generated_at; big-endian), CRC-32 of all before it.
    public func serialized() -> [UInt8] {
        var b = Self.magic
        b.append(Self.formatVersion)
        b.appendBigEndian(UInt32(capacity))
        b.append(floor == nil ? 0 : 1)
        b.appendBigEndian(floor?.generatedAt ?? 0)
        b.appendBigEndian(floor?.acceptedAt ?? 0)
        b.appendBigEndian(evictions)
        let live = entries
        b.appendBigEndian(UInt32(live.count))
        for e in live {
            b.appendBigEndian(e.key)
            b.appendBigEndian(e.acceptedAt)
            b.appendBigEndian(e.counter)
            b.appendBigEndian(e.generatedAt)
        }
        b.appendBigEndian(CRC32.checksum(b))
        return b
    }

    /// Why saved bytes cannot be used (the caller then starts with a cache that refuses every code
    /// made before the restart's window has passed, or whatever its policy is).
    public struct FormatError: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The cache of `serialized()` bytes, in a cache of `capacity` entries (which may differ from
    /// the saved one: entries are placed again; ones that no longer fit raise the floor as an
    /// eviction would). Never traps; refuses any damage with a `FormatError`.
    public init(serialized bytes: [UInt8], capacity: Int = Self.defaultCapacity) throws(FormatError) {
        let header = 4 + 1 + 4 + 1 + 4 + 8 + 8 + 4
        guard bytes.count >= header + 4 else { throw FormatError(description: "\(bytes.count) bytes is too short") }
        let body = bytes[..<(bytes.count - 4)]
        var tail = RideCodeBytes(Array(bytes[(bytes.count - 4)...]))
        guard CRC32.checksum(body) == tail.uint32() else { throw FormatError(description: "CRC-32 does not match") }
        var r = RideCodeBytes(Array(body))
        guard r.take(4)?.elementsEqual(Self.magic) == true else { throw FormatError(description: "no RCRP magic") }
        guard r.byte() == Self.formatVersion else { throw FormatError(description: "unknown version") }
        guard let savedCapacity = r.uint32(), let hasFloor = r.byte(), hasFloor <= 1, let floorMade = r.uint32(),
            let floorAccepted = r.uint64(), let evictions = r.uint64(), let count = r.uint32()
        else { throw FormatError(description: "truncated header") }
        guard Int(count) <= Int(savedCapacity), r.remaining == Int(count) * Self.entryBytes else {
            throw FormatError(description: "\(count) entries do not match \(r.remaining) bytes")
        }
        self.init(capacity: capacity)
        if hasFloor == 1 { floor = Floor(generatedAt: floorMade, acceptedAt: Int64(bitPattern: floorAccepted)) }
        self.evictions = evictions
        for _ in 0..<count {
            guard let key = r.uint64(), let accepted = r.uint64(), let counter = r.uint32(), let made = r.uint32()
            else { throw FormatError(description: "truncated entry") }
            guard CardKey(rawValue: key).medium == .rideCode else {
                throw FormatError(description: "entry key \(key) is not a ride-code key")
            }
            place(Entry(key: key, acceptedAt: Int64(bitPattern: accepted), counter: counter, generatedAt: made))
        }
    }

    /// Puts a saved entry back: merged with its account's entry, else into a free slot, else over
    /// the set's oldest (raising the floor).
    private mutating func place(_ e: Entry) {
        let set = slotRange(of: e.key)
        if let i = set.first(where: { slots[$0].key == e.key }) {
            if e.counter > slots[i].counter { slots[i] = e }
            return
        }
        if let i = set.first(where: { slots[$0].key == 0 }) {
            slots[i] = e
            return
        }
        let i = set.min { slots[$0].acceptedAt < slots[$1].acceptedAt } ?? set.lowerBound
        let victim = slots[i].acceptedAt < e.acceptedAt ? slots[i] : e
        floor = (floor ?? Floor(generatedAt: 0, acceptedAt: .min)).raised(over: victim)
        if victim != e { slots[i] = e }
    }
}

extension RideCodeReplayCache {
    /// Refuses, for one replay window from `now`, every code made up to `now`: what a gate does
    /// when its saved cache is lost or damaged (it cannot know which codes it accepted).
    public mutating func refuseMadeUntil(now: Int64) {
        let made = UInt32(clamping: max(0, now))
        floor = (floor ?? Floor(generatedAt: 0, acceptedAt: .min)).raised(
            over: Entry(key: 0, acceptedAt: now, counter: 0, generatedAt: made))
    }
}
