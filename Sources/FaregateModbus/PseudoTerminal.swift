import CFaregateLinux
import Glibc

/// A pseudo-terminal pair for the board emulator's RTU side: the emulator serves Modbus RTU on the
/// master, the gate opens the slave as it would a USB serial adapter (libmodbus sets its termios).
/// `farectl ride-code emulate --pty` plays a QR scanner on one the same way (the gate's
/// `SerialRideCodeScanner` opens the slave as a USB CDC scanner).
///
/// The emulator keeps a descriptor of the slave open itself, so the master does not read EIO
/// (hang-up) while no gate has the device open: a gate killed with -9 and restarted finds the same
/// line. `deinit` closes both and removes the symlink.
public final class PseudoTerminal {
    public let master: Int32
    private let slaveHold: Int32
    /// The slave device (`/dev/pts/N`).
    public let slavePath: String
    /// A symlink to the slave the caller asked for (the `--rtu PATH` of `farectl board emulate`).
    public let link: String?

    /// Wraps `posix_openpt`, `grantpt`, `unlockpt` and `ptsname_r` (`CFaregateLinux_open_pty`); puts the slave in raw mode and
    /// links `link` (if given) to it, replacing a stale symlink but never another kind of file.
    public init(link: String?) throws(ModbusError) {
        var m: Int32 = -1
        var name = [CChar](repeating: 0, count: 128)
        guard CFaregateLinux_open_pty(&m, &name, UInt(name.count)) == 0 else { throw .last("open a pseudo-terminal") }
        let path = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let s = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard s >= 0 else {
            let e = ModbusError.last("open \(path)")
            Glibc.close(m)
            throw e
        }
        var t = termios()
        tcgetattr(s, &t)
        cfmakeraw(&t)
        tcsetattr(s, TCSANOW, &t)
        if let link {
            var st = stat()
            if lstat(link, &st) == 0 {
                guard st.st_mode & S_IFMT == S_IFLNK else {
                    Glibc.close(s)
                    Glibc.close(m)
                    throw ModbusError(
                        code: .init(rawValue: EEXIST), operation: "link \(link) to \(path) (not a symlink)")
                }
                unlink(link)
            }
            guard symlink(path, link) == 0 else {
                let e = ModbusError.last("link \(link) to \(path)")
                Glibc.close(s)
                Glibc.close(m)
                throw e
            }
        }
        master = m
        slaveHold = s
        slavePath = path
        self.link = link
    }

    /// Bytes written to the master that no one has read from the slave yet (`ioctl(FIONREAD)` on
    /// the slave descriptor held here, which never reads): 0 once the gate has read everything.
    /// Nil when the ioctl fails.
    public var pendingInput: Int? {
        var n: Int32 = 0
        guard ioctl(slaveHold, UInt(FIONREAD), &n) == 0 else { return nil }
        return Int(n)
    }

    deinit {
        if let link { unlink(link) }
        Glibc.close(slaveHold)
        Glibc.close(master)
    }
}
