import FaregateCore
import FaregateRuntime
import FaregateSQLite
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Files the gate and `farectl` create (issue 14): secrets 0600 from their first byte, temp files
/// that a planted symlink cannot redirect, the state directory 0700, central's SQLite file 0600,
/// and one daemon per journal directory.
final class SafeFileTests: XCTestCase {
    var dir: String!
    /// A file an attacker would like overwritten through a planted symlink.
    var victim: String!

    override func setUpWithError() throws {
        dir = "/tmp/fg-safe-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        victim = dir + "/victim"
        try "untouched".write(toFile: victim, atomically: false, encoding: .utf8)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func mode(_ path: String) throws -> Int {
        var st = stat()
        XCTAssertEqual(lstat(path, &st), 0, path)
        return Int(st.st_mode & 0o7777)
    }

    func assertVictimUntouched(file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "untouched", file: file, line: line)
    }

    func testKeyFilesAreCreatedWithTheirModeAndNeverThroughASymlink() throws {
        // A permissive umask: the secret is 0600 anyway, because it is created so.
        let old = umask(0)
        defer { umask(old) }
        let key = [UInt8](repeating: 0xAB, count: 32)
        for (name, secret, expected) in [("k.sec", true, 0o600), ("k.pub", false, 0o644)] {
            let path = dir + "/" + name
            try KeyFile.write(path, key, secret: secret)
            XCTAssertEqual(try mode(path), expected, name)
            XCTAssertEqual(try KeyFile.read(path, bytes: 32), key)
            XCTAssertThrowsError(try KeyFile.write(path, key, secret: secret), "an existing key is not overwritten")
        }
        let planted = dir + "/planted.sec"
        XCTAssertEqual(symlink(victim, planted), 0)
        XCTAssertThrowsError(try KeyFile.write(planted, key, secret: true)) { error in
            XCTAssertTrue("\(error)".contains("exists"), "\(error)")
        }
        try assertVictimUntouched()
        // A dangling symlink does not create its target either.
        let dangling = dir + "/dangling.sec"
        XCTAssertEqual(symlink(dir + "/created-elsewhere", dangling), 0)
        XCTAssertThrowsError(try KeyFile.write(dangling, key, secret: true))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/created-elsewhere"))
    }

    func testTempFilesAreUnpredictableAndNeverFollowASymlink() throws {
        let target = dir + "/table.snapshot"
        // The names the old code used (`PATH.tmp-PID`, `PATH.tmp`) planted as symlinks.
        for predictable in [target + ".tmp-\(getpid())", target + ".tmp", target + ".verified.tmp"] {
            XCTAssertEqual(symlink(victim, predictable), 0)
        }
        try SnapshotFile.write(CompactStatusTable(dataVersion: 3, entries: [:]), to: target)
        XCTAssertEqual(try SnapshotFile.load(target).dataVersion, 3)
        try SafeFile.replace(target + ".verified", with: Array("12345".utf8), mode: 0o644)
        try assertVictimUntouched()
        // Two temp names beside one path differ, and a name that exists is refused, not reused.
        let a = try SafeFile.createTemp(beside: target, mode: 0o600)
        let b = try SafeFile.createTemp(beside: target, mode: 0o600)
        defer {
            close(a.fd)
            close(b.fd)
        }
        XCTAssertNotEqual(a.path, b.path)
        XCTAssertEqual(try mode(a.path), 0o600)
        XCTAssertThrowsError(try SafeFile.create(a.path, mode: 0o600))
        let planted = dir + "/planted"
        XCTAssertEqual(symlink(victim, planted), 0)
        XCTAssertThrowsError(try SafeFile.create(planted, mode: 0o600))
        XCTAssertThrowsError(try SafeFile.replace(planted + "/x", with: [1], mode: 0o600))
        try assertVictimUntouched()
        // No temp file is left behind by the writes that succeeded.
        let left = try FileManager.default.contentsOfDirectory(atPath: dir).filter {
            $0.contains(".tmp-") && !$0.hasSuffix(".tmp-\(getpid())") && ![a.path, b.path].contains(dir + "/" + $0)
        }
        XCTAssertEqual(left, [])
        // A snapshot reached through a symlink is refused (O_NOFOLLOW), not followed.
        let link = dir + "/link.snapshot"
        XCTAssertEqual(symlink(target, link), 0)
        XCTAssertThrowsError(try SnapshotFile.load(link))
    }

    func testTheStateDirectoryIs0700AndHeldByOneDaemon() throws {
        let old = umask(0)
        defer { umask(old) }
        let state = dir + "/var/lib/faregate"
        var lock: InstanceLock? = try InstanceLock(directory: state)
        XCTAssertEqual(try mode(state), 0o700)
        XCTAssertEqual(try mode(state + "/faregated.lock"), 0o600)
        // A second holder (another open file description: what another process has) is refused
        // at once, naming the pid that holds it.
        XCTAssertThrowsError(try InstanceLock(directory: state)) { error in
            let e = error as? InstanceLock.Error
            XCTAssertEqual(e?.holder, getpid())
            XCTAssertTrue("\(error)".contains("in use by faregated pid \(getpid())"), "\(error)")
        }
        XCTAssertNotNil(lock)
        lock = nil
        // Released with its holder: the next one takes it.
        XCTAssertNoThrow(try InstanceLock(directory: state))
        // The journal creates a missing directory 0700 too.
        _ = try FileJournal(directory: dir + "/journal-only")
        XCTAssertEqual(try mode(dir + "/journal-only"), 0o700)
    }

    func testTheCentralSQLiteFileIsCreated0600AndNotThroughASymlink() throws {
        let old = umask(0)
        defer { umask(old) }
        let path = dir + "/central.sqlite"
        _ = try SQLiteCentralStore.create(at: path)
        XCTAssertEqual(try mode(path), 0o600)
        let dangling = dir + "/dangling.sqlite"
        XCTAssertEqual(symlink(dir + "/elsewhere.sqlite", dangling), 0)
        XCTAssertThrowsError(try SQLiteCentralStore.create(at: dangling))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/elsewhere.sqlite"))
    }
}
