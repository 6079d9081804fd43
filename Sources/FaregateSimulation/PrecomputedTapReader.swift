import FaregateCore

/// The simulated fast path: a reader that turns a presented `SimulatedCard` into a `Tap` from
/// its precomputed `result`, without an APDU exchange per tap. For benchmarks and the station
/// and gate simulations, where the reader is not what is measured; everything that stands for a
/// gate's reader (the daemon's simulated mode, the runtime tests) uses `SimulatedCardReader`,
/// which reads through `CardApplicationReader`. Faulted cards still run the APDU procedure once
/// (`SimulatedCard.result`), so the fault vocabulary and its outcomes are the same on both paths.
///
/// Controls as `PresentationQueue`; `nextEvent()` blocks its single reader thread. Timestamps
/// come from the injected clock: a precomputed read takes no time of its own.
public final class PrecomputedTapReader: CardReader {
    public let name: String
    private let index: UInt16
    private let clock: any GateClock
    private let queue: PresentationQueue<SimulatedCard>

    public init(name: String, index: UInt16, clock: any GateClock) {
        self.name = name
        self.index = index
        self.clock = clock
        queue = PresentationQueue(name: name)
    }

    /// Presents a medium: it is read on the reader thread's next `nextEvent()`.
    public func present(_ card: SimulatedCard) { queue.present(card) }
    /// Simulates pulling the reader's USB cable: a `.readerLost` event, then media are ignored.
    public func unplug() { queue.unplug() }
    /// Simulates plugging the reader back in.
    public func plug() { queue.plug() }
    /// Number of presentations and controls not yet consumed by the reader thread.
    public var backlog: Int { queue.backlog }

    public func cancel() { queue.cancel() }

    public func nextEvent() -> ReaderEvent {
        switch queue.next() {
        case .notice(let event): return event
        case .item(let card):
            let t = clock.monotonicNanos()
            let readAt = clock.monotonicNanos()
            return .tap(Tap(reader: index, result: card.result, detectedAt: t, selectedAt: t, readAt: readAt))
        }
    }
}
