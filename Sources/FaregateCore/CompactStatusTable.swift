#if canImport(Glibc)
    import Glibc
#endif

/// An immutable, compact binding and health-status table for city-scale card counts.
///
/// Layout (one contiguous body, identical in memory and in a snapshot file, so a mapped file is
/// used as is — see `StatusSnapshot`):
/// - every 64-bit key is sent through `KeyMix`, an invertible mixing permutation, so keys that are
///   dense or clustered (card numbers are issued in runs) spread evenly; no two keys collide;
/// - the top `bucketBits` bits of the mixed key select a bucket; `offsets` (`2^bucketBits + 1`
///   little-endian `UInt32`) give each bucket's range in the entry array (a prefix-offset index);
/// - an entry stores only the remaining `64 - bucketBits` bits of the mixed key and the one-byte
///   `CardStatus` (`remainder << 8 | status`), little-endian in `entryBytes` bytes; entries are
///   sorted by mixed key; 8 zero bytes follow the last entry so every entry can be read with one
///   unaligned 8-byte load.
///
/// A lookup is: mix, one load from `offsets` (two adjacent `UInt32`; the index is small enough to
/// stay in L2), then a short walk from an interpolated position inside the bucket (~256
/// entries): about one cache miss. At 30M cards with 17 bucket bits this is 7 bytes per entry +
/// 0.01 bytes of index ≈ 7.0 bytes per card.
///
/// Immutable after init: any number of threads may look up concurrently.
public final class CompactStatusTable: CardStatusLookup, @unchecked Sendable {
    // @unchecked Sendable: the body is never written after init (built privately, or a read-only
    // mapping); `owner` keeps the memory alive for as long as the table exists.

    public let dataVersion: UInt64
    public let count: Int
    /// Number of top mixed-key bits that select a bucket (8…32).
    public let bucketBits: Int
    /// Bytes per entry: `ceil((64 - bucketBits + 8) / 8)`.
    public let entryBytes: Int

    let body: UnsafeRawPointer
    let bodyLength: Int
    let offsets: UnsafePointer<UInt32>
    let entries: UnsafeRawPointer
    let remainderMask: UInt64
    let entryMask: UInt64
    /// Keeps `body` alive: a `TableMemory` or the owner of a file mapping.
    let owner: AnyObject

    // MARK: Layout

    /// Entry width in bytes for `bucketBits`.
    static func entryBytes(bucketBits: Int) -> Int { (64 - bucketBits + 8 + 7) / 8 }

    /// Body length for a layout: offsets, entries, 8 bytes of padding, rounded up to 8.
    static func bodyLength(bucketBits: Int, count: Int) -> Int {
        let raw = ((1 << bucketBits) + 1) * 4 + count * entryBytes(bucketBits: bucketBits) + 8
        return (raw + 7) & ~7
    }

    /// Average entries per bucket the layout aims for. Few buckets keep the offset index small
    /// enough to stay in the L2 cache (512 KB at 30M cards), and the interpolated start position
    /// inside a bucket lands a few entries (usually the same or the next cache line) from the
    /// key: a lookup is one cache hit for the index and about one miss for the entries, and the
    /// two do not form a chain of misses. Measured (faregate-bench, 10M cards): 512 per bucket
    /// makes the walk longer (more mispredicted branches, independent lookups ~0.5× Dictionary);
    /// 64 makes the index 1 MB, which no longer stays in L2 (dependent lookups slower); 256 and
    /// 128 were best, and 256 keeps the 30M index at half the size.
    static var targetBucketLoad: Int { 256 }

    /// The bucket-bit count that minimises memory with at most `targetBucketLoad` entries per
    /// bucket on average.
    ///
    /// (The earlier 2–4 entries per bucket made the index 33 MB at 30M cards: two dependent
    /// DRAM misses per lookup, slower than `Dictionary` in dependent chains.)
    static func bestBucketBits(count: Int) -> Int {
        var minimum = 8
        while minimum < 32 && (1 << minimum) * targetBucketLoad < count { minimum += 1 }
        var best = minimum
        for b in minimum...min(32, minimum + 3)
        where bodyLength(bucketBits: b, count: count) < bodyLength(bucketBits: best, count: count) {
            best = b
        }
        return best
    }

