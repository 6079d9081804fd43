import FaregateCore

/// What a gate needs to check ride codes: the signature verifier, the issuer keys (a file for now;
/// by central sync later), the freshness bounds and where the replay cache is kept.
public struct RideCodeSettings: Sendable {
    public var verifier: RideCodeVerifier
    public var keys: RideCodeIssuerKeyList
    public var freshness: RideCodeFreshness
    /// The replay cache's file (kept across restarts); nil keeps it in memory only.
    public var replayPath: String?
    /// Entries of the replay cache (`RideCodeReplayCache`: 24 bytes each).
    public var replayCapacity: Int

    public init(
        verifier: RideCodeVerifier, keys: RideCodeIssuerKeyList, freshness: RideCodeFreshness = .init(),
        replayPath: String? = nil, replayCapacity: Int = RideCodeReplayCache.defaultCapacity
    ) {
        self.verifier = verifier
        self.keys = keys
        self.freshness = freshness
        self.replayPath = replayPath
        self.replayCapacity = replayCapacity
    }
}

/// The ring between one scanner thread and the decision loop.
public typealias SPSCScanRing = SPSCRing<RideCodeScan>

/// One scanner's thread: blocks in the scanner, runs checks 1 and 3–7 of each line (both
/// signatures) here, off the decision thread, and pushes the result onto the scanner's own ring
/// (this thread is its only producer). A line the framer refused is pushed as malformed, so it is
/// journalled like any unreadable code; a full ring tells the rider "tap again" at once.
struct ScannerPump: Sendable {
    var gateID: String
    var scanner: any RideCodeScanner
    var ring: SPSCScanRing
    var settings: RideCodeSettings
    var end: GateEnd
    var clock: any GateClock
    var barrier: any Barrier
    var loop: DecisionLoop
    var telemetry: GateTelemetry
    /// The scanner's reader index in the gate (after the card readers).
    var index: Int

    func run() {
        let reader = UInt16(index)
        while true {
            var scan: RideCodeScan
            switch scanner.nextEvent() {
            case .cancelled:
                return
            case .scannerLost(let why):
                telemetry.count { $0.readerLosses += 1 }
                telemetry.readerChanged(index, up: false)
                Log.warning("gate \(gateID): scanner \(scanner.name) lost: \(why)")
                continue
            case .scannerRestored:
                telemetry.readerChanged(index, up: true)
                Log.info("gate \(gateID): scanner \(scanner.name) restored")
                continue
            case .refusedLine(let why, let at):
                telemetry.count { $0.scanLinesRefused += 1 }
                Log.info("gate \(gateID): scanner \(scanner.name): line refused (\(why))")
                scan = .malformed(reader: reader, detectedAt: at, clock: clock, now: clock.wallMillis() / 1000)
            case .line(let line, let at):
                scan = RideCodeScan.check(
                    line, reader: reader, verifier: settings.verifier, keys: settings.keys,
                    now: clock.wallMillis() / 1000, freshness: settings.freshness, detectedAt: at, clock: clock)
            }
            scan.tap.enqueuedAt = clock.monotonicNanos()
            if ring.tryPush(scan) {
                loop.tapQueued()
            } else {
                barrier.decided(.deny(.tapAgain), at: end)
                loop.tapRefused(reader: reader)
            }
        }
    }
}
