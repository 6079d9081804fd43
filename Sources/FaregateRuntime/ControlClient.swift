import FaregateCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Client side of the control socket, used by `farectl` and the tests: one request, one answer
/// per connection (see `ControlServer`).
public enum ControlClient {
    /// How long to wait for the answer: a sync with central state may take a while, a hung gate
    /// must not hang the operator's shell.
    public static let answerTimeout: Duration = .seconds(120)

    /// Sends `request` to the daemon at `path` and returns its answer. A refusal by the gate is
    /// an answer (`.failure`); a socket that cannot be reached, or an answer that is not one, is
    /// thrown.
    public static func send(_ request: ControlRequest, to path: String) throws(ControlServer.Error) -> ControlResponse {
        let bytes = try exchange(ControlWire.line(request), with: path)
        switch ControlWire.response(bytes) {
        case .success(let answer): return answer
        case .failure(let f):
            throw ControlServer.Error(path: path, message: "the daemon's answer is not understood: \(f)", errno: EPROTO)
        }
    }

    /// Sends `line` as it is and returns the raw answer: for tests of how the server takes
    /// malformed, oversized and slow requests.
    public static func exchange(_ line: Data, with path: String) throws(ControlServer.Error) -> [UInt8] {
        let addr = try ControlSocketIO.address(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlServer.Error(path: path, message: "cannot create socket", errno: errno) }
        defer { close(fd) }
        guard ControlSocketIO.withSockaddr(addr, { connect(fd, $0, $1) }) == 0 else {
            throw ControlServer.Error(
                path: path, message: "cannot connect (is faregated running, and are you its user?)", errno: errno)
        }
        // A request the server cut off (too long) still gets its answer: read it whether or not
        // every byte went out. Half-closing says the request is complete, newline or not.
        _ = ControlSocketIO.write(line, to: fd, within: ControlServer.requestTimeout)
        shutdown(fd, Int32(SHUT_WR))
        guard let answer = ControlSocketIO.readAll(fd, limit: ControlWire.maxResponseBytes, within: answerTimeout)
        else {
            throw ControlServer.Error(
                path: path,
                message: "no complete answer within \(answerTimeout) (or over \(ControlWire.maxResponseBytes) bytes)",
                errno: ETIMEDOUT)
        }
        return answer
    }
}
