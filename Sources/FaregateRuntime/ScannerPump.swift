import FaregateCore

/// What a gate needs to check ride codes: the signature verifier, the issuer keys in force, the
/// freshness bounds and where the replay cache is kept.
///
/// Issuer keys come from one of two places (README "Ride codes"): a local file (`keys`, for a
/// bench or an offline gate without a pinned central key), or, with `keysFromCentral`, central's
/// signed issuer-key document, synced and kept beside the table (`SyncedIssuerKeys`); the gate
/// then starts with the document it kept (or none) and every sync may replace the set.
public struct RideCodeSettings: Sendable {
    public var verifier: RideCodeVerifier
    /// The keys in force, read by the scanner threads for every code and swapped whole by a sync.
    public let issuerKeys: RideCodeIssuerKeyHolder
    /// True: the keys are central's signed document (needs signed sync); false: the list given.
    public var keysFromCentral: Bool
    public var freshness: RideCodeFreshness
    /// The replay cache's file (kept across restarts); nil keeps it in memory only.
    public var replayPath: String?
    /// Entries of the replay cache (`RideCodeReplayCache`: 24 bytes each).
    public var replayCapacity: Int

    public init(
        verifier: RideCodeVerifier, keys: RideCodeIssuerKeyList, keysFromCentral: Bool = false,
        freshness: RideCodeFreshness = .init(), replayPath: String? = nil,
        replayCapacity: Int = RideCodeReplayCache.defaultCapacity
    ) {
        self.verifier = verifier
        issuerKeys = RideCodeIssuerKeyHolder(keys)
        self.keysFromCentral = keysFromCentral
        self.freshness = freshness
        self.replayPath = replayPath
        self.replayCapacity = replayCapacity
    }

    /// The keys in force now (a whole set: the old one or the new one, never a mix).
    public var keys: RideCodeIssuerKeyList { issuerKeys.keys }
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
                    line, reader: reader, verifier: settings.verifier, keys: settings.issuerKeys.keys,
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
