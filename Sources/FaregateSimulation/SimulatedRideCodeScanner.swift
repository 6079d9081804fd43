import FaregateCore
import Foundation

/// A scanner fed by code: `scan(_:)` queues a line as a real scanner would deliver it (the text,
/// no terminator); `unplug()` / `plug()` stand for the USB cable. The bench gate's scanner behind
/// `farectl tap --ride-code`, and the runtime tests'. Lines go through the same
/// `ScanLineFramer` rules as a serial scanner's (garbage, too long), so a simulated scan is
/// refused where a real one would be.
public final class SimulatedRideCodeScanner: RideCodeScanner, @unchecked Sendable {
    // @unchecked Sendable: every mutable field is guarded by `condition`.
    public let name: String
    private let clock: any GateClock
    private let maxLength: Int
    private let condition = NSCondition()
    private var queue: [ScannerEvent] = []
    private var cancelled = false
    private var unplugged = false

    public init(name: String, clock: any GateClock, maxLength: Int = 1024) {
        self.name = name
        self.clock = clock
        self.maxLength = maxLength
    }

    /// Queues `text` as one scanned line (read on the next `nextEvent()`); ignored while unplugged.
    public func scan(_ text: String) { scan(bytes: Array(text.utf8)) }

    /// Queues raw bytes as one line (a terminator inside ends it early, as on the wire).
    public func scan(bytes: [UInt8]) {
        var framer = ScanLineFramer(terminator: .lf, maxLength: maxLength)
        let at = clock.monotonicNanos()
        var events: [ScannerEvent] = []
        framer.feed(bytes + [0x0A]) { out in
            switch out {
            case .line(let l): events.append(.line(l, at: at))
            case .refused(let why): events.append(.refusedLine(why, at: at))
            }
        }
        push(events)
    }

    public func unplug() { push([.scannerLost("\(name): unplugged")], evenUnplugged: true, set: true) }
    public func plug() { push([.scannerRestored], evenUnplugged: true, set: false) }

    /// Events queued and not yet taken by the scanner thread.
    public var backlog: Int { condition.withLock { queue.count } }

    private func push(_ events: [ScannerEvent], evenUnplugged: Bool = false, set: Bool? = nil) {
        condition.withLock {
            guard evenUnplugged || !unplugged else { return }
            if let set {
                guard unplugged != set else { return }
                unplugged = set
            }
            queue.append(contentsOf: events)
            condition.broadcast()
        }
    }

    public func nextEvent() -> ScannerEvent {
        condition.withLock {
            while !cancelled && queue.isEmpty { condition.wait() }
            if cancelled { return .cancelled }
            return queue.removeFirst()
        }
    }

    public func cancel() {
        condition.withLock {
            cancelled = true
            condition.broadcast()
        }
    }
}

/// The control socket's `scan` on a bench gate: the text goes to one of its simulated scanners.
public struct SimulatedScanPresenter: ScanPresenter {
    public let scanners: [SimulatedRideCodeScanner]
    public init(scanners: [SimulatedRideCodeScanner]) { self.scanners = scanners }
    public var scannerCount: Int { scanners.count }
    public func present(_ text: String, at scanner: Int) { scanners[scanner].scan(text) }
}
