import FaregateCore

/// When riders reach the gates during a simulated window, as a rate that varies over time.
///
/// A morning peak: a base rate plus a bell-shaped rush centred at `peakAt` (fraction of the
/// window) with width `peakWidth`. Arrival times are drawn by inverse-transform sampling of the
/// normalised rate, so a seed always gives the same riders at the same seconds.
public struct ArrivalProfile: Sendable, Equatable {
    public var windowSeconds: Double
    /// Share of riders that arrive at the flat base rate rather than in the rush.
    public var baseShare: Double
    public var peakAt: Double
    public var peakWidth: Double

    /// 07:00–10:00 with the rush around 08:20.
    public static let morningPeak = ArrivalProfile(windowSeconds: 10800, baseShare: 0.35, peakAt: 0.45, peakWidth: 0.16)

    public init(windowSeconds: Double, baseShare: Double, peakAt: Double, peakWidth: Double) {
        self.windowSeconds = windowSeconds
        self.baseShare = baseShare
        self.peakAt = peakAt
        self.peakWidth = peakWidth
    }

    /// Relative arrival rate at fraction `x` of the window (not normalised).
    public func rate(at x: Double) -> Double {
        let z = (x - peakAt) / peakWidth
        return baseShare + (1 - baseShare) * 3.3 * Self.expApprox(-0.5 * z * z)
    }

    /// `count` arrival times in seconds from the window's start, ascending.
    public func arrivals(count: Int, seed: UInt64) -> [Double] {
        // Tabulate the cumulative rate once, then invert it for sorted uniform draws.
        let steps = 2048
        var cumulative = [Double](repeating: 0, count: steps + 1)
        for i in 1...steps {
            cumulative[i] = cumulative[i - 1] + rate(at: (Double(i) - 0.5) / Double(steps))
        }
        let total = cumulative[steps]
        var rng = SplitMix64(seed: seed)
        var uniforms = (0..<count).map { _ in Double(rng.next() >> 11) / Double(1 << 53) * total }
        uniforms.sort()
        var out: [Double] = []
        out.reserveCapacity(count)
        var j = 1
        for u in uniforms {
            while j < steps && cumulative[j] < u { j += 1 }
            let lo = cumulative[j - 1]
            let span = cumulative[j] - lo
            let within = span > 0 ? (u - lo) / span : 0
            out.append((Double(j - 1) + within) / Double(steps) * windowSeconds)
        }
        return out
    }

    /// exp(x) for x ≤ 0 without Foundation (core and simulation stay Foundation-free).
    static func expApprox(_ x: Double) -> Double {
        if x < -40 { return 0 }
        // exp(x) = (exp(x / 2^k))^(2^k), with a short Taylor series for the small argument.
        let k = 8
        let y = x / Double(1 << k)
        var r = 1 + y + y * y / 2 + y * y * y / 6 + y * y * y * y / 24
        for _ in 0..<k { r *= r }
        return r
    }
}
