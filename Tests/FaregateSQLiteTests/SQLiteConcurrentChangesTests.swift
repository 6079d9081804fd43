import FaregateCore
import FaregateSQLite
import Foundation
import XCTest

/// Several writer threads and poller threads, each with its own connection to one SQLite file:
/// pollers see every version exactly once, in order, and end with the central table.
final class SQLiteConcurrentChangesTests: XCTestCase {
    func testConcurrentWritersAndPollersNeverMissAChange() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cc-\(UUID().uuidString).db").path
        defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } }
        let writers = 3
        let writesPerWriter = 40
        let pollers = 2
        @Sendable func key(_ n: Int) -> CardKey { CardKey(rawValue: 1_000_000_000_000_000_000 + UInt64(n)) }
        let setup = try SQLiteCentralStore.create(at: path)
        try setup.insertCards(
            (0..<(writers * 2)).map {
                CentralCardRecord(key: key($0), cardType: .normal, identityHash: [UInt8(($0 / 2) + 1)], health: .green)
            }, wallMillis: 0)

        let ready = DispatchSemaphore(value: 0)
        let go = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        let shared = Shared()
        @Sendable func fail(_ s: String) { shared.withLock { $0.failures.append(s) } }
        let colours: [HealthStatus] = [.yellow, .red, .green, .unknown]

        for w in 0..<writers {
            group.enter()
            Thread {
                defer {
                    shared.withLock { $0.writersDone += 1 }
                    group.leave()
                }
                var store: SQLiteCentralStore?
                do { store = try SQLiteCentralStore(path: path) } catch { fail("writer \(w): \(error)") }
                ready.signal()
                go.wait()
                guard let store else { return }
                do {
                    for i in 0..<writesPerWriter {
                        try store.setHealth(of: key(w * 2), to: colours[(i + w) % 4], wallMillis: Int64(i))
                    }
                } catch { fail("writer \(w): \(error)") }
            }.start()
        }
        for p in 0..<pollers {
            group.enter()
            Thread {
                defer { group.leave() }
                var store: SQLiteCentralStore?
                do { store = try SQLiteCentralStore(path: path) } catch { fail("poller \(p): \(error)") }
                ready.signal()
                go.wait()
                guard let store else { return }
                do {
                    var table: [CardKey: CardStatus] = [:]
                    var version = try store.forEachStatus { table[$0] = $1 }
                    var more = true
                    while more {
                        more = shared.withLock { $0.writersDone < writers }
                        guard let set = try store.changes(after: version, maxChanges: 1_000_000) else {
                            fail("poller \(p): too far behind")
                            return
                        }
                        let versions = Array(Set(set.changes.map(\.version))).sorted()
                        if set.toVersion > version, versions != Array((version + 1)...set.toVersion) {
                            fail("poller \(p): after \(version) got \(versions)")
                        }
                        for c in set.changes { table[c.key] = c.status }
                        version = max(version, set.toVersion)
                    }
                    shared.withLock { $0.finals.append((version, table)) }
                } catch { fail("poller \(p): \(error)") }
            }.start()
        }
        for _ in 0..<(writers + pollers) { ready.wait() }
        for _ in 0..<(writers + pollers) { go.signal() }
        group.wait()

        XCTAssertEqual(shared.withLock { $0.failures }, [])
        var truth: [CardKey: CardStatus] = [:]
        let version = try setup.forEachStatus { truth[$0] = $1 }
        XCTAssertEqual(version, UInt64(1 + writers * writesPerWriter), "one version per write")
        let ends = shared.withLock { $0.finals }
        XCTAssertEqual(ends.count, pollers)
        for (v, table) in ends {
            XCTAssertEqual(v, version)
            XCTAssertEqual(table, truth)
        }
    }
}

/// State shared by the test's threads. Safe: `state` is only touched inside `withLock`.
final class Shared: @unchecked Sendable {
    struct State {
        var failures: [String] = []
        var writersDone = 0
        var finals: [(UInt64, [CardKey: CardStatus])] = []
    }
    private let lock = NSLock()
    private var state = State()
    func withLock<T>(_ body: (inout State) -> T) -> T { lock.withLock { body(&state) } }
}
