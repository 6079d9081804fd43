/// What one tap does with a connected card, as a pure state machine: when to read, when to
/// reconnect after a reset, when to ask whether a failed transmit was the card leaving, and
/// what the final report says.
///
/// The rules (from the PC/SC reader, where they were found on real stacks):
/// - A reset by another application (`CardIOError.Kind.cardReset`) loses the selected
///   application, and what was read before may not belong to one consistent read: reconnect and
///   read again from the first SELECT, once. A second reset, or a reconnect that fails, gives up
///   (`transmit_failed`): a decision is never made from part of a read.
/// - Many readers (vpcd, ACR122U) report a card pulled mid-APDU as a failed or empty transmit
///   rather than a removal, so after `transmitFailed` or `malformedResponse` the transport is asked
///   whether the card left; if it did, the read is `cardRemoved` (journalled as an aborted read).
///
/// `TransportCardReader` performs the actions; tests drive `handle(_:)` directly. Not
/// thread-safe: one per tap, on the reader thread.
public struct CardReadSession: Sendable {
    public enum Event: Equatable, Sendable {
        /// The card is connected.
        case connected
        /// `CardApplicationReader` finished one pass.
        case read(CardReadReport)
        /// The transport tried to reconnect after a reset.
        case reconnected(Bool)
        /// The transport answered whether the card left the field.
        case cardLeft(Bool)
    }

    public enum Action: Equatable, Sendable {
        /// Run `CardApplicationReader` over the transport (from the first SELECT).
        case read
        /// Ask the transport to reconnect without resetting the card.
        case reconnect
        /// Ask the transport whether the card left the field.
        case checkCardLeft
        /// One line for the reader's log.
        case log(String)
        /// The tap's final report.
        case finish(CardReadReport)
    }

    /// Passes of the procedure after a reset (at most one).
    public private(set) var rereads = 0
    /// The report of the pass that is waiting for the transport's answer.
    private var pending: CardReadReport?

    public init() {}

    public mutating func handle(_ event: Event) -> [Action] {
        switch event {
        case .connected:
            return [.read]
        case .read(let report):
            guard case .failure(let e) = report.outcome else { return [.finish(report)] }
            switch e.code {
            case .io(.cardReset):
                pending = report
                guard rereads == 0 else { return giveUpAfterReset() }
                return [.reconnect]
            case .io(.transmitFailed), .io(.malformedResponse):
                pending = report
                return [.checkCardLeft]
            default:
                return [.finish(report)]
            }
        case .reconnected(let ok):
            guard ok, rereads == 0 else { return giveUpAfterReset() }
            rereads += 1
            pending = nil
            return [.log("card reset by another application mid-read; reading again from SELECT"), .read]
        case .cardLeft(let left):
            guard var report = pending else { return [] }
            pending = nil
            if left, case .failure(var e) = report.outcome {
                e.code = .io(.cardRemoved)
                e.message = "card left the field (\(e.message))"
                report.outcome = .failure(e)
            }
            return [.finish(report)]
        }
    }

    private mutating func giveUpAfterReset() -> [Action] {
        guard var report = pending else { return [] }
        pending = nil
        if case .failure(var e) = report.outcome {
            e.message = "card reset by another application during the read; gave up (\(e.message))"
            report.outcome = .failure(e)
        }
        return [
            .log("card reset by another application and not read again; tap not decided"), .finish(report),
        ]
    }
}
