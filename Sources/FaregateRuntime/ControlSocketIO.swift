import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The control socket's byte I/O for both ends: addresses, and reads and writes bounded in size
/// and in time (poll with the time left until a deadline), so neither a slow peer nor a large one
/// can hold the other.
enum ControlSocketIO {
    /// The address of the socket file at `path`.
    static func address(_ path: String) throws(ControlServer.Error) -> sockaddr_un {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard path.utf8.count < capacity else {
            throw ControlServer.Error(
                path: path, message: "path longer than \(capacity - 1) bytes", errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        return addr
    }

    /// Calls `body` with `addr` as the `sockaddr` that `bind` and `connect` take.
    static func withSockaddr(_ addr: sockaddr_un, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        withUnsafePointer(to: addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    enum Received {
        /// The first line (without its newline), or everything sent before the peer closed.
        case line([UInt8])
        /// `limit` bytes arrived without a newline.
        case tooLarge
        /// The deadline passed before a newline.
        case timedOut
        /// The peer closed (or failed) without sending anything.
        case closed
    }

    /// Reads up to the first newline, at most `limit` bytes, within `timeout` in all.
    static func readLine(_ fd: Int32, limit: Int, within timeout: Duration) -> Received {
        let deadline = ContinuousClock.now + timeout
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            guard ready(fd, for: Int16(POLLIN), until: deadline) else { return .timedOut }
            let n = read(fd, &chunk, chunk.count)
            if n < 0, errno == EINTR || errno == EAGAIN { continue }
            if n <= 0 { return buffer.isEmpty ? .closed : .line(buffer) }
            if let nl = chunk[0..<n].firstIndex(of: UInt8(ascii: "\n")) {
                buffer.append(contentsOf: chunk[0..<nl])
                return buffer.count > limit ? .tooLarge : .line(buffer)
            }
            buffer.append(contentsOf: chunk[0..<n])
            if buffer.count > limit { return .tooLarge }
        }
    }

    /// Reads until the peer closes, at most `limit` bytes, within `timeout`; nil past either.
    static func readAll(_ fd: Int32, limit: Int, within timeout: Duration) -> [UInt8]? {
        let deadline = ContinuousClock.now + timeout
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            guard ready(fd, for: Int16(POLLIN), until: deadline) else { return nil }
            let n = read(fd, &chunk, chunk.count)
            if n < 0, errno == EINTR || errno == EAGAIN { continue }
            if n <= 0 { return buffer }
            buffer.append(contentsOf: chunk[0..<n])
            if buffer.count > limit { return nil }
        }
    }

    /// Writes all of `data` within `timeout`; false when the peer went away or was too slow.
    static func write(_ data: Data, to fd: Int32, within timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        return data.withUnsafeBytes { raw -> Bool in
            guard let base = raw.baseAddress else { return true }
            var off = 0
            while off < raw.count {
                guard ready(fd, for: Int16(POLLOUT), until: deadline) else { return false }
                let n = send(fd, base + off, raw.count - off, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                if n < 0, errno == EINTR || errno == EAGAIN { continue }
                if n <= 0 { return false }
                off += n
            }
            return true
        }
    }

    /// Sends what fits of `data` without waiting (a short answer always fits an empty socket
    /// buffer): for refusals the accept thread makes before handing nothing to anyone.
    static func sendNow(_ data: Data, to fd: Int32) -> Bool {
        data.withUnsafeBytes { raw -> Bool in
            guard let base = raw.baseAddress else { return true }
            return send(fd, base, raw.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) == raw.count
        }
    }

    /// After answering a request that was cut off unread: stops sending and discards what the
    /// peer still sends (at most 1 MiB, for at most 200 ms), so closing does not reset the
    /// connection before the peer has read the answer.
    static func drain(_ fd: Int32) {
        shutdown(fd, Int32(SHUT_WR))
        _ = readAll(fd, limit: 1 << 20, within: .milliseconds(200))
    }

    /// Polls `fd` for `events` until `deadline`; false when the deadline passed first. An error
    /// or hang-up counts as ready: the read or write that follows reports it.
    private static func ready(_ fd: Int32, for events: Int16, until deadline: ContinuousClock.Instant) -> Bool {
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { return false }
            let (seconds, attos) = left.components
            let millis = Int32(clamping: seconds * 1000 + attos / 1_000_000_000_000_000 + 1)
            var p = pollfd(fd: fd, events: events, revents: 0)
            let rc = poll(&p, 1, millis)
            if rc > 0 { return true }
            if rc < 0, errno != EINTR { return true }
        }
    }
}
