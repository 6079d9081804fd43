import Dispatch
import FaregateCore
import Synchronization

/// The out-of-band controls of a simulated reader: media presented, the reader unplugged and
/// plugged back, cancel (`SimulatedCardTransport`'s queue, on the APDU path and the fast path).
///
/// `present`, `unplug`, `plug` and `cancel` may be called from any thread; `next()` blocks its
/// single consumer thread until one of them has queued something.
///
/// `@unchecked Sendable`: all mutable state is inside `state` (a Mutex); `signal` is thread-safe.
final class PresentationQueue<Item: Sendable>: @unchecked Sendable {
    enum Next: Sendable {
        /// A medium presented on a plugged-in reader.
        case item(Item)
        /// `.readerLost`, `.readerRestored` or `.cancelled`.
        case notice(ReaderEvent)
    }

    private enum Pending {
        case item(Item)
        case unplug
        case plug
    }

    private struct State {
        var pending: [Pending] = []
        var head = 0
        var cancelled = false
        var plugged = true
    }

    let name: String
    private let state = Mutex(State())
    private let signal = DispatchSemaphore(value: 0)

    init(name: String) { self.name = name }

    /// Presents a medium: it is taken by the consumer's next `next()`.
    func present(_ item: Item) { enqueue(.item(item)) }
    /// Simulates pulling the reader's USB cable: a `.readerLost`, then media are ignored.
    func unplug() { enqueue(.unplug) }
    /// Simulates plugging the reader back in.
    func plug() { enqueue(.plug) }

    /// Number of presentations and controls not yet consumed.
    var backlog: Int { state.withLock { $0.pending.count - $0.head } }

    func cancel() {
        state.withLock { $0.cancelled = true }
        signal.signal()
    }

    private func enqueue(_ p: Pending) {
        state.withLock { $0.pending.append(p) }
        signal.signal()
    }

    /// Blocks until a medium is presented on a plugged-in reader, the reader is unplugged or
    /// plugged back (each reported once per change), or `cancel()`.
    func next() -> Next {
        while true {
            signal.wait()
            let next: Next? = state.withLock { s in
                if s.cancelled { return .notice(.cancelled) }
                let p = s.pending[s.head]
                s.head += 1
                if s.head > 1024 && s.head * 2 > s.pending.count {
                    s.pending.removeFirst(s.head)
                    s.head = 0
                }
                switch p {
                case .unplug:
                    defer { s.plugged = false }
                    return s.plugged ? .notice(.readerLost("\(name): simulated unplug")) : nil
                case .plug:
                    defer { s.plugged = true }
                    return s.plugged ? nil : .notice(.readerRestored)
                case .item(let item):
                    // Nobody hears a card on an unplugged reader.
                    return s.plugged ? .item(item) : nil
                }
            }
            if let next { return next }
        }
    }
}
