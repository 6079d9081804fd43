/// 112 bytes of nothing, declared as the first and the last stored property of a class whose
/// fields two threads read on every operation (the rings): the fields then sit at least 128 bytes
/// from the object's own header and from the next heap object, so no other object's header shares
/// their pair of cache lines.
///
/// Why: ARC writes the reference count in an object's header whenever a thread retains or
/// releases it — a consumer going round an array of rings does so for every ring it visits. If the
/// fields the other side reads on every push (`base`, `mask`) shared a line with a header being
/// retained (the ring's own, or the next ring's when they were allocated one after the other),
/// each visit would pull that line away from the producer's core: one cross-core transfer per tap
/// (one quick bench run before and after the leading padding: 1-producer throughput 50M → 74M
/// taps/s; the full runs cannot separate the effect from the VM's run-to-run swings).
///
/// Arithmetic: objects are 16-byte aligned with a 16-byte header, so leading padding puts the
/// fields at offset 128; trailing padding plus the allocator's 16-byte chunk header puts the next
/// object ≥ 128 bytes after them. 128, not 64: x86's adjacent-line prefetcher fetches lines in
/// pairs.
@frozen public struct LinePairPadding: Sendable {
    @usableFromInline let words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0)
    @usableFromInline let more: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0)
    @inlinable public init() {}
}
