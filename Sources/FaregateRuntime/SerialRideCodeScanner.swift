import FaregateCore
import Glibc
import Synchronization

/// A QR scanner on a serial line (a USB CDC ACM scanner at `/dev/ttyACM0`, an RS-232 one behind
/// an adapter): opened with termios at `baud`, 8N1, raw (no echo, no line editing, no flow
/// control), and cut into lines by `ScanLineFramer`.
///
/// A scanner that goes away (read error, hang-up: a USB device unplugged, a pseudo-terminal's
/// master closed) is reported once as `.scannerLost`, then reopened by path with backoff (50 ms
/// doubling to 2 s) until it is back (`.scannerRestored`) or the scanner is cancelled. Garbage and
/// over-long lines are refused by the framer and counted (`refusedLines`); no input traps.
///
/// Threads: `nextEvent()` from the scanner's one thread; `cancel()` and the counters from any.
/// `cancel()` writes to a pipe the blocked `poll` also watches.
public final class SerialRideCodeScanner: RideCodeScanner, @unchecked Sendable {
    // @unchecked Sendable: `fd`, `framer`, `queued` and `lost` are touched only by the scanner
    // thread (`nextEvent`); the pipe's descriptors are immutable; counters are atomics.

    public struct Settings: Sendable, Hashable {
        public var device: String
        public var baud: Int
        public var terminator: ScanTerminator
        public var maxLength: Int

        public init(device: String, baud: Int = 9600, terminator: ScanTerminator = .crlf, maxLength: Int = 1024) {
            self.device = device
            self.baud = baud
            self.terminator = terminator
            self.maxLength = maxLength
        }

        /// The termios speed constant of `baud`; nil for a rate termios does not name.
        public var speed: speed_t? { Self.speeds[baud] }

        public static let speeds: [Int: speed_t] = [
            1200: speed_t(B1200), 2400: speed_t(B2400), 4800: speed_t(B4800), 9600: speed_t(B9600),
            19200: speed_t(B19200), 38400: speed_t(B38400), 57600: speed_t(B57600), 115200: speed_t(B115200),
            230400: speed_t(B230400), 460800: speed_t(B460800), 921600: speed_t(B921600),
        ]
    }

    public struct OpenError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public let name: String
    public let settings: Settings
    private let clock: any GateClock
    private var fd: Int32 = -1
    private var framer: ScanLineFramer
    private var queued: [ScannerEvent] = []
    private var lost = false
    private let wake: (read: Int32, write: Int32)
    private let cancelled = Atomic<Bool>(false)
    private let refused = Atomic<UInt64>(0)
    private let losses = Atomic<UInt64>(0)

    /// Opens `settings.device` now. With `requireDevice` a device that cannot be opened fails here
    /// with its reason; without, the scanner starts lost (its first event says why) and reopens
    /// it with backoff (a USB scanner plugged in after the daemon started). A rate termios does
    /// not name always fails.
    public init(name: String, settings: Settings, clock: any GateClock, requireDevice: Bool = true)
        throws(OpenError)
    {
        guard settings.speed != nil else { throw OpenError(description: "baud \(settings.baud) is not a termios rate") }
        self.name = name
        self.settings = settings
        self.clock = clock
        framer = ScanLineFramer(terminator: settings.terminator, maxLength: settings.maxLength)
        var p: [Int32] = [-1, -1]
        guard pipe(&p) == 0 else {
            throw OpenError(description: "pipe: \(String(cString: strerror(errno)))")
        }
        for d in p { _ = fcntl(d, F_SETFD, FD_CLOEXEC); _ = fcntl(d, F_SETFL, O_NONBLOCK) }
        wake = (p[0], p[1])
        switch Self.open(settings) {
        case .success(let d): fd = d
        case .failure(let e):
            guard !requireDevice else {
                Glibc.close(p[0])
                Glibc.close(p[1])
                throw e
            }
            lost = true
            losses.wrappingAdd(1, ordering: .relaxed)
            queued.append(.scannerLost(e.description))
        }
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
        Glibc.close(wake.read)
        Glibc.close(wake.write)
    }

