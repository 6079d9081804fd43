import FaregateCore

/// A bounded queue of taps between reader threads and the decision loop, as the ring benchmark
/// and the ring tests compare them: the gate's `SPSCTapRing`, the multi-producer `BoundedRing`
/// (the alternative) and the `MutexTapRing` baseline. The gate itself uses `SPSCTapRing`
/// directly, so the protocol lives here, beside the rings that only the bench uses.
///
/// Fixed capacity; a push onto a full ring fails and the caller counts and reports it (the rider
/// sees "tap again"): a tap is never dropped silently. Safe for several producers and one consumer.
public protocol TapRing: Sendable {
    var capacity: Int { get }
    /// Appends `tap`; false when the ring is full.
    func tryPush(_ tap: Tap) -> Bool
    /// Removes the oldest tap; nil when empty. Called by the single consumer only.
    func tryPop() -> Tap?
}

extension SPSCRing: TapRing where Element == Tap {}
