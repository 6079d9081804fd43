import FaregateCore

/// A contactless reader behind pcscd: the core's `TransportCardReader` over a
/// `PCSCCardTransport`. Reads run `CardApplicationReader` exactly as simulated readers do; a
/// card leaving mid-read is `.failed(.cardRemoved, key?)`, a reset mid-read is read again once,
/// a card held by another application past the budget is `.failed(.readerBusy, nil)`.
public typealias PCSCCardReader = TransportCardReader<PCSCCardTransport>

extension TransportCardReader where Transport == PCSCCardTransport {
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
        /// inside 300 ms, so this stays well below that (`ReaderBusyBudget`).
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

    /// - Parameters:
    ///   - clock: stamps `detectedAt`, `selectedAt` and `readAt`, and times the busy budget.
    ///   - log: one line per notable event (reader lost, pcscd restart, a reset, a busy card);
    ///     called on the reader thread.
    ///   - onRead: called on the reader thread with every read's report (with exchanges when
    ///     `recordExchanges`), for `farectl card read -v`.
    public convenience init(
        configuration: Configuration, clock: any GateClock,
        log: @escaping @Sendable (String) -> Void = { _ in }, onRead: (@Sendable (CardReadReport) -> Void)? = nil
    ) {
        self.init(
            transport: PCSCCardTransport(configuration: configuration, clock: clock, log: log),
            index: configuration.index, clock: clock, recordExchanges: configuration.recordExchanges,
            log: { log("pcsc: \($0)") }, onRead: onRead)
    }

    public var configuration: Configuration { transport.configuration }
}