    /// Lines refused by the framer (garbage, too long) since start.
    public var refusedLines: UInt64 { refused.load(ordering: .relaxed) }
    /// Times the device went away since start.
    public var lossCount: UInt64 { losses.load(ordering: .relaxed) }

    public func cancel() {
        cancelled.store(true, ordering: .sequentiallyConsistent)
        var b: UInt8 = 1
        _ = write(wake.write, &b, 1)
    }

    /// Opens and configures the device: raw 8N1 at the configured rate, reads return what is there.
    static func open(_ s: Settings) -> Result<Int32, OpenError> {
        let d = Glibc.open(s.device, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        guard d >= 0 else {
            return .failure(OpenError(description: "open \(s.device): \(String(cString: strerror(errno)))"))
        }
        var t = termios()
        guard tcgetattr(d, &t) == 0 else {
            let why = String(cString: strerror(errno))
            Glibc.close(d)
            return .failure(OpenError(description: "\(s.device) is not a terminal: \(why)"))
        }
        cfmakeraw(&t)
        t.c_cflag &= ~(tcflag_t(CSTOPB | PARENB | CSIZE) | tcflag_t(CRTSCTS))
        t.c_cflag |= tcflag_t(CS8 | CREAD | CLOCAL)
        t.c_iflag &= ~tcflag_t(IXON | IXOFF | IXANY)
        let speed = s.speed ?? speed_t(B9600)
        cfsetispeed(&t, speed)
        cfsetospeed(&t, speed)
        guard tcsetattr(d, TCSANOW, &t) == 0 else {
            let why = String(cString: strerror(errno))
            Glibc.close(d)
            return .failure(OpenError(description: "configure \(s.device): \(why)"))
        }
        return .success(d)
    }

    public func nextEvent() -> ScannerEvent {
        var buffer = [UInt8](repeating: 0, count: 512)
        while true {
            if cancelled.load(ordering: .sequentiallyConsistent) { return .cancelled }
            if !queued.isEmpty { return queued.removeFirst() }
            if fd < 0 {
                if let event = reopen() { return event }
                continue
            }
            var fds = [
                pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0),
            ]
            let n = poll(&fds, 2, -1)
            if n < 0 {
                if errno == EINTR { continue }
                return drop("poll: \(String(cString: strerror(errno)))")
            }
            if fds[1].revents != 0 { continue }
            let r = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if r > 0 {
                let at = clock.monotonicNanos()
                framer.feed(buffer[..<r]) { out in
                    switch out {
                    case .line(let l): queued.append(.line(l, at: at))
                    case .refused(let why):
                        refused.wrappingAdd(1, ordering: .relaxed)
                        queued.append(.refusedLine(why, at: at))
                    }
                }
                continue
            }
            if r < 0 && (errno == EAGAIN || errno == EINTR) { continue }
            // 0 (hang-up) or an error (EIO: the device or the pty's master is gone).
            return drop(r == 0 ? "hang-up" : String(cString: strerror(errno)))
        }
    }

    private func drop(_ why: String) -> ScannerEvent {
        Glibc.close(fd)
        fd = -1
        framer = ScanLineFramer(terminator: settings.terminator, maxLength: settings.maxLength)
        lost = true
        losses.wrappingAdd(1, ordering: .relaxed)
        return .scannerLost("\(settings.device): \(why)")
    }

    /// Tries to open the device again, backing off between tries; nil while it is still away.
    private func reopen() -> ScannerEvent? {
        var delayMillis: Int32 = 50
        while !cancelled.load(ordering: .sequentiallyConsistent) {
            if case .success(let d) = Self.open(settings) {
                fd = d
                lost = false
                return .scannerRestored
            }
            // Wait on the cancel pipe, so cancel() ends the backoff at once.
            var p = pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, delayMillis)
            delayMillis = min(delayMillis * 2, 2000)
        }
        return .cancelled
    }
}
