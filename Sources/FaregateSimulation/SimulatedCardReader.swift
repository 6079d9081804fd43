import FaregateCore

/// A simulated gate reader: the core's `TransportCardReader` over a `SimulatedCardTransport`.
/// Every card presented to it is read APDU by APDU through `CardApplicationReader`, as on a
/// PC/SC reader, so a `CardFault` gives the tap (and journal reason) it gives on real pcscd.
/// The daemon's simulated mode and the runtime tests use it; the benchmarks' fast path is
/// `SimulatedCardReader.precomputed`.
public typealias SimulatedCardReader = TransportCardReader<SimulatedCardTransport>

extension TransportCardReader where Transport == SimulatedCardTransport {
    /// A reader named `name`, index `index` within its gate, stamping taps with `clock`.
    public convenience init(
        name: String, index: UInt16, clock: any GateClock, log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.init(transport: SimulatedCardTransport(name: name), index: index, clock: clock, log: log)
    }

    /// The simulated fast path (see `SimulatedCardTransport.precomputed`): taps from each
    /// presented card's precomputed result, no APDU exchange. For benchmarks and the station and
    /// gate simulations only; never what stands for a gate's reader.
    public static func precomputed(name: String, index: UInt16, clock: any GateClock) -> SimulatedCardReader {
        SimulatedCardReader(
            transport: SimulatedCardTransport(name: name, precomputed: true), index: index, clock: clock)
    }

    /// Presents a medium (see `SimulatedCardTransport.present`): read on the next `nextEvent()`.
    public func present(_ card: SimulatedCard) { transport.present(card) }
    /// Presents a chip, e.g. a seed profile with faults.
    public func present(_ card: SimulatedSmartCard) { transport.present(card) }
    /// Simulates pulling the reader's USB cable: a `.readerLost` event, then media are ignored.
    public func unplug() { transport.unplug() }
    /// Simulates plugging the reader back in.
    public func plug() { transport.plug() }
    /// Number of presentations and controls not yet consumed by the reader thread.
    public var backlog: Int { transport.backlog }
}
