import CFaregateLinux
import FaregateCore
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The daemon's control socket: a Unix domain stream socket, mode 0600, that accepts one request
/// line per connection and answers with one line (`ControlWire`: JSON, `ControlRequest` in,
/// `ControlResponse` out).
///
/// Access control is two-fold: the socket file's mode (0600, owner only) and the peer's
/// credentials (`SO_PEERCRED`), checked right after `accept`, before a byte of the request is
/// read: only root and the daemon's own user are served, so a socket whose mode was loosened by
/// mistake still refuses everyone else, and nothing another user sends is ever parsed.
///
/// Concurrency (issue 14: one connection at a time let a client sending a byte every 1.5 s delay
/// root's `mode --set emergency-open` by 29 s): the accept thread only accepts, checks
/// credentials and hands each connection to a thread of its own, at most `maxConnections` at
/// once; a connection beyond that is answered `busy` at once and closed. Each connection has one
/// deadline for its whole request (`requestTimeout`, not per read) and at most
/// `ControlWire.maxRequestBytes`, and must take its answer within `replyTimeout`; a request that
/// is malformed, too long or too slow is answered with a `ControlFailure` saying so.
///
/// The socket is never taken over from a live daemon: `init` connects to an existing socket file
/// first, and only a stale one (nobody answers) is replaced. `stop()` unblocks the accept by
/// shutting the listening socket down, cuts the connections in progress, and waits (bounded) for
/// their threads.
public final class ControlServer: @unchecked Sendable {
    // @unchecked Sendable: every stored property is a `let` set in init, before the accept thread
    // starts; the mutable connection set is behind its own Mutex, `done` is thread-safe.
    public typealias Handler = @Sendable (ControlRequest) -> ControlResponse

    public struct Error: Swift.Error, CustomStringConvertible {
        public var path: String
        public var message: String
        public var errno: Int32
        /// The socket is served by a running daemon: the caller must not start another.
        public var inUse: Bool = false
        public var description: String { "control socket \(path): \(message) (\(String(cString: strerror(errno))))" }
    }

    /// How long a client has to send its whole request, unless `init` is told otherwise.
    public static let requestTimeout: Duration = .seconds(2)
    /// How long a client has to take the whole answer.
    public static let replyTimeout: Duration = .seconds(10)
    /// Connections served at once, unless `init` is told otherwise (operators and bench tools
    /// send a handful; a few slow or idle ones must not crowd out root's).
    public static let maxConnections = 16
    /// Refused (wrong uid) connections drained at once; beyond that they are closed unanswered.
    static let maxRefusing = 4

    public let path: String
    private let listenFD: Int32
    private let handler: Handler
    private let done = DispatchSemaphore(value: 0)
    private let allowedUID: uid_t
    private let requestTimeout: Duration
    private let maxConnections: Int
    /// Connections being served (their descriptors, so `stop` can cut them) and refusals being
    /// drained (a count); `idle` is signalled when a connection ends.
    private let active = Mutex<(serving: Set<Int32>, refusing: Int)>(([], 0))
    private let idle = NSCondition()

    /// Creates the socket at `path` (replacing a stale one, refusing a live one) and starts
    /// serving.
    public init(
        path: String, requestTimeout: Duration = requestTimeout, maxConnections: Int = maxConnections,
        handler: @escaping Handler
    ) throws(Error) {
        self.path = path
        self.requestTimeout = requestTimeout
        self.maxConnections = max(1, maxConnections)
        self.handler = handler
        allowedUID = geteuid()
        let addr = try ControlSocketIO.address(path)
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty {
            try? FileManager.default.createDirectory(
                atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        try Self.removeStale(path, addr)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Error(path: path, message: "cannot create socket", errno: errno) }
        // The socket is created owner-only from the start (umask), not chmod-ed after a window.
        let oldMask = umask(0o177)
        let rc = ControlSocketIO.withSockaddr(addr) { bind(fd, $0, $1) }
        let bindErrno = errno
        umask(oldMask)
        guard rc == 0 else {
            close(fd)
            // Another daemon bound it between our check and our bind.
            throw Error(path: path, message: "cannot bind", errno: bindErrno, inUse: bindErrno == EADDRINUSE)
        }
        chmod(path, 0o600)
        guard listen(fd, 64) == 0 else {
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

    /// Removes a socket file nobody serves; throws `inUse` when a daemon answers on it, and
    /// refuses to remove anything that is not a socket (a mistyped path must not delete a file).
    static func removeStale(_ path: String, _ addr: sockaddr_un) throws(Error) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }  // nothing there
        guard st.st_mode & S_IFMT == S_IFSOCK else {
            throw Error(path: path, message: "exists and is not a socket; not replacing it", errno: EEXIST)
        }
        // Non-blocking: a live daemon whose backlog is full answers EAGAIN instead of holding us.
        let probe = socket(
            AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue | SOCK_NONBLOCK.rawValue), 0)
        guard probe >= 0 else { throw Error(path: path, message: "cannot create socket", errno: errno) }
        let rc = ControlSocketIO.withSockaddr(addr) { connect(probe, $0, $1) }
        let code = errno
        close(probe)
        if rc == 0 || code == EAGAIN || code == EINPROGRESS {
            throw Error(
                path: path, message: "a running daemon answers on it; refusing to take it over", errno: EADDRINUSE,
                inUse: true)
        }
        // ECONNREFUSED: a socket file left behind by a daemon that is gone. Anything else (EACCES:
        // another user's socket) is not ours to judge stale.
        guard code == ECONNREFUSED else {
            throw Error(path: path, message: "exists and cannot be probed; not replacing it", errno: code)
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw Error(path: path, message: "cannot remove the stale socket", errno: errno)
        }
    }

