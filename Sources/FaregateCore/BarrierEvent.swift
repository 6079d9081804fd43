/// What the barrier controller reacts to. Time is never inside an event: it is the `now` argument.
public enum BarrierEvent: Hashable, Sendable {
    /// A reader at `end` sees a medium; its decision follows as `.decided`.
    case tapDetected(GateEnd)
    /// The decision for a tap at `end` (after it was journalled).
    case decided(GateEnd, Decision)
    /// A sensor zone changed.
    case sensor(SensorZone, SensorReading)
    /// Time passed: the caller sends this when `now >= controller.deadline`, or periodically.
    case tick
    /// The station fire-alarm input changed.
    case fireAlarm(active: Bool)
    /// The UPS power-fail input changed.
    case powerFailure(active: Bool)
    /// The I/O board was lost (`false`) or is back with the passage clear (`true`). While it is
    /// lost the lane is out of service whatever the staff mode; the board's own watchdog
    /// retracts the flaps meanwhile (io-board.md).
    case ioBoard(online: Bool)
    /// A command from station staff (control socket, key switch).
    case staff(StaffCommand)
}

/// Commands station staff can give a gate.
public enum StaffCommand: Hashable, Sendable {
    case setMode(GateMode)
    case setDirections(DirectionMode)
    case setEnforcement(Enforcement)
    /// Ends an alarm state now.
    case resetAlarm
}
