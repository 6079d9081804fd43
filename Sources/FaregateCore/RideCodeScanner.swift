/// What a scanner thread gets back when it waits for the next scan.
public enum ScannerEvent: Sendable, Equatable {
    /// One line the scanner delivered (terminator removed), read at monotonic `at`.
    case line([UInt8], at: UInt64)
    /// A line the framer refused before any parsing (`ScanLineFramer.Refusal`), at monotonic `at`.
    case refusedLine(ScanLineFramer.Refusal, at: UInt64)
    /// The scanner is gone (a USB CDC device unplugged); the scanner itself reopens it.
    case scannerLost(String)
    /// The scanner is back after a loss.
    case scannerRestored
    /// `cancel()` was called: the scanner thread should exit.
    case cancelled
}

/// A QR code scanner that delivers the text of each code it reads as one line (RIDECODE.md: "a
/// scanner delivers exactly this text"). The ride-code counterpart of `CardReader`: one thread per
/// scanner blocks in `nextEvent()`; `cancel()` may be called from any thread and makes a blocked
/// or later `nextEvent()` return `.cancelled`. Implementations: `SerialRideCodeScanner` (termios,
/// a USB CDC or RS-232 scanner), `SimulatedRideCodeScanner`.
public protocol RideCodeScanner: AnyObject, Sendable {
    var name: String { get }
    func nextEvent() -> ScannerEvent
    func cancel()
}

/// A bench gate's out-of-band "a rider shows this code", for the control socket's `scan`
/// (`farectl tap --ride-code`): simulated scanners provide it (`SimulatedScanPresenter`).
public protocol ScanPresenter: Sendable {
    var scannerCount: Int { get }
    /// Hands `text` to scanner `scanner` (below `scannerCount`) as one line; returns at once.
    func present(_ text: String, at scanner: Int)
}

/// How a scanner ends each code's line.
public enum ScanTerminator: String, Sendable, CaseIterable, Codable, NamedCase {
    case cr, lf, crlf

    public var name: String { rawValue }
}

/// Cuts a scanner's byte stream into lines, pure: bytes in, events out, bounded memory.
///
/// A line ends at the terminator (`lf`: LF; `cr`: CR; `crlf`: LF, with the CR before it removed).
/// Empty lines are skipped (a `cr` scanner that also sends LF, a `crlf` one's stray CR). A line of
/// a byte outside printable ASCII (0x20–0x7E) is refused as `garbage`, one of more than
/// `maxLength` bytes as `tooLong`; the bytes of a too-long line are not kept past `maxLength`
/// (dropped up to its terminator), so no input grows the buffer beyond `maxLength + 1`.
public struct ScanLineFramer: Sendable {
    public enum Refusal: String, Sendable, Equatable, CustomStringConvertible {
        case garbage = "garbage"
        case tooLong = "too_long"
        public var description: String { rawValue }
    }

    public enum Output: Sendable, Equatable {
        case line([UInt8])
        case refused(Refusal)
    }

    public let terminator: ScanTerminator
    public let maxLength: Int
    private var buffer: [UInt8] = []
    private var overflow = false
    private var garbage = false

    public init(terminator: ScanTerminator, maxLength: Int) {
        self.terminator = terminator
        self.maxLength = max(1, maxLength)
        buffer.reserveCapacity(self.maxLength + 1)
    }

    /// Bytes held for the line not yet terminated.
    public var pending: Int { buffer.count }

    /// Feeds `bytes`, handing each finished line (or refusal) to `emit` in order.
    public mutating func feed(_ bytes: some Sequence<UInt8>, _ emit: (Output) -> Void) {
        let end: UInt8 = terminator == .cr ? 0x0D : 0x0A
        for b in bytes {
            if b == end {
                finish(emit)
                continue
            }
            if overflow { continue }
            // A CR before the LF of `crlf` (or any CR/LF of another mode) is kept for now and
            // judged at the end of the line.
            if buffer.count >= maxLength + 1 {
                overflow = true
                buffer.removeAll(keepingCapacity: true)
                continue
            }
            buffer.append(b)
        }
    }

