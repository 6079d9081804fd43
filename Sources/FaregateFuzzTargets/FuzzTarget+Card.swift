import FaregateCore

extension FuzzTarget {
    /// Card responses through `TransportCardReader` and `CardApplicationReader`: a transport
    /// that answers every command with the next chunk of the input.
    ///
    /// Input: a sequence of chunks, each a length byte `n` then `n` bytes (a response APDU, data
    /// then SW1 SW2); `n == 0xFF` is a transport failure instead, its kind in the next byte.
    /// When the input runs out, the card has left. Control bytes for `reconnect()` and
    /// `cardLeft()` are taken from the same stream, so the session's retry paths are reached.
    static let card = FuzzTarget("card", "APDU responses read by TransportCardReader") { bytes in
        let transport = FuzzCardTransport(bytes)
        let reader = TransportCardReader(transport: transport, index: 0, clock: FuzzClock(), recordExchanges: true)
        // One card in the field: it is read once, whatever it answers.
        guard case .tap = reader.nextEvent() else { fatalError("fuzz invariant: a presented card gives a tap") }
    }
}

/// A card transport whose answers are the fuzz input (see `FuzzTarget.card`).
final class FuzzCardTransport: CardTransport, @unchecked Sendable {
    // @unchecked Sendable: used by one thread only (the fuzz target's), like a reader thread's
    // transport; `cancel()` is never called.
    private let bytes: [UInt8]
    private var offset = 0
    var name: String { "fuzz" }

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    private func next() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    func waitForCard() -> CardPresence { .card }
    func connect() throws(CardIOError) {}

    func transmit(_ command: CommandAPDU) throws(CardIOError) -> ResponseAPDU {
        guard let n = next() else { throw CardIOError(.cardRemoved, "fuzz input ended") }
        if n == 0xFF {
            let kinds: [CardIOError.Kind] = [.cardRemoved, .transmitFailed, .timeout, .malformedResponse, .cardReset]
            throw CardIOError(kinds[Int(next() ?? 0) % kinds.count], "fuzz transport failure")
        }
        let end = min(bytes.count, offset + Int(n))
        let chunk = bytes[offset..<end]
        offset = end
        guard let response = ResponseAPDU(bytes: chunk) else {
            throw CardIOError(.malformedResponse, "fewer than two bytes")
        }
        return response
    }

    func reconnect() -> Bool { (next() ?? 0) & 1 == 1 }
    func cardLeft() -> Bool { (next() ?? 1) & 1 == 1 }
    func leave() {}
    func cancel() {}
}

/// A clock that counts: every reading is one microsecond after the previous one.
final class FuzzClock: GateClock, @unchecked Sendable {
    // @unchecked Sendable: read by the one fuzz thread only.
    private var now: UInt64 = 1_000_000
    func monotonicNanos() -> UInt64 {
        now += 1000
        return now
    }
    func wallMillis() -> Int64 { 1_700_000_000_000 }
}
