import CFaregateLinux
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The daemon's control socket: a Unix domain stream socket, mode 0600, that accepts one JSON
/// request line per connection and answers with one JSON line.
///
/// Access control is two-fold: the socket file's mode (0600, owner only) and the peer's
/// credentials (`SO_PEERCRED`): only root and the daemon's own user are served, so a socket
/// whose mode was loosened by mistake still refuses everyone else.
///
/// One accept thread; requests are handled one at a time (they are short). `stop()` unblocks
/// the accept by shutting the listening socket down.
public final class ControlServer: @unchecked Sendable {
    // @unchecked Sendable: `listenFD` is written in init and read by the accept thread and
    // stop(); `stopped` is set before the shutdown that wakes the accept thread.
    public typealias Handler = @Sendable ([String: Any]) -> [String: Any]

    public struct Error: Swift.Error, CustomStringConvertible {
        public var path: String
        public var message: String
        public var errno: Int32
        public var description: String { "control socket \(path): \(message) (\(String(cString: strerror(errno))))" }
    }

    public let path: String
    private let listenFD: Int32
    private let handler: Handler
    private let done = DispatchSemaphore(value: 0)
    private let allowedUID: uid_t

    /// Creates the socket at `path` (replacing a stale one) and starts serving.
    public init(path: String, handler: @escaping Handler) throws(Error) {
        self.path = path
        self.handler = handler
        allowedUID = geteuid()
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard path.utf8.count < capacity else {
            throw Error(path: path, message: "path longer than \(capacity - 1) bytes", errno: ENAMETOOLONG)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Error(path: path, message: "cannot create socket", errno: errno) }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        unlink(path)
        // The socket is created owner-only from the start (umask), not chmod-ed after a window.
        let oldMask = umask(0o177)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        let bindErrno = errno
        umask(oldMask)
        guard rc == 0 else {
            close(fd)
            throw Error(path: path, message: "cannot bind", errno: bindErrno)
        }
        chmod(path, 0o600)
        guard listen(fd, 16) == 0 else {
            let e = errno
            close(fd)
            throw Error(path: path, message: "cannot listen", errno: e)
        }
        listenFD = fd
        let t = Thread { [self] in
            acceptLoop()
            done.signal()
        }
        t.name = "faregate-control"
        t.start()
    }

    /// Stops accepting, waits for the accept thread, removes the socket file.
    public func stop() {
        shutdown(listenFD, Int32(SHUT_RDWR))
        done.wait()
        close(listenFD)
        unlink(path)
    }

    private func acceptLoop() {
        while true {
            let conn = accept(listenFD, nil, nil)
            if conn < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return  // shut down (EINVAL) or fatal: stop serving
            }
            _ = fcntl(conn, F_SETFD, FD_CLOEXEC)
            serve(conn)
            close(conn)
        }
    }

    private func serve(_ conn: Int32) {
        // A stuck client must not hold the socket: 2 s to send its request.
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while buffer.count < 65536, !buffer.contains(UInt8(ascii: "\n")) {
            let n = read(conn, &chunk, chunk.count)
            if n <= 0 { break }
            buffer.append(contentsOf: chunk[0..<n])
        }
        // The request is read before the credential check: closing a socket with unread data
        // makes the kernel reset the connection, and the refused client would see a reset
        // instead of the reason.
        var uid: UInt32 = 0
        var pid: Int32 = 0
        guard CFaregateLinux_peer_uid(conn, &uid, &pid) == 0 else { return }
        guard uid == 0 || uid == allowedUID else {
            Log.warning("control socket: refused uid \(uid) pid \(pid)")
            reply(conn, ["ok": false, "error": "permission denied: uid \(uid) may not control this gate"])
            return
        }
        let line = buffer.split(separator: UInt8(ascii: "\n"), maxSplits: 1).first.map(Array.init) ?? []
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)), let request = object as? [String: Any]
        else {
            reply(conn, ["ok": false, "error": "request must be one JSON object on one line"])
            return
        }
        reply(conn, handler(request))
    }

    private func reply(_ conn: Int32, _ object: [String: Any]) {
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        data.append(UInt8(ascii: "\n"))
        data.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = send(conn, raw.baseAddress! + off, raw.count - off, Int32(MSG_NOSIGNAL))
                if n <= 0 { return }
                off += n
            }
        }
    }
}

/// Client side of the control socket, used by `farectl`.
public enum ControlClient {
    /// Sends `request` to the daemon at `path` and returns its answer.
    public static func send(_ request: [String: Any], to path: String) throws -> [String: Any] {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        guard path.utf8.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            throw ControlServer.Error(path: path, message: "path too long", errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlServer.Error(path: path, message: "cannot create socket", errno: errno) }
        defer { close(fd) }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard rc == 0 else {
            throw ControlServer.Error(
                path: path, message: "cannot connect (is faregated running, and are you its user?)", errno: errno)
        }
        var data = try JSONSerialization.data(withJSONObject: request)
        data.append(UInt8(ascii: "\n"))
        _ = data.withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { break }
            buffer.append(contentsOf: chunk[0..<n])
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer)), let answer = object as? [String: Any]
        else {
            throw ControlServer.Error(path: path, message: "the daemon's answer is not JSON", errno: EPROTO)
        }
        return answer
    }
}