    /// Stops accepting, cuts the connections in progress, waits for the accept thread and (at
    /// most `grace`) for the connection threads, removes the socket file.
    public func stop(grace: Duration = .seconds(1)) {
        shutdown(listenFD, Int32(SHUT_RDWR))
        done.wait()
        close(listenFD)
        unlink(path)
        // A blocked read or write returns at once on a shut-down socket; a handler in progress
        // (a sync against an unreachable central) is waited for at most `grace`.
        active.withLock { for fd in $0.serving { shutdown(fd, Int32(SHUT_RDWR)) } }
        let deadline = Date(
            timeIntervalSinceNow: Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18)
        idle.lock()
        while active.withLock({ !$0.serving.isEmpty || $0.refusing > 0 }) {
            if !idle.wait(until: deadline) { break }
        }
        idle.unlock()
    }

    /// Connections currently being served (for tests and `status`).
    public var connectionsInProgress: Int { active.withLock { $0.serving.count } }

    private func acceptLoop() {
        while true {
            let conn = accept(listenFD, nil, nil)
            if conn < 0 {
                if errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE { continue }
                return  // shut down (EINVAL) or fatal: stop serving
            }
            _ = fcntl(conn, F_SETFD, FD_CLOEXEC)
            admit(conn)
        }
    }

    /// Checks the peer's credentials, then serves the connection on a thread of its own, or
    /// refuses it (wrong uid, too many connections) without reading it.
    private func admit(_ conn: Int32) {
        var uid: UInt32 = 0
        var pid: Int32 = 0
        guard CFaregateLinux_peer_uid(conn, &uid, &pid) == 0 else {
            close(conn)
            return
        }
        if uid != 0 && uid != allowedUID {
            Log.warning("control socket: refused uid \(uid) pid \(pid)")
            let refusal = ControlFailure(.permissionDenied, "permission denied: uid \(uid) may not control this gate")
            let drain = active.withLock { a -> Bool in
                guard a.refusing < Self.maxRefusing else { return false }
                a.refusing += 1
                return true
            }
            // The answer is sent before anything is read. Draining what the peer sends afterwards
            // (briefly, on a thread of its own) lets it read the answer instead of a broken pipe.
            _ = ControlSocketIO.sendNow(ControlWire.line(ControlResponse.failure(refusal)), to: conn)
            guard drain else {
                close(conn)
                return
            }
            spawn("refuse") { [self] in
                ControlSocketIO.drain(conn)
                close(conn)
                finished { $0.refusing -= 1 }
            }
            return
        }
        let admitted = active.withLock { a -> Bool in
            guard a.serving.count < maxConnections else { return false }
            a.serving.insert(conn)
            return true
        }
        guard admitted else {
            Log.warning("control socket: \(maxConnections) connections in progress; refused one from pid \(pid)")
            let busy = ControlFailure(
                .busy, "the gate is serving \(maxConnections) control connections already; try again")
            _ = ControlSocketIO.sendNow(ControlWire.line(ControlResponse.failure(busy)), to: conn)
            shutdown(conn, Int32(SHUT_WR))
            close(conn)
            return
        }
        let peer = pid
        spawn("conn") { [self] in
            serve(conn, pid: peer)
            finished { $0.serving.remove(conn) }
            close(conn)
        }
    }

    private func spawn(_ role: String, _ body: @escaping @Sendable () -> Void) {
        let t = Thread(block: body)
        t.name = "faregate-control-\(role)"
        t.start()
    }

    private func finished(_ change: (inout (serving: Set<Int32>, refusing: Int)) -> Void) {
        active.withLock { change(&$0) }
        idle.lock()
        idle.broadcast()
        idle.unlock()
    }

    private func serve(_ conn: Int32, pid: Int32) {
        let received = ControlSocketIO.readLine(conn, limit: ControlWire.maxRequestBytes, within: requestTimeout)
        let response: ControlResponse
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
        if !ControlSocketIO.write(ControlWire.line(response), to: conn, within: Self.replyTimeout) {
            Log.warning("control socket: a client (pid \(pid)) did not take its answer within \(Self.replyTimeout)")
        }
        if case .tooLarge = received { ControlSocketIO.drain(conn) }
    }
}
