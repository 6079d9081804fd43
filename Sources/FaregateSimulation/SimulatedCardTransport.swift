import FaregateCore
import Synchronization

/// A `CardTransport` whose cards are `SimulatedSmartCard`s presented by a test or the daemon's
/// simulated mode: the reader reads them APDU by APDU through `CardApplicationReader`, exactly
/// as it reads a card behind pcscd, with the same `CardFault`s.
///
/// `precomputed` is the simulated fast path, for benchmarks and the station and gate
/// simulations, where the reader is not what is measured: a presented `SimulatedCard` becomes its
/// precomputed `result` without an APDU exchange per tap. Faulted cards still run the procedure
/// once (`SimulatedCard.result`), so faults mean the same on both paths.
///
/// Controls (any thread): `present` a card (or a `SimulatedCard`, compiled to its chip),
/// `removeCard()` (the card in the field leaves; its next APDU is never answered), `unplug()`,
/// `plug()`, `cancel()`. The transport calls are made by the one reader thread.
/// A simulated card answers at once: a `slow` fault's delay is not slept (the vpcd emulator
/// sleeps it, and a real reader would), so simulated time stays where the test put it.
///
/// `Sendable`: the queue is thread-safe and the card in the field is inside a Mutex.
public final class SimulatedCardTransport: CardTransport {
    /// What a simulated reader can be shown.
    public enum Medium: Sendable {
        /// A contactless chip, read APDU by APDU.
        case card(SimulatedSmartCard)
        /// A medium read in one step: by the code scanner (ride code, ticket token), or on the
        /// fast path.
        case read(Tap.Result)
    }

    private struct Field {
        /// The card being read, between `waitForCard()` and `leave()`.
        var card: SimulatedSmartCard?
        /// The last card that left, with every command it received (for tests).
        var last: SimulatedSmartCard?
    }

    public let name: String
    /// The fast path: `present(_: SimulatedCard)` hands over the precomputed result.
    public let precomputed: Bool
    private let queue: PresentationQueue<Medium>
    private let field = Mutex(Field())

    public init(name: String, precomputed: Bool = false) {
        self.name = name
        self.precomputed = precomputed
        queue = PresentationQueue(name: name)
    }

    /// Presents a chip: it is read on the reader thread's next wait.
    public func present(_ card: SimulatedSmartCard) { queue.present(.card(card)) }

    /// Presents a medium: a card as its chip (`SimulatedCard.smartCard`), any other medium to
    /// the code scanner (`SimulatedCard.scannedResult`); on the fast path, its `result`.
    public func present(_ card: SimulatedCard) {
        guard !precomputed else { return queue.present(.read(card.result)) }
        queue.present(card.smartCard.map { .card($0) } ?? .read(card.scannedResult))
    }

    /// The card in the field leaves now: the command being answered, if any, is its last. For a
    /// test driving the reader from another thread; a removal at an exact APDU is
    /// `CardFault.removeAfter`, which is deterministic and means the same on vpcd.
    public func removeCard() { field.withLock { $0.card?.remove() } }
    /// Simulates pulling the reader's USB cable: a `.readerLost`, then media are ignored.
    public func unplug() { queue.unplug() }
    /// Simulates plugging the reader back in.
    public func plug() { queue.plug() }
    /// Number of presentations and controls not yet consumed by the reader thread.
    public var backlog: Int { queue.backlog }
    /// The last card read and released, with the commands it received.
    public var lastCard: SimulatedSmartCard? { field.withLock { $0.last } }

    public func cancel() { queue.cancel() }

    public func waitForCard() -> CardPresence {
        switch queue.next() {
        case .notice(let event): return .notice(event)
        case .item(.read(let result)): return .readByTransport(result)
        case .item(.card(let card)):
            field.withLock { $0.card = card }
            return .card
        }
    }

    /// Powers the card on, as the vpcd emulator does when pcscd connects.
    public func connect() throws(CardIOError) {
        let present = field.withLock { f in
            f.card?.powerOn()
            return f.card != nil
        }
        guard present else { throw CardIOError(.cardRemoved, "no simulated card in the field") }
    }

    public func transmit(_ command: CommandAPDU) throws(CardIOError) -> ResponseAPDU {
        try field.withLock { (f: inout Field) throws(CardIOError) -> ResponseAPDU in
            // Optional chaining mutates the card in place (no copy of what it received).
            guard let response = try f.card?.transmit(command) else {
                throw CardIOError(.cardRemoved, "no simulated card in the field")
            }
            return response
        }
    }

    /// A warm reset's reconnect: the card powers on again, as on vpcd's reset.
    public func reconnect() -> Bool {
        field.withLock { f in
            f.card?.powerOn()
            return f.card != nil
        }
    }

    public func cardLeft() -> Bool { field.withLock { $0.card?.removed ?? true } }

    public func leave() {
        field.withLock { f in
            if let c = f.card { f.last = c }
            f.card = nil
        }
    }
}