    /// Wraps a body whose layout has been validated (or was just built).
    init(dataVersion: UInt64, count: Int, bucketBits: Int, body: UnsafeRawPointer, owner: AnyObject) {
        self.dataVersion = dataVersion
        self.count = count
        self.bucketBits = bucketBits
        self.entryBytes = Self.entryBytes(bucketBits: bucketBits)
        self.body = body
        self.bodyLength = Self.bodyLength(bucketBits: bucketBits, count: count)
        self.owner = owner
        offsets = body.assumingMemoryBound(to: UInt32.self)
        entries = body + ((1 << bucketBits) + 1) * 4
        remainderMask = bucketBits == 0 ? ~0 : ~0 >> UInt64(bucketBits)
        entryMask = entryBytes == 8 ? ~0 : (1 << UInt64(entryBytes * 8)) - 1
    }

    // MARK: Building

    /// Builds a table from a dictionary (the shape the central store delivers).
    public convenience init(dataVersion: UInt64, entries: [CardKey: CardStatus]) {
        self.init(dataVersion: dataVersion, count: entries.count) { emit in
            for (k, s) in entries { emit(k, s) }
        }
    }

    /// Builds a table from key/status pairs; when a key occurs twice the later pair wins.
    public convenience init(dataVersion: UInt64, pairs: some Collection<(CardKey, CardStatus)>) {
        self.init(dataVersion: dataVersion, count: pairs.count) { emit in
            for (k, s) in pairs { emit(k, s) }
        }
    }

    /// Builds in O(n log(bucket size)): a counting sort on the bucket bits, then a sort of each
    /// bucket, then duplicate removal and packing. `forEach` is called twice and must yield the
    /// same sequence of `count` pairs both times.
    convenience init(
        dataVersion: UInt64, count n: Int, forEach: ((CardKey, CardStatus) -> Void) -> Void
    ) {
        precondition(n < Int(UInt32.max), "a status table holds fewer than 2^32 keys")
        let bits = Self.bestBucketBits(count: n)
        let shift = UInt64(64 - bits)
        let buckets = 1 << bits
        // Pass 1: bucket sizes.
        var starts = [UInt32](repeating: 0, count: buckets + 1)
        forEach { k, _ in starts[Int(KeyMix.mix(k.rawValue) >> shift) + 1] &+= 1 }
        for b in 0..<buckets { starts[b + 1] &+= starts[b] }
        // Pass 2: scatter `remainder << 8 | status` into bucket order (stable: input order kept).
        var cursor = starts
        var packed = [UInt64](repeating: 0, count: n)
        let remMask: UInt64 = ~0 >> UInt64(bits)
        forEach { k, s in
            let m = KeyMix.mix(k.rawValue)
            let b = Int(m >> shift)
            packed[Int(cursor[b])] = (m & remMask) << 8 | UInt64(s.rawValue)
            cursor[b] &+= 1
        }
        // Sort each bucket (stable insertion sort on the remainder), drop earlier duplicates,
        // and write the final layout.
        let length = Self.bodyLength(bucketBits: bits, count: n)
        let memory = TableMemory(byteCount: length)
        let offsets = memory.base.assumingMemoryBound(to: UInt32.self)
        let entryWidth = Self.entryBytes(bucketBits: bits)
        let entryBase = memory.base + (buckets + 1) * 4
        var written = 0
        packed.withUnsafeMutableBufferPointer { p in
            for b in 0..<buckets {
                offsets[b] = UInt32(written)
                let lo = Int(starts[b]), hi = Int(starts[b + 1])
                if hi - lo > 1 {
                    // Sort by remainder; ties (duplicate keys) keep input order so the later
                    // pair wins below: sort (remainder, position) pairs, then write back.
                    var run = (lo..<hi).map { (key: p[$0] >> 8, position: $0, value: p[$0]) }
                    run.sort { ($0.key, $0.position) < ($1.key, $1.position) }
                    for (j, r) in run.enumerated() { p[lo + j] = r.value }
                }
                var i = lo
                while i < hi {
                    // Later duplicates win: skip to the last pair with this remainder.
                    while i + 1 < hi && p[i + 1] >> 8 == p[i] >> 8 { i += 1 }
                    Self.store(p[i], at: entryBase + written * entryWidth, width: entryWidth)
                    written += 1
                    i += 1
                }
            }
        }
        offsets[buckets] = UInt32(written)
        // Zero the tail (padding and room left by dropped duplicates).
        let used = (buckets + 1) * 4 + written * entryWidth
        (memory.base + used).initializeMemory(as: UInt8.self, repeating: 0, count: length - used)
        self.init(dataVersion: dataVersion, count: written, bucketBits: bits, body: memory.base, owner: memory)
        #if DEBUG
            checkInvariants()
        #endif
    }

