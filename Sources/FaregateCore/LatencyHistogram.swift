/// A fixed-size log-linear histogram of durations in nanoseconds (HdrHistogram's idea, small).
///
/// Values are grouped by their highest set bit, each group split into 32 linear sub-buckets, so
/// any reported percentile is within about 3 % of the true value; `max` is exact. Recording never
/// allocates. Not thread-safe: one owner records, others read copies.
public struct LatencyHistogram: Sendable, Equatable {
    static let subBits = 5
    static let subCount = 1 << subBits
    static let bucketCount = (64 - subBits + 1) * subCount

    private var counts: [UInt64]
    public private(set) var total: UInt64 = 0
    public private(set) var max: UInt64 = 0
    public private(set) var min: UInt64 = .max

    public init() { counts = Array(repeating: 0, count: Self.bucketCount) }

    static func index(of v: UInt64) -> Int {
        if v < UInt64(subCount) { return Int(v) }
        let msb = 63 - v.leadingZeroBitCount
        let shift = msb - subBits
        let sub = Int((v >> UInt64(shift)) & UInt64(subCount - 1))
        return (shift + 1) * subCount + sub
    }

    /// Upper bound of the values in bucket `i`.
    static func upperBound(of i: Int) -> UInt64 {
        if i < subCount { return UInt64(i) }
        let shift = i / subCount - 1
        let sub = UInt64(i % subCount) | UInt64(subCount)
        return ((sub + 1) << UInt64(shift)) - 1
    }

    public mutating func record(_ nanos: UInt64) {
        counts[Self.index(of: nanos)] += 1
        total += 1
        if nanos > max { max = nanos }
        if nanos < min { min = nanos }
    }

    public mutating func merge(_ other: LatencyHistogram) {
        for i in 0..<counts.count { counts[i] += other.counts[i] }
        total += other.total
        max = Swift.max(max, other.max)
        min = Swift.min(min, other.min)
    }

    /// The value at quantile `q` (0...1): the smallest bucket bound with at least q of the values
    /// at or below it, capped at the exact maximum. Zero when empty.
    public func quantile(_ q: Double) -> UInt64 {
        guard total > 0 else { return 0 }
        let rank = Swift.max(1, UInt64((q * Double(total)).rounded(.up)))
        var seen: UInt64 = 0
        for (i, c) in counts.enumerated() where c > 0 {
            seen += c
            if seen >= rank { return Swift.min(Self.upperBound(of: i), max) }
        }
        return max
    }
}
