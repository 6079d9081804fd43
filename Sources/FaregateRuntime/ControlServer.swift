import CFaregateLinux
import FaregateCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The daemon's control socket: a Unix domain stream socket, mode 0600, that accepts one request
/// line per connection and answers with one line (`ControlWire`: JSON, `ControlRequest` in,
/// `ControlResponse` out).
///
/// Access control is two-fold: the socket file's mode (0600, owner only) and the peer's
/// credentials (`SO_PEERCRED`): only root and the daemon's own user are served, so a socket
/// whose mode was loosened by mistake still refuses everyone else.
///
/// One accept thread; requests are handled one at a time (they are short). A client cannot hold
/// the socket: its whole request must arrive within `requestTimeout` and be at most
/// `ControlWire.maxRequestBytes`, and the answer must be taken within `replyTimeout`; a request
/// that is malformed, too long or too slow is answered with a `ControlFailure` saying so, and the
/// next connection is served. `stop()` unblocks the accept by shutting the listening socket down.
public final class ControlServer: @unchecked Sendable {
    // @unchecked Sendable: every stored property is a `let` set in init, before the accept thread
    // starts; the thread and stop() only read them (and `done` is itself thread-safe).
    public typealias Handler = @Sendable (ControlRequest) -> ControlResponse

    public struct Error: Swift.Error, CustomStringConvertible {
        public var path: String
        public var message: String
        public var errno: Int32
        public var description: String { "control socket \(path): \(message) (\(String(cString: strerror(errno))))" }
    }

    /// How long a client has to send its whole request, unless `init` is told otherwise.
    public static let requestTimeout: Duration = .seconds(2)
    /// How long a client has to take the whole answer.
    public static let replyTimeout: Duration = .seconds(10)

    public let path: String
    private let listenFD: Int32
    private let handler: Handler
    private let done = DispatchSemaphore(value: 0)
    private let allowedUID: uid_t
    private let requestTimeout: Duration

    /// Creates the socket at `path` (replacing a stale one) and starts serving.
    public init(path: String, requestTimeout: Duration = requestTimeout, handler: @escaping Handler) throws(Error) {
        self.path = path
        self.requestTimeout = requestTimeout
        self.handler = handler
        allowedUID = geteuid()
        let addr = try ControlSocketIO.address(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Error(path: path, message: "cannot create socket", errno: errno) }
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        unlink(path)
        // The socket is created owner-only from the start (umask), not chmod-ed after a window.
        let oldMask = umask(0o177)
        let rc = ControlSocketIO.withSockaddr(addr) { bind(fd, $0, $1) }
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
        let received = ControlSocketIO.readLine(conn, limit: ControlWire.maxRequestBytes, within: requestTimeout)
        // The request is read before the credential check: closing a socket with unread data
        // makes the kernel reset the connection, and the refused client would see a reset
        // instead of the reason.
        var uid: UInt32 = 0
        var pid: Int32 = 0
        guard CFaregateLinux_peer_uid(conn, &uid, &pid) == 0 else { return }
        let response: ControlResponse
        if uid != 0 && uid != allowedUID {
            Log.warning("control socket: refused uid \(uid) pid \(pid)")
            response = .failure(
                ControlFailure(.permissionDenied, "permission denied: uid \(uid) may not control this gate"))
        } else {
            switch received {
            case .line(let bytes):
                switch ControlWire.request(bytes) {
                case .success(let request): response = handler(request)
                case .failure(let failure): response = .failure(failure)
                }
            case .tooLarge:
                response = .failure(
                    ControlFailure(
                        .tooLarge, "request longer than \(ControlWire.maxRequestBytes) bytes without a newline"))
            case .timedOut:
                response = .failure(
                    ControlFailure(
                        .timeout, "request not received within \(requestTimeout) (send one line ending in a newline)"))
            case .closed: return  // nothing asked, no one to answer
            }
        }
        if !ControlSocketIO.write(ControlWire.line(response), to: conn, within: Self.replyTimeout) {
            Log.warning("control socket: a client (pid \(pid)) did not take its answer within \(Self.replyTimeout)")
        }
        if case .tooLarge = received { ControlSocketIO.drain(conn) }
    }
}
