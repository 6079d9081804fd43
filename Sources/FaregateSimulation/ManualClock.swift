import FaregateCore
import Synchronization

/// A clock that moves only when a test advances it.
///
/// Thread-safe: readers on any thread see the value the last `advance`/`set` stored.
public final class ManualClock: GateClock {
    private let state: Mutex<(mono: UInt64, wall: Int64)>

    /// Starts at monotonic `monotonicNanos` and wall-clock `wallMillis` (default 2022-06-01 08:00 Beijing).
    public init(monotonicNanos: UInt64 = 1_000_000_000, wallMillis: Int64 = 1_654_041_600_000) {
        state = Mutex((monotonicNanos, wallMillis))
    }

    public func monotonicNanos() -> UInt64 { state.withLock { $0.mono } }
    public func wallMillis() -> Int64 { state.withLock { $0.wall } }

    /// Moves both clocks forward by `nanos`.
    public func advance(nanos: UInt64) {
        state.withLock {
            $0.mono += nanos
            $0.wall += Int64(nanos / 1_000_000)
        }
    }

    public func advance(seconds: Int) { advance(nanos: UInt64(seconds) * 1_000_000_000) }

    /// Sets the wall clock (the monotonic clock is untouched, as on a real host when NTP steps).
    public func setWall(millis: Int64) { state.withLock { $0.wall = millis } }
}