    @inline(__always) static func store(_ value: UInt64, at p: UnsafeMutableRawPointer, width: Int) {
        withUnsafeBytes(of: value.littleEndian) { src in
            p.copyMemory(from: src.baseAddress.unsafelyUnwrapped, byteCount: width)
        }
    }

    @inline(__always) func entry(_ i: Int) -> UInt64 {
        UInt64(littleEndian: (entries + i * entryBytes).loadUnaligned(as: UInt64.self)) & entryMask
    }

    // MARK: Lookup

    public func status(of key: CardKey) -> CardStatus? {
        let (i, found) = locate(mixed: KeyMix.mix(key.rawValue))
        return found ? CardStatus(rawValue: UInt8(truncatingIfNeeded: entry(i))) : nil
    }

    /// The index of the entry with mixed key `m`, or where it would be inserted.
    ///
    /// Mixed keys are uniform, so within a bucket a key's rank is close to proportional to its
    /// remainder: start there (top 16 remainder bits × bucket size; a few entries off for 256)
    /// and walk to the first entry not below the key.
    @inline(__always) func locate(mixed m: UInt64) -> (index: Int, found: Bool) {
        let remainderBits = UInt64(64 - bucketBits)  // ≥ 32
        let b = Int(truncatingIfNeeded: m >> remainderBits)
        let lo = Int(UInt32(littleEndian: offsets[b]))
        let hi = Int(UInt32(littleEndian: offsets[b + 1]))
        guard lo < hi else { return (lo, false) }
        let target = m & remainderMask
        var i = lo + Int(truncatingIfNeeded: ((target >> (remainderBits - 16)) &* UInt64(hi - lo)) >> 16)
        if entry(i) >> 8 < target {
            // Everything up to i is below the key: the first entry not below it lies ahead.
            i += 1
            while i < hi && entry(i) >> 8 < target { i += 1 }
        } else {
            // entry(i) is not below the key: step back while the previous one is not either.
            while i > lo && entry(i - 1) >> 8 >= target { i -= 1 }
        }
        return (i, i < hi && entry(i) >> 8 == target)
    }

    /// Bytes of table memory (index + entries + padding), for the bytes-per-card figure.
    public var memoryBytes: Int { bodyLength }

    /// Calls `body` for every key and status, in mixed-key order (not key order).
    public func forEach(_ body: (CardKey, CardStatus) -> Void) {
        let buckets = 1 << bucketBits
        var i = 0
        for b in 0..<buckets {
            let hi = Int(UInt32(littleEndian: offsets[b + 1]))
            while i < hi {
                let e = entry(i)
                let m = UInt64(b) << UInt64(64 - bucketBits) | e >> 8
                body(CardKey(rawValue: KeyMix.unmix(m)), CardStatus(rawValue: UInt8(truncatingIfNeeded: e)))
                i += 1
            }
        }
    }

    /// The mixed key of entry `i` that lies in bucket `b`.
    @inline(__always) func mixedKey(_ i: Int, bucket b: Int) -> UInt64 {
        UInt64(b) << UInt64(64 - bucketBits) | entry(i) >> 8
    }

    /// Traps when the layout invariants do not hold (offsets monotone and ending at `count`,
    /// entries strictly increasing within each bucket). Called from debug builds and tests.
    public func checkInvariants() {
        let buckets = 1 << bucketBits
        precondition(offsets[0] == 0, "table invariant: first offset \(offsets[0])")
        precondition(Int(offsets[buckets]) == count, "table invariant: last offset ≠ count")
        for b in 0..<buckets {
            let lo = Int(offsets[b]), hi = Int(offsets[b + 1])
            precondition(lo <= hi, "table invariant: offsets decrease at bucket \(b)")
            if hi - lo > 1 {
                for i in (lo + 1)..<hi {
                    precondition(entry(i - 1) >> 8 < entry(i) >> 8, "table invariant: bucket \(b) not sorted")
                }
            }
        }
    }
}

