import Dispatch
import Foundation

/// One named thread running one body, and the means to wait for its end: the gate's reader,
/// decision and sync threads and the barrier's controller and input threads.
///
/// The body must return on its own (its owner tells it to stop first); `join()` only waits.
/// Thread-safe.
final class WorkerThread: Sendable {
    private let done = DispatchSemaphore(value: 0)

    /// Starts `body` on a new thread named `name` (shown by `top -H`, gdb and crash reports).
    init(name: String, stackSize: Int = 1 << 20, _ body: @escaping @Sendable () -> Void) {
        let done = done
        let thread = Thread {
            body()
            done.signal()
        }
        thread.name = name
        thread.stackSize = stackSize
        thread.start()
    }

    /// Blocks until the body has returned. Call once.
    func join() { done.wait() }

    /// Blocks until the body has returned or `timeout` passed; true when it returned. Call once
    /// (or until it returns true).
    func join(timeout: Duration) -> Bool {
        let (s, a) = timeout.components
        return done.wait(timeout: .now() + .nanoseconds(Int(clamping: s * 1_000_000_000 + a / 1_000_000_000)))
            == .success
    }
}
