import CPCSC
import Dispatch
import FaregateCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A contactless reader behind pcscd, read event-driven through `SCardGetStatusChange`.
///
/// - One dedicated thread calls `nextEvent()`; it blocks in `SCardGetStatusChange` (no timeout,
///   no polling) on the monitoring context, watching the configured reader and the
///   `\\?PnP?\Notification` pseudo-reader, so plugging and unplugging readers wakes it too.
/// - Cards are connected and read on a second, transmit context, so a transmit never shares a
///   context with the blocked wait.
/// - pcscd stopping (`noService`, `serviceStopped`, `invalidHandle`, `commError`) releases both
///   contexts and re-establishes them with exponential backoff (50 ms … `maxBackoffMillis`);
///   the thread reports `.readerLost` once and `.readerRestored` when the reader is back.
/// - A card leaving mid-read yields a tap `.failed(.cardRemoved, key?)`.
/// - `resetCard` during a read (another application reset the card): reconnect and read again
///   from the first SELECT, once; a second reset gives up (`.failed(.transmitFailed, …)`): a
///   decision is never made from part of a read.
/// - `sharingViolation` on connect (another application holds the card exclusively): wait for
///   the reader state to change (the holder letting go wakes the wait at once) in steps of 5 ms
///   doubling to 80 ms, within `busyBudgetMillis`; then the tap is `.failed(.readerBusy, nil)`
///   (journalled `reader_busy`, never opens) and a log line names the reader. A card that
///   leaves meanwhile is `.cardRemoved`. A transaction held by another application does not
///   reach this code on pcsc-lite: libpcsclite resends the gate's `SCardTransmit` itself until
///   the transaction ends (the read then goes on) or the card leaves (`.cardRemoved`).
/// - `cancel()` may be called from any thread: it calls `SCardCancel` until the waiting thread
///   has left the wait, so the thread returns `.cancelled` promptly.
///
/// `@unchecked Sendable`: reader-thread state (`transmitContext`, `reader`, `known…`, `lost`,
/// `backoffMillis`) is only touched by the one thread that calls `nextEvent()` (the protocol's
/// contract); state shared with `cancel()` is in `Atomic`s and the `Mutex`.
public final class PCSCCardReader: CardReader, @unchecked Sendable {
    public struct Configuration: Sendable {
        /// Case-insensitive substring of the PC/SC reader name ("ACR122", "Virtual PCD 00 00");
        /// nil takes the first reader.
        public var readerName: String?
        /// Index of this reader within its gate (goes into every `Tap`).
        public var index: UInt16
        /// Keep the APDU exchange of each read for `onRead` (off on gates).
        public var recordExchanges: Bool
        public var maxBackoffMillis: Int
        /// How long one tap waits for another application that holds the card with an exclusive
        /// connection before it is journalled as `readerBusy`. The whole tap must be decided well
        /// inside 300 ms, so this stays well below that.
        public var busyBudgetMillis: Int

        public init(
            readerName: String? = nil, index: UInt16 = 0, recordExchanges: Bool = false, maxBackoffMillis: Int = 2000,
            busyBudgetMillis: Int = 150
        ) {
            self.readerName = readerName
            self.index = index
            self.recordExchanges = recordExchanges
            self.maxBackoffMillis = maxBackoffMillis
            self.busyBudgetMillis = busyBudgetMillis
        }
    }

    public let name: String
    public let configuration: Configuration
    let clock: any GateClock
    let log: @Sendable (String) -> Void
    private let onRead: (@Sendable (CardReadReport) -> Void)?

    // Shared with cancel().
    private let cancelled = Atomic<Bool>(false)
    // Sequentially consistent with `cancelled`: cancel() must see `waiting` set by a thread that
    // had not yet seen `cancelled`, or the thread must see `cancelled` (Dekker-style).
    private let waiting = Atomic<Bool>(false)
    private let monitor = Mutex<PCSCContext?>(nil)
    private let wake = DispatchSemaphore(value: 0)

    let debug = getenv("FAREGATE_PCSC_DEBUG") != nil

    // Reader thread only.
    private var transmitContext: PCSCContext?
    private var reader: String?
    private var knownReaderState: UInt32 = 0
    private var knownPnPState: UInt32 = 0
    private var lost = false
    private var backoffMillis = 0

    /// The insertion/removal counter of the card being read (reader thread only).
    var cardCounter: UInt32 { knownReaderState >> 16 }

