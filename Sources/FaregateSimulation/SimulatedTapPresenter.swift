import FaregateCore

/// The control socket's `tap` on a bench gate: presents the card as a simulated medium on one of
/// the gate's simulated readers (read through `CardApplicationReader`, so a fault means what it
/// means on a virtual card).
public struct SimulatedTapPresenter: TapPresenter {
    public let readers: [SimulatedCardReader]

    public init(readers: [SimulatedCardReader]) { self.readers = readers }

    public var readerCount: Int { readers.count }

    public func present(_ card: CardKey, fault: CardFault?, at reader: Int) {
        var medium = SimulatedCard.medium(card)
        if let fault { medium.faults = [fault] }
        readers[reader].present(medium)
    }
}
