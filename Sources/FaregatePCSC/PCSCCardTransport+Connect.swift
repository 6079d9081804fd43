import FaregateCore

/// How long the current tap may still wait for another application to let go of the card.
struct BusyBudget {
    let millis: Int
    /// Monotonic nanoseconds; set at the tap's first sharing violation.
    var deadline: UInt64?
    var attempts = 0
    var stepMillis: UInt32 = 0
    var startedAt: UInt64 = 0

    init(millis: Int) { self.millis = max(0, millis) }
}

enum BusyWait: Equatable {
    /// Try the connect or the command again.
    case retry
    /// The card left the field (or another card took its place) while waiting.
    case cardLeft
    /// The tap's budget is spent.
    case exhausted
}

extension PCSCCardReader {
    /// After a sharing violation on connect: waits until the reader's state changes or the next
    /// backoff step (5 ms doubling, at most 80 ms, never past the budget) passes. An exclusive
    /// holder that disconnects clears `SCARD_STATE_EXCLUSIVE` (seen with pcsc-lite 1.9.9: state
    /// 0x300A0 → 0x30022), so the retry comes at once rather than at the end of a sleep. Runs on
    /// the reader thread, on the transmit context (the monitor context stays free for `cancel()`).
    func waitWhileBusy(_ readerName: String, context: PCSCContext, busy: inout BusyBudget) -> BusyWait {
        let now = clock.monotonicNanos()
        if busy.deadline == nil {
            busy.startedAt = now
            busy.deadline = now + UInt64(busy.millis) * 1_000_000
            log(
                "pcsc: reader '\(readerName)' busy (sharing violation): another application holds the card; "
                    + "waiting up to \(busy.millis) ms")
        }
        busy.attempts += 1
        guard let deadline = busy.deadline, now < deadline else { return .exhausted }
        busy.stepMillis = min(max(5, busy.stepMillis * 2), 80)
        let left = UInt32(clamping: (deadline - now + 999_999) / 1_000_000)
        let card = cardCounter
        var states = [PCSCContext.ReaderState(reader: readerName, known: ReaderStateBits.unaware)]
        do throws(PCSCError) {
            // Unaware: returns the current state at once.
            try context.waitForChange(&states, timeoutMillis: 0)
            if Self.cardGone(states[0].event, counter: card) { return .cardLeft }
            states[0].known = states[0].event & ~ReaderStateBits.changed
            try context.waitForChange(&states, timeoutMillis: min(busy.stepMillis, left))
            if Self.cardGone(states[0].event, counter: card) { return .cardLeft }
        } catch {
            // Timeout is the normal end of a step; anything else (pcscd gone) shows up again on
            // the retried call, which reports it properly; the deadline bounds the loop.
            if error.status != .timeout && debug { log("pcsc: waiting on busy reader: \(error)") }
        }
        return .retry
    }

    /// Not present, or the insertion counter (high 16 bits) moved on: not the card we were reading.
    static func cardGone(_ event: UInt32, counter: UInt32) -> Bool {
        event & ReaderStateBits.present == 0 || (event >> 16) != counter
    }

    func logBusy(_ readerName: String, holding: String, _ busy: BusyBudget) {
        let waited = (clock.monotonicNanos() &- busy.startedAt) / 1_000_000
        log(
            "pcsc: reader '\(readerName)' busy: another application holds \(holding); gave up after \(waited) ms "
                + "(\(busy.attempts) attempts); tap journalled as reader_busy")
    }
}
