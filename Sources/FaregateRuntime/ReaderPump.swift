import FaregateCore

/// One reader's thread: blocks in the reader, stamps each tap with its enqueue time and pushes it
/// onto the reader's own ring (this thread is the ring's only producer).
///
/// A full ring is never silent: the rider is told "tap again" at once, at the reader's end of
/// the passage, and the decision loop journals the refusal. Reader losses and returns are
/// logged and counted; the reader itself retries.
struct ReaderPump: Sendable {
    var gateID: String
    var reader: any CardReader
    var ring: SPSCTapRing
    /// The end of the passage the reader serves (from the gate's reader-to-end map).
    var end: GateEnd
    var clock: any GateClock
    var barrier: any Barrier
    var loop: DecisionLoop
    var telemetry: GateTelemetry
    /// The reader's index in the gate (its ring's and its `faregate_reader_up` series').
    var index: Int

    /// The reader thread's body; returns when the reader is cancelled.
    func run() {
        while true {
            switch reader.nextEvent() {
            case .cancelled:
                return
            case .readerLost(let why):
                telemetry.count { $0.readerLosses += 1 }
                telemetry.readerChanged(index, up: false)
                Log.warning("gate \(gateID): reader \(reader.name) lost: \(why)")
            case .readerRestored:
                telemetry.readerChanged(index, up: true)
                Log.info("gate \(gateID): reader \(reader.name) restored")
            case .tap(var tap):
                tap.enqueuedAt = clock.monotonicNanos()
                if ring.tryPush(tap) {
                    loop.tapQueued()
                } else {
                    barrier.decided(.deny(.tapAgain), at: end)
                    loop.tapRefused(reader: tap.reader)
                }
            }
        }
    }
}
