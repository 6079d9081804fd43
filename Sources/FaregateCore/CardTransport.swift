/// What a transport saw when it was asked to wait for a card.
public enum CardPresence: Sendable, Equatable {
    /// A card the reader has not read yet is in the field: `connect()` may be called.
    case card
    /// A medium the transport read by itself, without an APDU session: a QR ride code at a code
    /// scanner, a ticket token, or the simulated fast path's precomputed result. There is no
    /// card to connect to.
    case readByTransport(Tap.Result)
    /// Something the reader thread is told as it is: `.readerLost` (reported once; the transport
    /// retries), `.readerRestored` or `.cancelled`. Never `.tap`: taps are made by the reader.
    case notice(ReaderEvent)
}

/// The link between a gate's reader thread and the card in the field: the one seam that PC/SC
/// (`PCSCCardTransport`) and the simulation (`SimulatedCardTransport`) implement, so that every
/// card — real or simulated — is read by `CardApplicationReader` through `TransportCardReader`.
///
/// One tap is `waitForCard()` → `connect()` → `transmit(_:)`… → `leave()`. Between them the
/// reader may ask `reconnect()` (another application reset the card: PC/SC's
/// `SCARD_W_RESET_CARD`) and `cardLeft()` (after a failed transmit: was it the card leaving?);
/// which of those it asks, and when, is decided by the pure `CardReadSession`. The two extra
/// calls exist because the rules they serve (read again once after a reset; a failed transmit
/// is a removal when the card is gone) are gate policy, not transport detail.
///
/// Blocking and threads: every call except `cancel()` is made by the one reader thread and may
/// block it; `cancel()` may be called from any thread and makes a blocked or later
/// `waitForCard()` return `.notice(.cancelled)`. Transport failures are typed `CardIOError`s.
public protocol CardTransport: AnyObject, Sendable {
    var name: String { get }
    /// Blocks until a card that was not read yet is in the field, the reader is lost or back, or
    /// `cancel()`. A card that stays in the field after `leave()` is not reported again.
    func waitForCard() -> CardPresence
    /// Connects to the card `waitForCard()` reported. Throws `.readerBusy` when another
    /// application holds it past the gate's budget, `.cardRemoved` when it left meanwhile.
    func connect() throws(CardIOError)
    /// Sends one command to the connected card and returns its answer.
    func transmit(_ command: CommandAPDU) throws(CardIOError) -> ResponseAPDU
    /// After a `.cardReset` failure: reconnects without resetting the card again; false when
    /// that failed (the read is then given up).
    func reconnect() -> Bool
    /// After a failed transmit: true when the card left the field (or another took its place).
    /// May wait briefly for the reader to notice a removal; called on the failure path only.
    func cardLeft() -> Bool
    /// The read is over, whatever its outcome: releases the card. The card is not reported again
    /// by `waitForCard()` until it leaves and is presented anew.
    func leave()
    func cancel()
}
