import CPCSC
import Dispatch
import FaregateCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The `CardTransport` of a contactless reader behind pcscd, watched event-driven through
/// `SCardGetStatusChange`. A thin adapter: what a reader state means (a new card, a lost
/// reader, how long to back off) is decided by the core's `ReaderMonitor`, how long to wait for
/// a busy card by `ReaderBusyBudget`, and what to do after a reset or a failed transmit by
/// `CardReadSession` (in `TransportCardReader`); this type performs their actions with pcsc-lite.
///
/// - One dedicated thread calls `waitForCard()`; it blocks in `SCardGetStatusChange` (no
///   timeout, no polling) on the monitoring context, watching the configured reader and the
///   `\\?PnP?\Notification` pseudo-reader, so plugging and unplugging readers wakes it too.
/// - Cards are connected and read on a second, transmit context, so a transmit never shares a
///   context with the blocked wait.
/// - pcscd stopping (`noService`, `serviceStopped`, `invalidHandle`, `commError`) releases both
///   contexts and re-establishes them with exponential backoff (50 ms … `maxBackoffMillis`).
/// - `sharingViolation` on connect (another application holds the card exclusively): see
///   `connect()`. A transaction held by another application does not reach this code on
///   pcsc-lite: libpcsclite resends the gate's `SCardTransmit` itself until the transaction
///   ends (the read then goes on) or the card leaves (`.cardRemoved`).
/// - `cancel()` may be called from any thread: it calls `SCardCancel` until the waiting thread
///   has left the wait, so the thread returns `.cancelled` promptly.
///
/// `@unchecked Sendable`: reader-thread state (`transmitContext`, `card`, `reader`, `known…`,
/// `monitorState`) is only touched by the one thread that calls the transport (the protocol's
/// contract); state shared with `cancel()` is in `Atomic`s and the `Mutex`.
public final class PCSCCardTransport: CardTransport, @unchecked Sendable {
    public let name: String
    public let configuration: PCSCCardReader.Configuration
    let clock: any GateClock
    let log: @Sendable (String) -> Void

    // Shared with cancel().
    private let cancelled = Atomic<Bool>(false)
    // Sequentially consistent with `cancelled`: cancel() must see `waiting` set by a thread that
    // had not yet seen `cancelled`, or the thread must see `cancelled` (Dekker-style).
    private let waiting = Atomic<Bool>(false)
    private let monitor = Mutex<PCSCContext?>(nil)
    private let wake = DispatchSemaphore(value: 0)

    let debug = getenv("FAREGATE_PCSC_DEBUG") != nil

    // Reader thread only.
    var transmitContext: PCSCContext?
    var card: PCSCCard?
    private(set) var reader: String?
    private var knownReaderState: UInt32 = 0
    private var knownPnPState: UInt32 = 0
    private var monitorState: ReaderMonitor

    /// The insertion/removal counter of the card being read (reader thread only).
    var cardCounter: UInt32 { knownReaderState >> 16 }

    /// - Parameters:
    ///   - clock: times the busy budget.
    ///   - log: one line per notable event (reader lost, pcscd restart); called on the reader thread.
    public init(
        configuration: PCSCCardReader.Configuration, clock: any GateClock, log: @escaping @Sendable (String) -> Void
    ) {
        self.configuration = configuration
        self.name = configuration.readerName ?? "pcsc"
        self.clock = clock
        self.log = log
        monitorState = ReaderMonitor(maxBackoffMillis: configuration.maxBackoffMillis)
    }

    public func cancel() {
        cancelled.store(true, ordering: .sequentiallyConsistent)
        wake.signal()
        // SCardCancel only interrupts a wait in progress; repeat while the thread is inside one.
        for _ in 0..<400 where waiting.load(ordering: .sequentiallyConsistent) {
            monitor.withLock { $0?.cancel() }
            usleep(5000)
        }
    }

    public func waitForCard() -> CardPresence {
        while true {
            if cancelled.load(ordering: .sequentiallyConsistent) { return .notice(.cancelled) }
            if let presence = step() { return presence }
        }
    }

    // MARK: Monitoring: observations in, ReaderMonitor's actions out

    private func step() -> CardPresence? {
        let context: PCSCContext
        if let c = monitor.withLock({ $0 }) {
            context = c
        } else {
            do throws(PCSCError) {
                let c = try PCSCContext()
                monitor.withLock { $0 = c }
                context = c
            } catch {
                return observe(.serviceLost("\(error)"), context: nil)
            }
        }
        guard let reader else { return findReader(context) }

        var states = [
            PCSCContext.ReaderState(reader: reader, known: knownReaderState),
            PCSCContext.ReaderState(reader: PCSCContext.plugAndPlayReader, known: knownPnPState),
        ]
        do throws(PCSCError) {
            try wait(context, &states)
        } catch {
            return failed(error, context: context)
        }
        if debug { log("pcsc: state \(String(states[0].event, radix: 16)) pnp \(String(states[1].event, radix: 16))") }
        knownPnPState = states[1].event & ~ReaderStateBits.changed
        let event = states[0].event
        if event & (ReaderStateBits.unknown | ReaderStateBits.ignore) != 0 {
            return observe(.readerGone("reader \(reader) removed"), context: context)
        }
        knownReaderState = event & ~ReaderStateBits.changed
        // The high 16 bits count insertions and removals (pcsc-lite's event counter).
        let slot = ReaderMonitor.Observation.slot(
            present: event & ReaderStateBits.present != 0, mute: event & ReaderStateBits.mute != 0,
            counter: UInt16(truncatingIfNeeded: event >> 16))
        return observe(slot, context: context)
    }