    private mutating func finish(_ emit: (Output) -> Void) {
        defer {
            buffer.removeAll(keepingCapacity: true)
            overflow = false
            garbage = false
        }
        if overflow {
            emit(.refused(.tooLong))
            return
        }
        var line = buffer[...]
        // Strip the other half of a CR/LF pair, whichever mode: a trailing CR, a leading LF.
        while let last = line.last, last == 0x0D || last == 0x0A { line = line.dropLast() }
        while let first = line.first, first == 0x0D || first == 0x0A { line = line.dropFirst() }
        if line.isEmpty { return }
        if line.count > maxLength {
            emit(.refused(.tooLong))
            return
        }
        guard line.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E }) else {
            emit(.refused(.garbage))
            return
        }
        emit(.line(Array(line)))
    }
}

/// One scan as it travels from a scanner thread to the decision loop, in the scanner's own ring
/// (`SPSCRing<RideCodeScan>`), beside the card rings: the card `Tap` stays one cache line.
///
/// The scanner thread has already run checks 1 and 3–7 (parse, issuer key, both signatures,
/// certificate validity, freshness); the decision thread runs check 2 (issuer accepted here, the
/// rules), then 8 (replay, its cache) and 9 (the table), in that order. `signed` is what the
/// scanner thread found: nil when checks 3–7 passed, else their refusal; a malformed line has
/// no key (`tap`'s key is 0).
public struct RideCodeScan: Hashable, Sendable {
    /// Reader index and stage times; the result is the code's key as a `rideCode` read (or a
    /// failed read with no key for a line that is not a ride code).
    public var tap: Tap
    /// The refusal of checks 1 and 3–7; nil when they passed.
    public var refusal: Reason?
    /// Evidence for the replay cache and the record; meaningful when the code parsed.
    public var issuerKeyID: UInt16
    public var counter: UInt32
    public var generatedAt: UInt32
    public var flags: UInt8
    /// SHA-256 of the whole certificate (magic … cert_sig) and the phone's signature: with the
    /// fields above, the dynamic part an accepted code's journal record keeps (RIDECODE.md), so
    /// the decision thread journals it without touching the code again. Empty when the code did
    /// not parse. The arrays are made on the scanner's thread (which allocates for parsing and
    /// the signature checks anyway); the card `Tap` is untouched by them.
    public var certificateHash: [UInt8]
    public var userSignature: [UInt8]
    /// Wall-clock Unix seconds the scanner thread checked the code at.
    public var checkedAt: Int64

    public init(
        tap: Tap, refusal: Reason?, issuerKeyID: UInt16 = 0, counter: UInt32 = 0, generatedAt: UInt32 = 0,
        flags: UInt8 = 0, certificateHash: [UInt8] = [], userSignature: [UInt8] = [], checkedAt: Int64
    ) {
        self.tap = tap
        self.refusal = refusal
        self.issuerKeyID = issuerKeyID
        self.counter = counter
        self.generatedAt = generatedAt
        self.flags = flags
        self.certificateHash = certificateHash
        self.userSignature = userSignature
        self.checkedAt = checkedAt
    }

    /// The code's key (zero when it did not parse).
    public var key: CardKey {
        switch tap.result {
        case .card(let read): read.key
        case .failed(_, let k): k ?? CardKey(rawValue: 0)
        }
    }

    /// The evidence of a code that parsed: what the replay cache needs and what an accepted
    /// code's journal record keeps (the clearing mark derived from the issuer).
    public var evidence: RideCodeEvidence {
        let k = key
        return RideCodeEvidence(
            issuerNumber: k.rideCodeIssuerByte, issuerKeyID: issuerKeyID, account: k.rideCodeAccount,
            certificateHash: certificateHash, generatedAt: generatedAt, counter: counter, flags: flags,
            userSignature: userSignature)
    }

