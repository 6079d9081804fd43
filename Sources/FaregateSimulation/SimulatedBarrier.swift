import FaregateCore
import Synchronization

/// A barrier that records every decision it is told to show, for tests and simulations.
///
/// Thread-safe. `onDecision` (set before use) is called on the deciding thread.
public final class SimulatedBarrier: Barrier, @unchecked Sendable {
    // @unchecked Sendable: `log` is a Mutex; `onDecision` is set once before the gate starts and
    // only read afterwards.
    private let log = Mutex<[Decision]>([])
    private let mode = Mutex<GateMode>(.normal)
    private let keepLog: Bool
    public nonisolated(unsafe) var onDecision: (@Sendable (Decision, GateEnd) -> Void)?

    /// - Parameter keepLog: record decisions for `takeDecisions()` (tests); off for long simulations.
    public init(keepLog: Bool = true) { self.keepLog = keepLog }

    public func decided(_ decision: Decision, at end: GateEnd) {
        if keepLog { log.withLock { $0.append(decision) } }
        onDecision?(decision, end)
    }

    /// The mode the lane acts in (`Barrier.effectiveMode`): `normal` until a test sets another.
    public var effectiveMode: GateMode {
        get { mode.withLock { $0 } }
        set { mode.withLock { $0 = newValue } }
    }

    /// The decisions shown so far, oldest first; clears the log (`onDecision` sees their ends).
    public func takeDecisions() -> [Decision] {
        log.withLock { l in
            defer { l.removeAll() }
            return l
        }
    }
}