    /// - Parameters:
    ///   - clock: stamps `detectedAt`, `selectedAt` and `readAt`.
    ///   - log: one line per notable event (reader lost, pcscd restart); called on the reader thread.
    ///   - onRead: called on the reader thread with every read's report (with exchanges when
    ///     `recordExchanges`), for `farectl card read -v`.
    public init(
        configuration: Configuration, clock: any GateClock, log: @escaping @Sendable (String) -> Void = { _ in },
        onRead: (@Sendable (CardReadReport) -> Void)? = nil
    ) {
        self.configuration = configuration
        self.name = configuration.readerName ?? "pcsc"
        self.clock = clock
        self.log = log
        self.onRead = onRead
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

    public func nextEvent() -> ReaderEvent {
        while true {
            if cancelled.load(ordering: .sequentiallyConsistent) { return .cancelled }
            if let event = step() { return event }
        }
    }

    // MARK: The monitoring state machine

    private func step() -> ReaderEvent? {
        let context: PCSCContext
        if let c = monitor.withLock({ $0 }) {
            context = c
        } else {
            do throws(PCSCError) {
                let c = try PCSCContext()
                monitor.withLock { $0 = c }
                context = c
            } catch {
                return serviceLost(error)
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
            return failed(error)
        }
        backoffMillis = 0
        if debug { log("pcsc: state \(String(states[0].event, radix: 16)) pnp \(String(states[1].event, radix: 16))") }
        knownPnPState = states[1].event & ~ReaderStateBits.changed
        let event = states[0].event
        if event & (ReaderStateBits.unknown | ReaderStateBits.ignore) != 0 {
            return readerGone("reader \(reader) removed")
        }
        let previous = knownReaderState
        knownReaderState = event & ~ReaderStateBits.changed
        let present = event & ReaderStateBits.present != 0 && event & ReaderStateBits.mute == 0
        // The high 16 bits count insertions and removals: a new count while present is a new
        // card even if the previous one was never seen leaving.
        let newCard = previous & ReaderStateBits.present == 0 || (previous >> 16) != (event >> 16)
        if present && newCard {
            let detectedAt = clock.monotonicNanos()
            return .tap(readCard(in: reader, detectedAt: detectedAt))
        }
        return nil
    }

    private func findReader(_ context: PCSCContext) -> ReaderEvent? {
        let names: [String]
        do throws(PCSCError) {
            names = try context.readers()
        } catch {
            return failed(error)
        }
        if let match = names.first(where: matches) {
            reader = match
            knownReaderState = ReaderStateBits.unaware
            backoffMillis = 0
            log("pcsc: using reader '\(match)'")
            if lost {
                lost = false
                return .readerRestored
            }
            return nil
        }
        if !lost {
            lost = true
            return .readerLost("no PC/SC reader matching '\(configuration.readerName ?? "*")' (readers: \(names))")
        }
        // Sleep in the PnP wait until a reader is added or removed.
        var states = [PCSCContext.ReaderState(reader: PCSCContext.plugAndPlayReader, known: knownPnPState)]
        do throws(PCSCError) {
            try wait(context, &states)
            knownPnPState = states[0].event & ~ReaderStateBits.changed
        } catch {
            return failed(error)
        }
        return nil
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

    private func failed(_ error: PCSCError) -> ReaderEvent? {
        let s = error.status
        if s == .cancelled { return cancelled.load(ordering: .sequentiallyConsistent) ? .cancelled : nil }
        if s == .timeout { return nil }
        if s.meansServiceLost { return serviceLost(error) }
        if s == .unknownReader || s == .readerUnavailable { return readerGone("\(error)") }
        log("pcsc: \(error); retrying")
        backOff()
        return nil
    }

    private func readerGone(_ why: String) -> ReaderEvent? {
        reader = nil
        knownReaderState = 0
        if lost { return nil }
        lost = true
        return .readerLost(why)
    }

    /// pcscd went away: drop both contexts, report once, back off before the next attempt.
    private func serviceLost(_ error: PCSCError) -> ReaderEvent? {
        monitor.withLock { $0 = nil }
        transmitContext = nil
        reader = nil
        knownReaderState = 0
        knownPnPState = 0
        if !lost {
            lost = true
            log("pcsc: lost pcscd (\(error)); re-establishing")
            return .readerLost("pcscd unavailable: \(error)")
        }
        backOff()
        return nil
    }

    /// Waits 50 ms, doubling up to the maximum; `cancel()` cuts the wait short.
    private func backOff() {
        backoffMillis = min(max(50, backoffMillis * 2), configuration.maxBackoffMillis)
        _ = wake.wait(timeout: .now() + .milliseconds(backoffMillis))
    }

    // MARK: Reading

    private func readCard(in readerName: String, detectedAt: UInt64) -> Tap {
        var selectedAt: UInt64?
        let result = connectAndRead(readerName) { selectedAt = clock.monotonicNanos() }
        let readAt = clock.monotonicNanos()
        return Tap(
            reader: configuration.index, result: result, detectedAt: detectedAt, selectedAt: selectedAt ?? readAt,
            readAt: readAt)
    }

    /// After a transport failure: did the card leave? Many readers (vpcd, ACR122U) report a card
    /// pulled mid-APDU as a failed or empty transmit rather than `removedCard`; pcscd notices the
    /// removal on its next presence poll, so wait for that briefly (failure path only).
    private func cardLeft(_ readerName: String, context: PCSCContext) -> Bool {
        var states = [PCSCContext.ReaderState(reader: readerName, known: knownReaderState)]
        do throws(PCSCError) {
            try context.waitForChange(&states, timeoutMillis: 1000)
        } catch {
            return false
        }
        let e = states[0].event
        return e & ReaderStateBits.present == 0 || (e >> 16) != (knownReaderState >> 16)
    }

    private func connectAndRead(_ readerName: String, onSelected: () -> Void) -> Tap.Result {
        let context: PCSCContext
        if let t = transmitContext {
            context = t
        } else {
            do throws(PCSCError) {
                context = try PCSCContext()
                transmitContext = context
            } catch {
                return .failed(.transmitFailed, nil)
            }
        }
        let card: PCSCCard
        switch connect(readerName, context: context) {
        case .card(let c): card = c
        case .failed(let failure): return .failed(failure, nil)
        }
        defer { _ = try? card.close() }

        var report: CardReadReport
        var rereads = 0
        while true {
            var resetSeen = false
            var serviceGone = false
            report = CardApplicationReader(recordExchanges: configuration.recordExchanges).read(
                onSelected: onSelected
            ) { (command: CommandAPDU) throws(CardIOError) -> ResponseAPDU in
                let raw: [UInt8]
                do throws(PCSCError) {
                    raw = try card.exchange(command)
                } catch {
                    if error.status == .resetCard { resetSeen = true }
                    if error.status.meansServiceLost { serviceGone = true }
                    let kind: CardIOError.Kind =
                        switch error.status {
                        case let s where s.meansCardGone: .cardRemoved
                        case .timeout: .timeout
                        // pcsc-lite's libpcsclite never returns this from SCardTransmit: it
                        // resends the command itself while another connection holds a
                        // transaction. Other PC/SC stacks may return it.
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
            if serviceGone { transmitContext = nil }
            guard resetSeen else { break }
            // Another application reset the card (SCARD_W_RESET_CARD): the selected application
            // is gone with it, and whatever was read before may not belong to one consistent read.
            // Reconnect and read again from the first SELECT, once; a second reset gives up.
            if rereads == 0, reconnect(card, readerName) {
                rereads += 1
                log(
                    "pcsc: reader '\(readerName)': card reset by another application mid-read; reading again from SELECT"
                )
                continue
            }
            // Whatever the outcome says, a read that saw a reset is not one consistent read.
            let message = "card reset by another application during the read; gave up"
            switch report.outcome {
            case .failure(var e):
                e.message = "\(message) (\(e.message))"
                report.outcome = .failure(e)
            case .success(let details):
                report.outcome = .failure(
                    CardReadError(.io(.transmitFailed), step: "reconnect", message: message, key: details.read.key))
            }
            log("pcsc: reader '\(readerName)': card reset by another application and not read again; tap not decided")
            onRead?(report)
            return report.tapResult
        }
        if case .failure(var e) = report.outcome, e.code == .io(.transmitFailed) || e.code == .io(.malformedResponse),
            cardLeft(readerName, context: context)
        {
            e.code = .io(.cardRemoved)
            e.message = "card left the field (\(e.message))"
            report.outcome = .failure(e)
        }
        if debug, case .failure(let e) = report.outcome { log("pcsc: read failed: \(e)") }
        onRead?(report)
        return report.tapResult
    }

    private enum Connected {
        case card(PCSCCard)
        case failed(ReadFailure)
    }

    /// `SCardConnect(SHARED)`, waiting within the tap's busy budget while another application
    /// holds the card exclusively.
    private func connect(_ readerName: String, context: PCSCContext) -> Connected {
        var busy = BusyBudget(millis: configuration.busyBudgetMillis)
        while true {
            do throws(PCSCError) {
                return .card(try PCSCCard(context: context, reader: readerName))
            } catch {
                if error.status == .sharingViolation {
                    switch waitWhileBusy(readerName, context: context, busy: &busy) {
                    case .retry: continue
                    case .cardLeft:
                        log("pcsc: reader '\(readerName)': card left while another application held it exclusively")
                        return .failed(.cardRemoved)
                    case .exhausted:
                        logBusy(readerName, holding: "an exclusive connection", busy)
                        return .failed(.readerBusy)
                    }
                }
                if error.status.meansServiceLost { transmitContext = nil }
                log("pcsc: connect: \(error)")
                return .failed(
                    error.status.meansCardGone || error.status == .unresponsiveCard ? .cardRemoved : .transmitFailed)
            }
        }
    }

    /// `SCardReconnect(SHARED, LEAVE)` after a reset by another application; true when connected again.
    private func reconnect(_ card: PCSCCard, _ readerName: String) -> Bool {
        do throws(PCSCError) {
            try card.reconnect()
            return true
        } catch {
            log("pcsc: reader '\(readerName)': reconnect after a reset: \(error)")
            return false
        }
    }
}
