/// Why reading a card application failed: a typed error that maps onto the journal's `ReadFailure`.
///
/// Carries the step that failed (for operators and `farectl card read -v`) and the card key when
/// the number had already been read, so the journal can name the card of an aborted read.
public struct CardReadError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: Hashable, Sendable {
        /// The transport failed (card removed, reader gone, timeout, not a response APDU).
        case io(CardIOError.Kind)
        /// The card answered a status word the procedure does not accept at this step.
        case unexpectedStatus(StatusWord)
        /// The response data is too short or not what the file format says.
        case malformedData
        /// No application this gate knows answered.
        case unknownApplication
    }

    public var code: Code
    /// The step of the procedure, e.g. "READ BINARY SFI 15".
    public var step: String
    /// A sentence a person understands.
    public var message: String
    /// The card's key when it was read before the failure.
    public var key: CardKey?

    public init(_ code: Code, step: String, message: String, key: CardKey? = nil) {
        self.code = code
        self.step = step
        self.message = message
        self.key = key
    }

    /// The journal's classification of this error.
    public var failure: ReadFailure {
        switch code {
        case .io(.cardRemoved): .cardRemoved
        // A reset that survives `CardReadSession` (a second one) means the read was given up.
        case .io(.transmitFailed), .io(.cardReset): .transmitFailed
        case .io(.timeout): .timeout
        case .io(.readerBusy): .readerBusy
        case .io(.malformedResponse), .unexpectedStatus, .malformedData: .malformedResponse
        case .unknownApplication: .unknownApplication
        }
    }

    public var description: String { "\(failure) at \(step): \(message)" }
}

/// One command and what came back, for `farectl card read -v` and diagnostics.
public struct APDUExchange: Hashable, Sendable {
    public var step: String
    public var command: CommandAPDU
    /// The response, nil when the transport failed.
    public var response: ResponseAPDU?
    /// The transport error, nil when a response came back.
    public var error: CardIOError?

    public init(step: String, command: CommandAPDU, response: ResponseAPDU?, error: CardIOError?) {
        self.step = step
        self.command = command
        self.response = response
        self.error = error
    }
}
