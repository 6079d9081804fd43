import FaregateCore

/// Sensor sequences of people moving through a passage, for the simulated I/O board. Every
/// script is returned in time order.
///
/// A walker occupies the five zones in order, each for `dwell` nanoseconds, entering the next one
/// `step` nanoseconds after the previous (dwell > step: a body spans two zones while moving).
public enum PassageScript {
    public static let step: UInt64 = 300_000_000
    public static let dwell: UInt64 = 500_000_000

    static func zones(_ d: PassageDirection) -> [SensorZone] {
        let z: [SensorZone] = [.unpaidDetection, .unpaidMonitoring, .buffer, .paidMonitoring, .paidDetection]
        return d == .entry ? z : z.reversed()
    }

    /// One person walking all the way through in `direction`, starting at `start`.
    public static func walk(
        _ direction: PassageDirection, start: UInt64, reading: SensorReading = .adult, step: UInt64 = step,
        dwell: UInt64 = dwell
    ) -> [TimedGateInput] {
        var out: [TimedGateInput] = []
        for (i, z) in zones(direction).enumerated() {
            let t = start + UInt64(i) * step
            out.append(TimedGateInput(at: t, .sensor(z, reading)))
            out.append(TimedGateInput(at: t + dwell, .sensor(z, .clear)))
        }
        return merge(out)
    }

    /// A person who walks up to the flaps from `direction`'s origin and, finding them closed, backs
    /// away after `wait` (the shape of a reverse intruder or of someone pushing without a tap).
    public static func approachAndRetreat(
        _ direction: PassageDirection, start: UInt64, intoBuffer: Bool, wait: UInt64 = 1_000_000_000
    ) -> [TimedGateInput] {
        let z = zones(direction)
        var out = [
            TimedGateInput(at: start, .sensor(z[0], .adult)),
            TimedGateInput(at: start + step, .sensor(z[1], .adult)),
            TimedGateInput(at: start + dwell, .sensor(z[0], .clear)),
        ]
        if intoBuffer {
            out.append(TimedGateInput(at: start + 2 * step, .sensor(.buffer, .adult)))
            out.append(TimedGateInput(at: start + 2 * step + wait, .sensor(.buffer, .clear)))
        }
        out.append(TimedGateInput(at: start + 3 * step + wait, .sensor(z[1], .clear)))
        return merge(out)
    }

    /// Two people in a row: the second starts `gap` after the first has left the monitoring zone.
    public static func pair(
        _ direction: PassageDirection, start: UInt64, gap: UInt64, first: SensorReading = .adult,
        second: SensorReading = .adult
    ) -> [TimedGateInput] {
        let a = walk(direction, start: start, reading: first)
        // The first leaves monitoring at start + step + dwell; the second enters it `gap` later.
        let secondStart = start + dwell + gap
        return merge(a, walk(direction, start: secondStart, reading: second))
    }

    /// Merges scripts in time order (stable: equal times keep their order, first script first).
    public static func merge(_ scripts: [TimedGateInput]...) -> [TimedGateInput] {
        scripts.flatMap { $0 }.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }
            .map(\.element)
    }
}
