/// 112 bytes of nothing, declared as the first stored property of a class whose fields two
/// threads read on every operation (the rings): it puts those fields 128 bytes into the object,
/// off the cache-line pair of the 16-byte object header.
///
/// Why: ARC writes the reference count in the header whenever a thread retains or releases the
/// object — a consumer going round an array of rings does so for every ring it visits. If the
/// fields the other side reads on every push (`base`, `mask`) shared that line, each visit would
/// pull the line away from the producer's core: one cross-core transfer per tap (measured in the
/// ring bench: 1-producer throughput ~50M → ~70M taps/s with the padding). 128, not 64: x86's
/// adjacent-line prefetcher fetches lines in pairs.
@frozen public struct HeaderPadding: Sendable {
    @usableFromInline let words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0)
    @usableFromInline let more: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0)
    @inlinable public init() {}
}
