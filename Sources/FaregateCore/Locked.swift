import Foundation

/// A value that threads share behind an `NSLock`, with `Mutex`'s `withLock` shape.
///
/// For state that a ThreadSanitizer suite checks: TSan sees `NSLock` (a pthread mutex it
/// intercepts) but not `Synchronization.Mutex` once it is contended, whose slow path takes a
/// priority-inheritance futex in the kernel (Swift 6.3.1 on Linux; scripts/tsan-suites.txt), so
/// every contended access under a `Mutex` shows up as a race. Foundation is imported for this
/// lock only. Thread-safe.
public final class Locked<Value: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: `value` (itself Sendable) is only touched inside `lock`.
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    /// Runs `body` with the value, holding the lock. Must not call back into this lock.
    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
