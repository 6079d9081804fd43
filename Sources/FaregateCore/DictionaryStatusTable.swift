/// An immutable binding and health-status table backed by a `Dictionary`.
///
/// The reference implementation: simple and obviously correct, used to check the compact table
/// and as the benchmark baseline. Immutable after init, so any number of threads may read it.
public final class DictionaryStatusTable: CardStatusLookup {
    public let dataVersion: UInt64
    private let entries: [CardKey: CardStatus]

    public init(dataVersion: UInt64, entries: [CardKey: CardStatus]) {
        self.dataVersion = dataVersion
        self.entries = entries
    }

    public func status(of key: CardKey) -> CardStatus? { entries[key] }
    public var count: Int { entries.count }
}
