import FaregateRuntime
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

final class SystemdNotifierTests: XCTestCase {
    func testSendsStatesAsDatagramsToTheNotifySocket() throws {
        let path = "/tmp/fg-notify-\(UUID().uuidString.prefix(8))"
        defer { unlink(path) }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        XCTAssertEqual(rc, 0)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": path])
        XCTAssertTrue(notifier.notify("READY=1"))
        XCTAssertTrue(notifier.notify("WATCHDOG=1"))
        var buffer = [UInt8](repeating: 0, count: 64)
        for expected in ["READY=1", "WATCHDOG=1"] {
            let n = recv(fd, &buffer, buffer.count, 0)
            XCTAssertEqual(String(decoding: buffer[0..<max(0, n)], as: UTF8.self), expected)
        }
        XCTAssertFalse(SystemdNotifier(environment: [:]).notify("READY=1"), "not under systemd: nothing sent")
    }
}
