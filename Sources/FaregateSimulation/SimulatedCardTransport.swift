import FaregateCore
import Synchronization

/// A `CardTransport` whose cards are `SimulatedSmartCard`s presented by a test or the daemon's
/// simulated mode: the reader reads them APDU by APDU through `CardApplicationReader`, exactly
/// as it reads a card behind pcscd, with the same `CardFault`s.
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
        /// A medium read by the code scanner in one step (ride code, ticket token).
        case scanned(Tap.Result)
    }

    private struct Field {
        /// The card being read, between `waitForCard()` and `leave()`.
        var card: SimulatedSmartCard?
        /// The last card that left, with every command it received (for tests).
        var last: SimulatedSmartCard?
    }

    public let name: String
    private let queue: PresentationQueue<Medium>
    private let field = Mutex(Field())

    public init(name: String) {
        self.name = name
        queue = PresentationQueue(name: name)
    }

    /// Presents a chip: it is read on the reader thread's next wait.
    public func present(_ card: SimulatedSmartCard) { queue.present(.card(card)) }

    /// Presents a medium: a card as its chip (`SimulatedCard.smartCard`), any other medium to
    /// the code scanner (`SimulatedCard.scannedResult`).
    public func present(_ card: SimulatedCard) {
        queue.present(card.smartCard.map { .card($0) } ?? .scanned(card.scannedResult))
    }

    /// The card in the field leaves now: the command being answered, if any, is its last.
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
        case .item(.scanned(let result)): return .scanned(result)
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
