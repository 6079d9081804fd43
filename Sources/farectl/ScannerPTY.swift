import FaregateCore
import FaregateModbus
import Foundation
import Glibc

/// A QR scanner played on a pseudo-terminal, for `farectl ride-code emulate --pty` and the
/// pty bench: the gate opens the slave (or the symlink `link` to it) as it opens a USB CDC scanner
/// at `/dev/ttyACM0`, through `SerialRideCodeScanner`'s termios path, and reads each code as one
/// line ended by `terminator`.
///
/// `unplug()` closes the master and removes the link, as pulling the USB cable removes the
/// device node (the gate's read returns EIO: "scanner lost"); `replug()` makes a new pair and points
/// the link at it (the gate reopens the path: "restored").
///
/// Thread-safe: every member is touched under `lock` (the stdin thread sends while the main thread
/// may unplug on SIGTERM).
final class ScannerPTY: @unchecked Sendable {
    // @unchecked Sendable: `pty` (a non-Sendable class) is only touched inside `lock`.
    private let lock = NSLock()
    private var pty: PseudoTerminal?
    let link: String?
    let terminator: ScanTerminator

    init(link: String?, terminator: ScanTerminator) throws {
        self.link = link
        self.terminator = terminator
        pty = try Self.open(link)
    }

    private static func open(_ link: String?) throws -> PseudoTerminal {
        do { return try PseudoTerminal(link: link) } catch { throw CLIError.failed("\(error)") }
    }

    /// The slave device (`/dev/pts/N`); nil while unplugged.
    var slavePath: String? { lock.withLock { pty?.slavePath } }

    var terminatorBytes: [UInt8] {
        switch terminator {
        case .cr: [0x0D]
        case .lf: [0x0A]
        case .crlf: [0x0D, 0x0A]
        }
    }

    /// Writes `line` followed by the terminator, as a scanner sends a code it read. False while
    /// unplugged (a scanner with no host loses what it reads).
    @discardableResult
    func send(line: [UInt8]) throws -> Bool { try send(raw: line + terminatorBytes) }

    /// Writes `bytes` as they are (garbage, half a line). Blocks while the pty's buffer is full
    /// (no one reads the slave). False while unplugged.
    @discardableResult
    func send(raw bytes: [UInt8]) throws -> Bool {
        try lock.withLock {
            guard let pty = self.pty else { return false }
            var done = 0
            while done < bytes.count {
                let n = bytes[done...].withUnsafeBytes { Glibc.write(pty.master, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw CLIError.failed("write to \(pty.slavePath): \(String(cString: strerror(errno)))")
                }
                done += n
            }
            return true
        }
    }

    /// Waits until the gate has read everything sent (the slave's input queue is empty on two
    /// looks 10 ms apart: the kernel moves written bytes to the queue asynchronously), or
    /// `timeoutSeconds` pass. True when drained (or unplugged: nothing is waiting).
    func drain(timeoutSeconds: Double) -> Bool {
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(max(0, timeoutSeconds) * 1e9)
        var empty = 0
        while true {
            let pending = lock.withLock { pty.map { $0.pendingInput ?? 0 } ?? 0 }
            empty = pending == 0 ? empty + 1 : 0
            if empty >= 2 { return true }
            if DispatchTime.now().uptimeNanoseconds >= deadline { return false }
            usleep(10_000)
        }
    }

    /// Closes the master and removes the link. False when already unplugged.
    @discardableResult
    func unplug() -> Bool {
        lock.withLock {
            guard pty != nil else { return false }
            self.pty = nil  // deinit closes both ends and unlinks `link`
            return true
        }
    }

    /// For the end of the process: unplugs, or, while a send blocks on a full pty (no one reads
    /// the slave) and holds the lock, removes the link without waiting (exiting closes the rest).
    func abandon() {
        guard lock.try() else {
            if let link { unlink(link) }
            return
        }
        pty = nil
        lock.unlock()
    }

    /// A new pair, with the link pointed at it; returns the new slave's path.
    func replug() throws -> String {
        try lock.withLock {
            if let pty = self.pty { return pty.slavePath }
            let p = try Self.open(link)
            self.pty = p
            return p.slavePath
        }
    }
}
