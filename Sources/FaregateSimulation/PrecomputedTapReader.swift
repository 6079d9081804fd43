import Dispatch
import FaregateCore
import Synchronization

/// A reader whose media are presented by a test or a simulation through out-of-band controls.
///
/// `present`, `unplug`, `plug` and `cancel` may be called from any thread; `nextEvent()` blocks
/// its (single) reader thread until one of them has queued something. Timestamps come from the
/// injected clock: a simulated read takes no time of its own.
public final class SimulatedCardReader: CardReader, @unchecked Sendable {
    // @unchecked Sendable: all mutable state is inside `state` (a Mutex); `signal` is thread-safe.
    private enum Pending {
        case card(SimulatedCard)
        case unplug
        case plug
    }

    private struct State {
        var pending: [Pending] = []
        var head = 0
        var cancelled = false
        var plugged = true
    }

    public let name: String
    private let index: UInt16
    private let clock: any GateClock
    private let state = Mutex(State())
    private let signal = DispatchSemaphore(value: 0)

    public init(name: String, index: UInt16, clock: any GateClock) {
        self.name = name
        self.index = index
        self.clock = clock
    }

    /// Presents a medium: it is read on the reader thread's next `nextEvent()`.
    public func present(_ card: SimulatedCard) { enqueue(.card(card)) }
    /// Simulates pulling the reader's USB cable: a `.readerLost` event, then media are ignored.
    public func unplug() { enqueue(.unplug) }
    /// Simulates plugging the reader back in.
    public func plug() { enqueue(.plug) }

    /// Number of presentations and controls not yet consumed by the reader thread.
    public var backlog: Int { state.withLock { $0.pending.count - $0.head } }

    public func cancel() {
        state.withLock { $0.cancelled = true }
        signal.signal()
    }

    private func enqueue(_ p: Pending) {
        state.withLock { $0.pending.append(p) }
        signal.signal()
    }

    public func nextEvent() -> ReaderEvent {
        while true {
            signal.wait()
            let next: Pending? = state.withLock { s in
                if s.cancelled { return nil }
                let p = s.pending[s.head]
                s.head += 1
                if s.head > 1024 && s.head * 2 > s.pending.count {
                    s.pending.removeFirst(s.head)
                    s.head = 0
                }
                return p
            }
            guard let next else { return .cancelled }
            switch next {
            case .unplug:
                let wasPlugged = state.withLock { s in
                    defer { s.plugged = false }
                    return s.plugged
                }
                if wasPlugged { return .readerLost("\(name): simulated unplug") }
            case .plug:
                let wasPlugged = state.withLock { s in
                    defer { s.plugged = true }
                    return s.plugged
                }
                if !wasPlugged { return .readerRestored }
            case .card(let card):
                guard state.withLock({ $0.plugged }) else { continue }  // nobody hears a card on an unplugged reader
                let t = clock.monotonicNanos()
                let readAt = clock.monotonicNanos()
                return .tap(Tap(reader: index, result: card.result, detectedAt: t, selectedAt: t, readAt: readAt))
            }
        }
    }
}