    private func findReader(_ context: PCSCContext) -> CardPresence? {
        let names: [String]
        do throws(PCSCError) {
            names = try context.readers()
        } catch {
            return failed(error, context: context)
        }
        if let match = names.first(where: matches) {
            reader = match
            knownReaderState = ReaderStateBits.unaware
            log("pcsc: using reader '\(match)'")
            return observe(.readerFound, context: context)
        }
        let why = "no PC/SC reader matching '\(configuration.readerName ?? "*")' (readers: \(names))"
        return observe(.readerMissing(why), context: context)
    }

    private func matches(_ readerName: String) -> Bool {
        guard let pattern = configuration.readerName, !pattern.isEmpty else { return true }
        return readerName.lowercased().contains(pattern.lowercased())
    }

    private func wait(_ context: PCSCContext, _ states: inout [PCSCContext.ReaderState]) throws(PCSCError) {
        waiting.store(true, ordering: .sequentiallyConsistent)
        defer { waiting.store(false, ordering: .sequentiallyConsistent) }
        if cancelled.load(ordering: .sequentiallyConsistent) {
            throw PCSCError(status: .cancelled, call: "SCardGetStatusChange")
        }
        try context.waitForChange(&states, timeoutMillis: nil)
    }

    /// Classifies a failed call for `ReaderMonitor` (a cancel or a timeout is not a failure).
    private func failed(_ error: PCSCError, context: PCSCContext?) -> CardPresence? {
        let s = error.status
        if s == .cancelled { return cancelled.load(ordering: .sequentiallyConsistent) ? .notice(.cancelled) : nil }
        if s == .timeout { return nil }
        if s.meansServiceLost { return observe(.serviceLost("\(error)"), context: context) }
        if s == .unknownReader || s == .readerUnavailable { return observe(.readerGone("\(error)"), context: context) }
        return observe(.failure("\(error)"), context: context)
    }

    /// Feeds `observation` to the monitor and performs its actions.
    private func observe(_ observation: ReaderMonitor.Observation, context: PCSCContext?) -> CardPresence? {
        var presence: CardPresence?
        for action in monitorState.handle(observation) {
            switch action {
            case .readCard: presence = .card
            case .report(let event): presence = .notice(event)
            case .forgetReader:
                reader = nil
                knownReaderState = 0
            case .dropConnections:
                monitor.withLock { $0 = nil }
                transmitContext = nil
                knownPnPState = 0
            case .waitForReaders:
                // Sleep in the PnP wait until a reader is added or removed.
                guard let context else { break }
                var states = [PCSCContext.ReaderState(reader: PCSCContext.plugAndPlayReader, known: knownPnPState)]
                do throws(PCSCError) {
                    try wait(context, &states)
                    knownPnPState = states[0].event & ~ReaderStateBits.changed
                } catch {
                    return failed(error, context: context)
                }
            case .backOff(let millis):
                // `cancel()` signals `wake`, cutting the wait short.
                _ = wake.wait(timeout: .now() + .milliseconds(millis))
            case .log(let line):
                log("pcsc: \(line)")
            }
        }
        return presence
    }

    // MARK: The card

    public func transmit(_ command: CommandAPDU) throws(CardIOError) -> ResponseAPDU {
        guard let card else { throw CardIOError(.transmitFailed, "no card connected") }
        let raw: [UInt8]
        do throws(PCSCError) {
            raw = try card.exchange(command)
        } catch {
            if error.status.meansServiceLost { transmitContext = nil }
            let kind: CardIOError.Kind =
                switch error.status {
                case let s where s.meansCardGone: .cardRemoved
                case .timeout: .timeout
                case .resetCard: .cardReset
                // pcsc-lite's libpcsclite never returns this from SCardTransmit: it resends the
                // command itself while another connection holds a transaction. Other PC/SC
                // stacks may return it.
                case .sharingViolation: .readerBusy
                default: .transmitFailed
                }
            throw CardIOError(kind, "\(error)")
        }
        guard let response = ResponseAPDU(bytes: raw) else {
            throw CardIOError(.malformedResponse, "\(raw.count)-byte response has no status word")
        }
        return response
    }

    /// `SCardReconnect(SHARED, LEAVE)` after a reset by another application.
    public func reconnect() -> Bool {
        guard let card else { return false }
        do throws(PCSCError) {
            try card.reconnect()
            return true
        } catch {
            log("pcsc: reader '\(reader ?? name)': reconnect after a reset: \(error)")
            return false
        }
    }

    /// Many readers (vpcd, ACR122U) report a card pulled mid-APDU as a failed or empty transmit
    /// rather than `removedCard`; pcscd notices the removal on its next presence poll, so wait
    /// for that briefly (failure path only).
    public func cardLeft() -> Bool {
        guard let reader, let context = transmitContext else { return false }
        var states = [PCSCContext.ReaderState(reader: reader, known: knownReaderState)]
        do throws(PCSCError) {
            try context.waitForChange(&states, timeoutMillis: 1000)
        } catch {
            return false
        }
        return Self.cardGone(states[0].event, counter: cardCounter)
    }

    /// `SCardDisconnect(LEAVE)`: the card stays powered for whoever reads it next.
    public func leave() {
        _ = try? card?.close()
        card = nil
    }

    /// Not present, or the insertion counter (high 16 bits) moved on: not the card we were reading.
    static func cardGone(_ event: UInt32, counter: UInt32) -> Bool {
        event & ReaderStateBits.present == 0 || (event >> 16) != counter
    }
}
