/// One change of a delta: set `key` to `status`, or remove it when `status` is nil.
public struct StatusChange: Hashable, Sendable {
    public var key: CardKey
    public var status: CardStatus?
    public init(key: CardKey, status: CardStatus?) {
        self.key = key
        self.status = status
    }
}

extension CompactStatusTable {
    /// A new table version: this one with `changes` applied (upserts and removals; when a key
    /// occurs more than once the last change wins). This table is left untouched, so lookups on
    /// it continue while the new version is built.
    ///
    /// Cost: O(changes · log changes) to sort the changes, then one merge of two sorted runs in
    /// which the unchanged stretches between changes are copied with `memcpy` and the offsets
    /// are shifted by a running difference. The bucket layout is kept (rebuild from a snapshot or
    /// a full load when the card count has drifted far from the one the layout was chosen for).
    public func applying(_ changes: some Collection<StatusChange>, dataVersion newVersion: UInt64)
        -> CompactStatusTable
    {
        applying(changes, dataVersion: newVersion, reusing: nil)
    }

    /// `applying(_:dataVersion:)` writing into `spare` when it is large enough (it must not be
    /// used by any table); fresh memory otherwise, with 1 % slack so it can be reused next time.
    func applying(
        _ changes: some Collection<StatusChange>, dataVersion newVersion: UInt64, reusing spare: TableMemory?
    ) -> CompactStatusTable {
        let shift = UInt64(64 - bucketBits)
        // Mixed keys, ordered; the original index breaks ties so the last change of a key wins.
        var sorted: [(mixed: UInt64, index: Int, status: CardStatus?)] = []
        sorted.reserveCapacity(changes.count)
        for (i, c) in changes.enumerated() { sorted.append((KeyMix.mix(c.key.rawValue), i, c.status)) }
        sorted.sort { ($0.mixed, $0.index) < ($1.mixed, $1.index) }

        // Classify each distinct key against this table: where it is (or would go), and whether
        // it is present; removals of absent keys are dropped.
        var steps: [DeltaStep] = []
        steps.reserveCapacity(sorted.count)
        var k = 0
        while k < sorted.count {
            while k + 1 < sorted.count && sorted[k + 1].mixed == sorted[k].mixed { k += 1 }
            let m = sorted[k].mixed
            let (i, present) = locate(mixed: m)
            if present || sorted[k].status != nil {
                steps.append(DeltaStep(mixed: m, position: i, present: present, status: sorted[k].status))
            }
            k += 1
        }
        var newCount = count
        for s in steps {
            if s.present && s.status == nil { newCount -= 1 }
            if !s.present && s.status != nil { newCount += 1 }
        }
        precondition(newCount < Int(UInt32.max), "a status table holds fewer than 2^32 keys")

        let buckets = 1 << bucketBits
        let length = Self.bodyLength(bucketBits: bucketBits, count: newCount)
        let memory: TableMemory
        if let spare, spare.capacity >= length {
            memory = spare
        } else {
            memory = TableMemory(byteCount: length + length / 100)
        }
        let newOffsets = memory.base.assumingMemoryBound(to: UInt32.self)
        let newEntries = memory.base + (buckets + 1) * 4
        let width = entryBytes

        // Offsets: old offset plus the net insertions of all changes in earlier buckets.
        var delta = 0
        var si = 0
        for b in 0...buckets {
            while si < steps.count && Int(truncatingIfNeeded: steps[si].mixed >> shift) < b {
                let s = steps[si]
                if s.present && s.status == nil { delta -= 1 }
                if !s.present && s.status != nil { delta += 1 }
                si += 1
            }
            newOffsets[b] = UInt32(truncatingIfNeeded: Int(offsets[b]) + delta)
        }

        // Entries: copy unchanged runs, emit the changed entries in place.
        var cursor = 0  // next old entry to copy
        var out = 0  // next new entry
        for s in steps {
            let run = s.position - cursor
            if run > 0 {
                (newEntries + out * width).copyMemory(from: entries + cursor * width, byteCount: run * width)
                out += run
                cursor = s.position
            }
            if s.present { cursor += 1 }  // replaced or removed: skip the old entry
            if let status = s.status {
                Self.store(
                    (s.mixed & remainderMask) << 8 | UInt64(status.rawValue), at: newEntries + out * width,
                    width: width)
                out += 1
            }
        }
        let tail = count - cursor
        if tail > 0 {
            (newEntries + out * width).copyMemory(from: entries + cursor * width, byteCount: tail * width)
            out += tail
        }
        precondition(out == newCount, "delta merge wrote \(out) entries, expected \(newCount)")
        let used = (buckets + 1) * 4 + out * width
        (memory.base + used).initializeMemory(as: UInt8.self, repeating: 0, count: length - used)
        let table = CompactStatusTable(
            dataVersion: newVersion, count: newCount, bucketBits: bucketBits, body: memory.base, owner: memory)
        #if DEBUG
            table.checkInvariants()
        #endif
        return table
    }
}

/// One distinct key of a delta, located in the base table.
struct DeltaStep {
    var mixed: UInt64
    /// Index of the key's entry in the base table, or where it would be inserted.
    var position: Int
    var present: Bool
    var status: CardStatus?
}