    /// Checks 1 and 3–7 of `line` on the scanner's thread, at wall-clock `now` (Unix seconds).
    /// `detectedAt` is when the line arrived (monotonic), `readAt` when the checks finished.
    public static func check(
        _ line: [UInt8], reader: UInt16, verifier: RideCodeVerifier, keys: RideCodeIssuerKeyList, now: Int64,
        freshness: RideCodeFreshness, detectedAt: UInt64, clock: any GateClock
    ) -> RideCodeScan {
        let text = String(decoding: line, as: UTF8.self)
        switch RideCodeVerifier.parse(text) {
        case .failure(let r):
            return malformed(reader: reader, reason: r.reason, detectedAt: detectedAt, clock: clock, now: now)
        case .success(let code):
            let cert = code.certificate
            let dyn = code.dynamicPart
            let key =
                CardKey(rideCodeIssuerNumber: cert.issuerNumber, account: cert.account) ?? CardKey(rawValue: 0)
            let verdict = verifier.verifySigned(code, keys: keys, now: now, freshness: freshness)
            let refusal: Reason?
            let certificateHash: [UInt8]
            switch verdict {
            case .success(let e):
                refusal = nil
                certificateHash = e.certificateHash
            case .failure(let r):
                refusal = r.reason
                certificateHash = cert.bytes.withUnsafeBytes { verifier.digest.sha256($0) }
            }
            let tap = Tap(
                reader: reader, result: .card(CardRead(key: key, application: .rideCode)), detectedAt: detectedAt,
                readAt: clock.monotonicNanos())
            return RideCodeScan(
                tap: tap, refusal: refusal, issuerKeyID: cert.issuerKeyID, counter: dyn.counter,
                generatedAt: dyn.generatedAt, flags: dyn.flags, certificateHash: certificateHash,
                userSignature: dyn.signature, checkedAt: now)
        }
    }

    /// A line that is no ride code (check 1), or that the framer refused.
    public static func malformed(
        reader: UInt16, reason: Reason = .rideCodeMalformed, detectedAt: UInt64, clock: any GateClock, now: Int64
    ) -> RideCodeScan {
        let tap = Tap(
            reader: reader, result: .failed(.malformedResponse, nil), detectedAt: detectedAt,
            readAt: clock.monotonicNanos())
        return RideCodeScan(tap: tap, refusal: reason, checkedAt: now)
    }
}

extension GateCore {
    /// Decides a ride-code scan whose checks 1 and 3–7 the scanner thread ran: check 2 (the
    /// rules' issuer list) first, then the scanner thread's refusal, then 8 (`replay`: refused as
    /// reused when the code or a later one of its account was accepted here), then 9 (the card
    /// rules, through `handle`). An entry that opens carries the code's evidence
    /// (`JournalEntry.rideCode`); a refused one carries its reason only. A code the rules let through is recorded in `replay` at once, so
    /// the same code a second time in the same batch is refused too (a journal append that then
    /// fails leaves it recorded: fail closed; the rider, told out of service, shows a fresh code).
    public mutating func handle(
        _ scan: RideCodeScan, replay: inout RideCodeReplayCache, freshness: RideCodeFreshness, dequeuedAt: UInt64,
        table: (any CardStatusLookup)?, dataAgeSeconds: Int?, clock: any GateClock
    ) -> Output {
        let key = scan.key
        let today = CalendarDate(wallMillis: clock.wallMillis(), utcOffsetSeconds: utcOffsetSeconds)
        let issuers = engine.rules(on: today).enforced.acceptedRideCodeIssuers
        let byte = key.rideCodeIssuerByte
        let issuerAccepted = key.rawValue == 0 || (byte < 64 && issuers & (1 << UInt64(byte)) != 0)
        var refusal = scan.refusal
        if refusal == nil, issuerAccepted,
            let r = replay.check(scan.evidence, now: scan.checkedAt, freshness: freshness)
        {
            refusal = r.reason
        }
        guard let refusal, issuerAccepted else {
            // Accepted by checks 1 and 3–8, or refused by check 2: the rules decide on the key.
            var out = handle(
                scan.tap, dequeuedAt: dequeuedAt, table: table, dataAgeSeconds: dataAgeSeconds, clock: clock)
            if case .open = out.entry.decision {
                // The record of a passage on a code keeps its dynamic part (RIDECODE.md), so
                // central can settle the ride with the issuer and prove it later.
                let evidence = scan.evidence
                out.entry.rideCode = evidence
                if lane == .normal { replay.record(evidence, now: scan.checkedAt, freshness: freshness) }
            }
            return out
        }
        // Refused: decided as a read that yielded no card (no passage, no table state), told the
        // check's reason unless the lane's mode refuses every tap anyway.
        var refused = scan.tap
        refused.result = .failed(.malformedResponse, key.rawValue == 0 ? nil : key)
        var out = handle(refused, dequeuedAt: dequeuedAt, table: table, dataAgeSeconds: dataAgeSeconds, clock: clock)
        if Self.refusal(in: lane) == nil {
            out.entry.kind = .decision
            out.entry.decision = .deny(refusal)
            out.entry.shadowDecision = nil
        }
        return out
    }
}
