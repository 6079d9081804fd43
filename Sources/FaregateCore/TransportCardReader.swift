/// A `CardReader` over any `CardTransport`: wait for a card → connect → `CardApplicationReader`
/// (driven by `CardReadSession`) → `Tap` → leave. The same code reads a simulated card and a
/// card behind pcscd, so a fault on either gives the same tap and the same journal reason.
///
/// Pure apart from blocking in the transport: that is why it lives in the core. Timestamps come
/// from the injected clock: `detectedAt` when the transport reports the card (before connecting,
/// so a busy wait shows in the tap's select stage), `selectedAt` when the application is
/// selected, `readAt` when the read is over.
///
/// `nextEvent()` is called by one reader thread (the `CardReader` contract); `cancel()` from any.
/// Sendable: every stored property is an immutable `Sendable` value.
public final class TransportCardReader<Transport: CardTransport>: CardReader {
    public let transport: Transport
    /// Index of this reader within its gate (goes into every `Tap`).
    public let index: UInt16
    public let recordExchanges: Bool
    let clock: any GateClock
    let log: @Sendable (String) -> Void
    let onRead: (@Sendable (CardReadReport) -> Void)?

    /// - Parameters:
    ///   - recordExchanges: keep each read's APDU exchange for `onRead` (off on gates: it allocates).
    ///   - log: one line per notable event of a read (a reset, a read given up); reader thread.
    ///   - onRead: every read's report, on the reader thread (for `farectl card read -v`).
    public init(
        transport: Transport, index: UInt16, clock: any GateClock, recordExchanges: Bool = false,
        log: @escaping @Sendable (String) -> Void = { _ in }, onRead: (@Sendable (CardReadReport) -> Void)? = nil
    ) {
        self.transport = transport
        self.index = index
        self.clock = clock
        self.recordExchanges = recordExchanges
        self.log = log
        self.onRead = onRead
    }

    public var name: String { transport.name }

    public func cancel() { transport.cancel() }

    public func nextEvent() -> ReaderEvent {
        switch transport.waitForCard() {
        case .notice(let event): return event
        case .readByTransport(let result):
            let t = clock.monotonicNanos()
            return .tap(Tap(reader: index, result: result, detectedAt: t, readAt: clock.monotonicNanos()))
        case .card:
            let detectedAt = clock.monotonicNanos()
            var selectedAt: UInt64?
            let result = readCard { selectedAt = self.clock.monotonicNanos() }
            let readAt = clock.monotonicNanos()
            return .tap(
                Tap(
                    reader: index, result: result, detectedAt: detectedAt, selectedAt: selectedAt ?? readAt,
                    readAt: readAt))
        }
    }

    /// Connects, runs the session's actions until it finishes, and leaves the card.
    private func readCard(onSelected: () -> Void) -> Tap.Result {
        defer { transport.leave() }
        do throws(CardIOError) {
            try transport.connect()
        } catch {
            // Never connected: nothing was read, so the tap names no card.
            let failed = CardReadError(.io(error.kind), step: "connect", message: error.message)
            onRead?(CardReadReport(outcome: .failure(failed), exchanges: []))
            return .failed(failed.failure, nil)
        }
        var session = CardReadSession()
        var actions = session.handle(.connected)
        while !actions.isEmpty {
            let action = actions.removeFirst()
            switch action {
            case .read:
                let report = CardApplicationReader(recordExchanges: recordExchanges).read(onSelected: onSelected) {
                    (command: CommandAPDU) throws(CardIOError) -> ResponseAPDU in
                    try transport.transmit(command)
                }
                actions += session.handle(.read(report))
            case .reconnect:
                actions += session.handle(.reconnected(transport.reconnect()))
            case .checkCardLeft:
                actions += session.handle(.cardLeft(transport.cardLeft()))
            case .log(let line):
                log("reader '\(name)': \(line)")
            case .finish(let report):
                onRead?(report)
                return report.tapResult
            }
        }
        // The session always ends in `.finish`; this is reached only if that contract is broken.
        assertionFailure("CardReadSession ended without a report")
        return .failed(.transmitFailed, nil)
    }
}
