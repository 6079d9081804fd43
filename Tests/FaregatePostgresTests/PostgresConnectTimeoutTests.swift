import FaregatePostgres
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// A central PostgreSQL that takes the TCP connection and never answers (a black-holed or hung
/// server, issue 14): libpq without `connect_timeout` waits on it indefinitely, and the gate's
/// sync thread, and its stop, with it. `PostgresConnection` sets one when the connection string
/// does not. Needs no PostgreSQL server: the silent server is a listening socket nobody accepts on.
final class PostgresConnectTimeoutTests: XCTestCase {
    func testAServerThatNeverAnswersTimesTheConnectionOut() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(listener, 0)
        defer { close(listener) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
                bind(listener, p, len) == 0 && listen(listener, 8) == 0 && getsockname(listener, p, &len) == 0
            }
        }
        XCTAssertTrue(bound)
        let port = UInt16(bigEndian: addr.sin_port)

        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var failure: PostgresError?
        Thread.detachNewThread {
            do throws(PostgresError) {
                _ = try PostgresConnection("host=127.0.0.1 port=\(port) dbname=central user=gate")
            } catch {
                failure = error
            }
            done.signal()
        }
        // The default is a few seconds; the deadline here only keeps a regression from hanging CI.
        XCTAssertEqual(
            done.wait(timeout: .now() + 120), .success, "libpq gave up on the silent server (connect_timeout)")
        let message = try XCTUnwrap(failure, "a silent server is not a connection").message
        XCTAssertTrue(message.contains("timeout"), message)
    }
}
