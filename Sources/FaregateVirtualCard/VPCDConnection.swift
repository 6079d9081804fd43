import FaregateCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Why talking to the vpcd driver failed.
public struct VPCDError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One TCP connection to the vsmartcard `vpcd` IFD handler loaded by pcscd.
///
/// Wire format (vsmartcard's vpcd protocol): each frame is a 2-byte big-endian length followed
/// by that many bytes. A 1-byte frame from vpcd is a control code (0 power off, 1 power on,
/// 2 reset, 4 get ATR); any other frame is a command APDU. The card answers get-ATR and APDUs
/// with one frame each; power and reset get no answer.
///
/// Not thread-safe: one thread owns a connection. Closing is idempotent; `deinit` closes.
public final class VPCDConnection {
    public enum Frame: Hashable, Sendable {
        case powerOff, powerOn, reset, getATR
        case apdu([UInt8])
        /// A control code this emulator does not know (answered with nothing).
        case unknownControl(UInt8)
    }

    private var fd: Int32

    /// Connects to `host:port` (numeric IPv4 address or "localhost").
    public init(host: String, port: UInt16) throws(VPCDError) {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { throw VPCDError("socket: \(String(cString: strerror(errno)))") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        let name = host == "localhost" ? "127.0.0.1" : host
        guard inet_pton(AF_INET, name, &addr.sin_addr) == 1 else {
            _ = Glibc.close(s)
            throw VPCDError("'\(host)' is not an IPv4 address")
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            let e = String(cString: strerror(errno))
            _ = Glibc.close(s)
            throw VPCDError("cannot connect to vpcd at \(host):\(port): \(e) (is pcscd running with the vpcd driver?)")
        }
        var one: Int32 = 1
        _ = setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        fd = s
    }

    deinit { close() }

    /// Closes the connection: to vpcd this is the card leaving the field.
    public func close() {
        if fd >= 0 {
            _ = Glibc.close(fd)
            fd = -1
        }
    }

    public var isOpen: Bool { fd >= 0 }

    /// Waits up to `timeoutMillis` (negative: forever) for the next frame; nil on timeout.
    /// Throws when vpcd closed the connection or sent a broken frame.
    public func nextFrame(timeoutMillis: Int) throws(VPCDError) -> Frame? {
        guard fd >= 0 else { throw VPCDError("connection closed") }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let rc = poll(&p, 1, Int32(clamping: timeoutMillis))
        if rc == 0 { return nil }
        if rc < 0 {
            if errno == EINTR { return nil }
            throw VPCDError("poll: \(String(cString: strerror(errno)))")
        }
        let header = try readExactly(2)
        let length = Int(header[0]) << 8 | Int(header[1])
        guard length > 0 else { throw VPCDError("vpcd sent an empty frame") }
        let body = try readExactly(length)
        if length == 1 {
            switch body[0] {
            case 0: return .powerOff
            case 1: return .powerOn
            case 2: return .reset
            case 4: return .getATR
            default: return .unknownControl(body[0])
            }
        }
        return .apdu(body)
    }

    /// Sends one frame (ATR or response APDU).
    public func send(_ payload: [UInt8]) throws(VPCDError) {
        guard fd >= 0 else { throw VPCDError("connection closed") }
        guard payload.count <= 0xFFFF else { throw VPCDError("frame too long") }
        let frame = [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)] + payload
        var sent = 0
        while sent < frame.count {
            let n = frame[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw VPCDError("send: \(String(cString: strerror(errno)))")
            }
            sent += n
        }
    }

    private func readExactly(_ count: Int) throws(VPCDError) -> [UInt8] {
        // vpcd writes the length and the payload with two send() calls; with Nagle on its side and
        // delayed ACKs on ours every frame would wait ~40 ms. Quick ACKs (re-armed per read, as
        // Linux clears the flag) keep a virtual APDU round trip in the tens of microseconds.
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), Int32(TCP_QUICKACK), &one, socklen_t(MemoryLayout<Int32>.size))
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, count - got, 0) }
            if n == 0 { throw VPCDError("vpcd closed the connection") }
            if n < 0 {
                if errno == EINTR { continue }
                throw VPCDError("recv: \(String(cString: strerror(errno)))")
            }
            got += n
        }
        return out
    }
}
