import FaregateCore
import Synchronization

/// A barrier that records every command, for tests and simulations.
///
/// Thread-safe. `onCommand` (set before use) is called on the commanding thread.
public final class SimulatedBarrier: Barrier, @unchecked Sendable {
    // @unchecked Sendable: `log` is a Mutex; `onCommand` is set once before the gate starts and
    // only read afterwards.
    private let log = Mutex<[BarrierCommand]>([])
    private let keepLog: Bool
    public nonisolated(unsafe) var onCommand: (@Sendable (BarrierCommand) -> Void)?

    /// - Parameter keepLog: record commands for `takeCommands()` (tests); off for long simulations.
    public init(keepLog: Bool = true) { self.keepLog = keepLog }

    public func command(_ command: BarrierCommand) {
        if keepLog { log.withLock { $0.append(command) } }
        onCommand?(command)
    }

    /// The commands received so far, oldest first; clears the log.
    public func takeCommands() -> [BarrierCommand] {
        log.withLock { l in
            defer { l.removeAll() }
            return l
        }
    }
}
