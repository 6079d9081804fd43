/// The presence side of a card reader as a pure state machine: which reader states mean a new
/// card, when a loss or a return is reported (once each), and how long to back off after a
/// failure. The PC/SC transport feeds it what `SCardGetStatusChange` and `SCardListReaders`
/// said and performs the actions; its C details (state bits, contexts) stay in the adapter.
///
/// Rules:
/// - A card is new when the slot was empty before, or when the slot's insertion/removal counter
///   moved on (PC/SC counts both in the high 16 bits of the reader state): a card swapped
///   between two polls is a new card even though the slot was never seen empty. A mute card
///   (present, not answering) is not read.
/// - Losing the reader or the service is reported once (`.readerLost`), coming back once
///   (`.readerRestored`); failures in between only back off: 50 ms doubling to the maximum,
///   reset by the next successful wait.
///
/// Not thread-safe: the reader thread owns it.
public struct ReaderMonitor: Hashable, Sendable {
    public enum Observation: Hashable, Sendable {
        /// The watched reader's state after a wait returned.
        case slot(present: Bool, mute: Bool, counter: UInt16)
        /// A reader matching the configuration was found (the slot's state is unknown again).
        case readerFound
        /// No reader matches; `why` names what there is.
        case readerMissing(String)
        /// The watched reader went away.
        case readerGone(String)
        /// The service (pcscd) went away.
        case serviceLost(String)
        /// Any other failure of a wait or a listing.
        case failure(String)
    }

    public enum Action: Equatable, Sendable {
        /// A new card is in the field: read it.
        case readCard
        /// Hand this notice to the reader thread (`.readerLost` or `.readerRestored`).
        case report(ReaderEvent)
        /// Forget the watched reader and look for one again.
        case forgetReader
        /// Release the service connections and establish them again.
        case dropConnections
        /// Nothing to read and nothing to report: sleep until readers are added or removed.
        case waitForReaders
        /// Wait this long (cancellable) before the next attempt.
        case backOff(millis: Int)
        case log(String)
    }

    public let maxBackoffMillis: Int
    public private(set) var lost = false
    public private(set) var backoffMillis = 0
    /// The slot as last seen: whether a card was present (nil: unknown, no reader yet or just
    /// found) and the insertion/removal counter.
    private var slotPresent: Bool?
    private var slotCounter: UInt16 = 0

    public init(maxBackoffMillis: Int) { self.maxBackoffMillis = max(50, maxBackoffMillis) }

    public mutating func handle(_ observation: Observation) -> [Action] {
        switch observation {
        case .slot(let present, let mute, let counter):
            backoffMillis = 0
            let new = slotPresent != true || slotCounter != counter
            slotPresent = present
            slotCounter = counter
            return present && !mute && new ? [.readCard] : []
        case .readerFound:
            slotPresent = nil
            backoffMillis = 0
            guard lost else { return [] }
            lost = false
            return [.report(.readerRestored)]
        case .readerMissing(let why):
            guard lost else {
                lost = true
                return [.report(.readerLost(why))]
            }
            return [.waitForReaders]
        case .readerGone(let why):
            slotPresent = nil
            return [.forgetReader] + lose(why)
        case .serviceLost(let why):
            slotPresent = nil
            guard lost else {
                return [.dropConnections, .forgetReader, .log("lost the reader service (\(why)); re-establishing")]
                    + lose("reader service unavailable: \(why)")
            }
            return [.dropConnections, .forgetReader, backOff()]
        case .failure(let why):
            return [.log("\(why); retrying"), backOff()]
        }
    }

    private mutating func lose(_ why: String) -> [Action] {
        guard !lost else { return [] }
        lost = true
        return [.report(.readerLost(why))]
    }

    private mutating func backOff() -> Action {
        backoffMillis = min(max(50, backoffMillis * 2), maxBackoffMillis)
        return .backOff(millis: backoffMillis)
    }
}
