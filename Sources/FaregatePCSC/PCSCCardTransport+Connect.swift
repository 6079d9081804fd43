import FaregateCore

extension PCSCCardTransport {
    /// `SCardConnect(SHARED)` on the transmit context, waiting within the tap's
    /// `ReaderBusyBudget` while another application holds the card exclusively; then the tap is
    /// `.readerBusy` (journalled `reader_busy`, never opens) and a log line names the reader.
    /// A card that leaves meanwhile is `.cardRemoved`.
    public func connect() throws(CardIOError) {
        guard let readerName = reader else { throw CardIOError(.transmitFailed, "no reader") }
        let context: PCSCContext
        if let t = transmitContext {
            context = t
        } else {
            do throws(PCSCError) {
                context = try PCSCContext()
                transmitContext = context
            } catch {
                throw CardIOError(.transmitFailed, "\(error)")
            }
        }
        var busy = ReaderBusyBudget(millis: configuration.busyBudgetMillis)
        while true {
            do throws(PCSCError) {
                card = try PCSCCard(context: context, reader: readerName)
                return
            } catch {
                if error.status == .sharingViolation {
                    let step = busy.sharingViolation(at: clock.monotonicNanos())
                    if busy.isFirst {
                        log(
                            "pcsc: reader '\(readerName)' busy (sharing violation): "
                                + "another application holds the card; waiting up to \(busy.millis) ms")
                    }
                    switch step {
                    case .wait(let millis):
                        guard waitWhileBusy(readerName, context: context, millis: millis) else { continue }
                        log("pcsc: reader '\(readerName)': card left while another application held it exclusively")
                        throw CardIOError(.cardRemoved, "card left while another application held it exclusively")
                    case .exhausted:
                        let waited = busy.waitedMillis(at: clock.monotonicNanos())
                        log(
                            "pcsc: reader '\(readerName)' busy: another application holds an exclusive connection; "
                                + "gave up after \(waited) ms (\(busy.attempts) attempts); "
                                + "tap journalled as reader_busy")
                        throw CardIOError(.readerBusy, "another application held the card for \(waited) ms")
                    }
                }
                if error.status.meansServiceLost { transmitContext = nil }
                log("pcsc: connect: \(error)")
                let gone = error.status.meansCardGone || error.status == .unresponsiveCard
                throw CardIOError(gone ? .cardRemoved : .transmitFailed, "\(error)")
            }
        }
    }

    /// Waits until the reader's state changes or `millis` pass; true when the card left (or
    /// another took its place). An exclusive holder that disconnects clears
    /// `SCARD_STATE_EXCLUSIVE` (seen with pcsc-lite 1.9.9: state 0x300A0 → 0x30022), so the
    /// retry comes at once rather than at the end of the step. Runs on the transmit context (the
    /// monitor context stays free for `cancel()`).
    func waitWhileBusy(_ readerName: String, context: PCSCContext, millis: UInt32) -> Bool {
        let card = cardCounter
        var states = [PCSCContext.ReaderState(reader: readerName, known: ReaderStateBits.unaware)]
        do throws(PCSCError) {
            // Unaware: returns the current state at once.
            try context.waitForChange(&states, timeoutMillis: 0)
            if Self.cardGone(states[0].event, counter: card) { return true }
            states[0].known = states[0].event & ~ReaderStateBits.changed
            try context.waitForChange(&states, timeoutMillis: millis)
            if Self.cardGone(states[0].event, counter: card) { return true }
        } catch {
            // Timeout is the normal end of a step; anything else (pcscd gone) shows up again on
            // the retried call, which reports it properly; the deadline bounds the loop.
            if error.status != .timeout && debug { log("pcsc: waiting on busy reader: \(error)") }
        }
        return false
    }
}