/// Memory for a table body allocated in this process: freed when the last table using it goes.
///
/// A retired version's memory can be reused for the next delta (`StatusTableHolder` does this):
/// first-touch page faults on a fresh 250 MB buffer cost more than the whole merge.
public final class TableMemory: @unchecked Sendable {
    // @unchecked Sendable: written only by the builder before the table is shared, or reused
    // only when uniquely referenced (no table uses it any more); read-only in between.
    let base: UnsafeMutableRawPointer
    /// Bytes allocated (≥ the body length of the table using it).
    let capacity: Int
    /// True when `base` came from `mmap` (large tables), false for the Swift allocator.
    private let mapped: Bool
    /// Allocates `byteCount` bytes, uninitialized; the caller fills them before a table uses them.
    public init(byteCount: Int) {
        let wanted = max(byteCount, 8)
        if wanted >= Self.hugePageSize {
            // Large bodies: an anonymous mapping rounded up to whole 2 MiB pages, advised to use
            // transparent huge pages. A random lookup into hundreds of MB otherwise pays a TLB miss
            // and a 4-level page walk (a 2-D walk under virtualisation) on top of the cache miss.
            let length = (wanted + Self.hugePageSize - 1) & ~(Self.hugePageSize - 1)
            // Over-allocate by one huge page so the body can start on a 2 MiB boundary.
            let raw = mmap(nil, length + Self.hugePageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            if let raw, raw != MAP_FAILED {
                let address = UInt(bitPattern: raw)
                let aligned = (address + UInt(Self.hugePageSize - 1)) & ~UInt(Self.hugePageSize - 1)
                let head = Int(aligned - address)
                if head > 0 { munmap(raw, head) }
                let tail = Self.hugePageSize - head
                if tail > 0 { munmap(UnsafeMutableRawPointer(bitPattern: aligned + UInt(length)), tail) }
                let body = UnsafeMutableRawPointer(bitPattern: aligned).unsafelyUnwrapped
                // Advice only: without THP the mapping works with 4 KiB pages.
                _ = madvise(body, length, Int32(MADV_HUGEPAGE))
                base = body
                capacity = length
                mapped = true
                return
            }
        }
        capacity = wanted
        base = .allocate(byteCount: capacity, alignment: 64)
        mapped = false
    }
    static var hugePageSize: Int { 2 << 20 }

    /// The memory, for the caller that fills it before any table uses it.
    public var mutableBytes: UnsafeMutableRawPointer { base }
    deinit {
        if mapped { munmap(base, capacity) } else { base.deallocate() }
    }
}

/// An invertible 64-bit mixing permutation (the SplitMix64 finaliser: xor-shifts and odd
/// multipliers, each step a bijection), so mixed keys are unique exactly when keys are, and the
/// table can store only part of the mixed key and still recover the key.
///
/// Keys come from central issuance, not from riders, so no secret seed is needed against
/// adversarial clustering.
public enum KeyMix {
    static let c1: UInt64 = 0xBF58_476D_1CE4_E5B9
    static let c2: UInt64 = 0x94D0_49BB_1331_11EB
    static let c1Inverse = inverse(c1)
    static let c2Inverse = inverse(c2)

    @inline(__always) public static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* c1
        z = (z ^ (z >> 27)) &* c2
        return z ^ (z >> 31)
    }

    public static func unmix(_ y: UInt64) -> UInt64 {
        var z = unshift(y, 31)
        z = unshift(z &* c2Inverse, 27)
        return unshift(z &* c1Inverse, 30)
    }

    /// Inverse of `x ^ (x >> s)`.
    static func unshift(_ y: UInt64, _ s: UInt64) -> UInt64 {
        var x = y
        var covered = s
        while covered < 64 {
            x = y ^ (x >> s)
            covered += s
        }
        return y ^ (x >> s)
    }

    /// Multiplicative inverse of an odd number modulo 2^64 (Newton's iteration doubles the
    /// number of correct bits each step: 3 → 6 → … → 96).
    static func inverse(_ a: UInt64) -> UInt64 {
        var x = a
        for _ in 0..<5 { x = x &* (2 &- a &* x) }
        return x
    }
}
