import FaregateCore

/// A contactless reader behind pcscd: the core's `TransportCardReader` over a
/// `PCSCCardTransport`. Reads run `CardApplicationReader` exactly as simulated readers do; a
/// card leaving mid-read is `.failed(.cardRemoved, key?)`, a reset mid-read is read again once,
/// a card held by another application past the budget is `.failed(.readerBusy, nil)`.
public typealias PCSCCardReader = TransportCardReader<PCSCCardTransport>

extension TransportCardReader where Transport == PCSCCardTransport {
    /// - Parameters:
    ///   - clock: stamps `detectedAt`, `selectedAt` and `readAt`, and times the busy budget.
    ///   - log: one line per notable event (reader lost, pcscd restart, a reset, a busy card);
    ///     called on the reader thread.
    ///   - onRead: called on the reader thread with every read's report (with exchanges when
    ///     `recordExchanges`), for `farectl card read -v`.
    public convenience init(
        configuration: PCSCCardTransport.Configuration, clock: any GateClock,
        log: @escaping @Sendable (String) -> Void = { _ in }, onRead: (@Sendable (CardReadReport) -> Void)? = nil
    ) {
        self.init(
            transport: PCSCCardTransport(configuration: configuration, clock: clock, log: log),
            index: configuration.index, clock: clock, recordExchanges: configuration.recordExchanges,
            log: { log("pcsc: \($0)") }, onRead: onRead)
    }

    public var configuration: PCSCCardTransport.Configuration { transport.configuration }
}
