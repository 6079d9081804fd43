import FaregateCore
import FaregateSimulation
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Presents a simulated card to a real pcscd through the vpcd driver, one tap at a time.
///
/// A tap is: connect (the card enters the field) → answer ATR requests, power controls and APDUs
/// → disconnect after the hold time (the card leaves), or earlier when a `removeAfter` fault
/// fires. Slow-response faults sleep before answering: this is the one place where a real delay
/// is the point. Not thread-safe; one thread runs taps.
public struct VirtualCardEmulator: Sendable {
    /// What one tap did, for logs and the bench.
    public struct TapReport: Hashable, Sendable {
        public var apdus: Int
        public var atrRequests: Int
        /// The card was pulled by a removal fault.
        public var removedEarly: Bool
        /// Monotonic nanoseconds at connect and at the first APDU (nil when none came).
        public var connectedAt: UInt64
        public var firstAPDUAt: UInt64?
    }

    public var host: String
    public var port: UInt16
    /// Log hook (stderr in farectl); nil for silence.
    public var log: (@Sendable (String) -> Void)?

    public init(host: String = "127.0.0.1", port: UInt16 = 35963, log: (@Sendable (String) -> Void)? = nil) {
        self.host = host
        self.port = port
        self.log = log
    }

    /// The vpcd port from `FAREGATE_VPCD_PORT`, else vpcd's default 35963.
    public static var environmentPort: UInt16 {
        ProcessInfo.processInfo.environment["FAREGATE_VPCD_PORT"].flatMap(UInt16.init) ?? 35963
    }

    /// Runs one tap holding the card in the field for `holdMillis`, or until `until()` says
    /// to leave (checked after every frame; lets a test pull the card as soon as the read is done).
    public func tap(
        _ card: inout SimulatedSmartCard, holdMillis: Int, until: () -> Bool = { false }
    ) throws(VPCDError) -> TapReport {
        try tap(&card, holdMillis: holdMillis, until: until, observe: { _, _ in })
    }

    /// `tap(_:holdMillis:until:)` that also calls `observe` with every frame from vpcd before
    /// handling it, and the number of APDUs answered so far in this tap (across resets).
    /// `observe` runs on the emulating thread and may block: a test holds the card between two
    /// APDUs (pcscd then waits inside its transmit) until it signals a semaphore of its own, which
    /// makes the interleaving with another PC/SC connection deterministic without sleeping.
    public func tap(
        _ card: inout SimulatedSmartCard, holdMillis: Int, until: () -> Bool,
        observe: (_ frame: VPCDConnection.Frame, _ apdusAnswered: Int) -> Void
    ) throws(VPCDError) -> TapReport {
        let conn = try VPCDConnection(host: host, port: port)
        defer { conn.close() }
        log?("vpcd: connected to \(host):\(port) (card in the field)")
        card.powerOn()
        let start = DispatchTime.now().uptimeNanoseconds
        var report = TapReport(
            apdus: 0, atrRequests: 0, removedEarly: false, connectedAt: start, firstAPDUAt: nil)
        let deadline = start + UInt64(max(0, holdMillis)) * 1_000_000
        while true {
            let now = DispatchTime.now().uptimeNanoseconds
            if now >= deadline {
                log?("vpcd: hold time over")
                break
            }
            if until() {
                log?("vpcd: told to leave")
                break
            }
            let remaining = Int((deadline - now + 999_999) / 1_000_000)
            let frame: VPCDConnection.Frame?
            do throws(VPCDError) {
                frame = try conn.nextFrame(timeoutMillis: remaining)
            } catch {
                log?("vpcd: \(error)")
                throw error
            }
            guard let frame else { continue }
            observe(frame, report.apdus)
            switch frame {
            case .powerOn, .reset:
                card.powerOn()
            case .powerOff:
                break
            case .getATR:
                if report.atrRequests == 0 { log?("vpcd: first ATR request") }
                report.atrRequests += 1
                try conn.send(card.atr)
            case .unknownControl(let c):
                log?("vpcd: unknown control code \(c), ignored")
            case .apdu(let bytes):
                if report.firstAPDUAt == nil { report.firstAPDUAt = DispatchTime.now().uptimeNanoseconds }
                switch card.answer(bytes) {
                case .removed:
                    report.removedEarly = true
                    log?("card: removed (fault) before answering \(Hex.string(bytes))")
                    return report
                case .respond(let response, let delay):
                    report.apdus += 1
                    if delay > 0 { usleep(UInt32(clamping: delay * 1000)) }
                    log?("card: \(Hex.string(bytes)) -> \(Hex.string(response))")
                    try conn.send(response)
                }
            }
        }
        log?("vpcd: leaving the field after \(report.apdus) APDUs")
        return report
    }
}
