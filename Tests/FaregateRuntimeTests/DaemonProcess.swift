import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// The built `faregated` and `farectl` binaries, run as subprocesses by the tests that need the
/// real daemon (`CrashSafetyTests`, `DaemonSnapshotTests`).
enum DaemonProcess {
    /// A built executable next to the test bundle. Skips the test when it is missing, and fails it
    /// instead in CI (`FAREGATE_REQUIRE_SERVICES=1`), where a missing binary is a build problem.
    /// `FAREGATE_DAEMON_BIN_DIR` names another build's directory: `scripts/test` runs these suites
    /// again on the release binaries, the ones that ship (an optimised build once ignored SIGTERM
    /// while the debug one stopped).
    static func binary(_ name: String) throws -> URL {
        let bundleDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var candidates = [bundleDir, bundleDir.deletingLastPathComponent()]
        if let dir = ProcessInfo.processInfo.environment["FAREGATE_DAEMON_BIN_DIR"] {
            candidates = [URL(fileURLWithPath: dir)]
        }
        for candidate in candidates {
            let url = candidate.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        let message = "\(name) is not built next to the tests (run `swift build` first)"
        if ProcessInfo.processInfo.environment["FAREGATE_REQUIRE_SERVICES"] == "1" {
            XCTFail(message)
            throw CocoaError(.fileNoSuchFile)
        }
        throw XCTSkip(message)
    }

    /// Starts the daemon and returns it with a reader of its log lines. The daemon is killed if it
    /// still runs after `watchdogSeconds` (see `watchdog`).
    /// `environment` adds variables to the test's own; `stderr` is the pipe the log goes to (a test
    /// that needs its identity, e.g. for `JOURNAL_STREAM`, makes it first).
    static func start(
        _ daemon: URL, config: String, extra: [String] = [], watchdogSeconds: Double = 120,
        environment: [String: String] = [:], stderr: Pipe = Pipe()
    ) throws -> (Process, FileHandle) {
        let p = Process()
        p.executableURL = daemon
        p.arguments = ["--config", config] + extra
        if !environment.isEmpty {
            p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let err = stderr
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        watchdog(p, seconds: watchdogSeconds)
        return (p, err.fileHandleForReading)
    }

    /// Kills `p` with SIGKILL if it still runs after `seconds`: a test that waits on the daemon
    /// (its log, its socket, its exit) then fails instead of hanging CI, and no daemon outlives it.
    static func watchdog(_ p: Process, seconds: Double) {
        let pid = p.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
            if p.isRunning { kill(pid, SIGKILL) }
        }
    }

    /// Reads `log` to its end on a background thread, so a daemon that keeps logging after the
    /// test stopped reading never blocks on a full pipe.
    static func drain(_ log: FileHandle) {
        Thread.detachNewThread { _ = log.readDataToEndOfFile() }
    }

    /// Reads log lines until `count` lines containing `marker` have been logged (or the daemon
    /// exits); returns every line read.
    @discardableResult
    static func waitForLines(_ log: FileHandle, containing marker: String = "tap seq=", count: Int) -> [String] {
        var seen = 0
        var lines: [String] = []
        var pending = Data()
        while seen < count {
            let chunk = log.availableData
            if chunk.isEmpty { break }  // the daemon exited
            pending.append(chunk)
            while let nl = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[pending.startIndex..<nl], as: UTF8.self)
                pending.removeSubrange(pending.startIndex...nl)
                lines.append(line)
                if line.contains(marker) { seen += 1 }
            }
        }
        return lines
    }

    /// Runs a tool to completion; returns its exit status, standard output and standard error.
    static func run(_ tool: URL, _ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let r = try run(tool, arguments, environment: [:])
        return (r.status, r.out, r.err)
    }

    /// Runs a tool to completion with extra `environment`, in `directory`, standard input `input`
    /// (empty when nil; keep it under a pipe's buffer, it is written before the output is read);
    /// killed if still running after `watchdogSeconds` (see `watchdog`). Returns its exit status,
    /// output, error output and how it ended.
    static func run(
        _ tool: URL, _ arguments: [String], environment: [String: String], directory: URL? = nil,
        watchdogSeconds: Double? = nil, input: String? = nil
    ) throws -> (status: Int32, out: String, err: String, reason: Process.TerminationReason) {
        let p = Process()
        p.executableURL = tool
        p.arguments = arguments
        if !environment.isEmpty {
            p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        if let directory { p.currentDirectoryURL = directory }
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let stdin = Pipe()
        p.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try p.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
        }
        if let watchdogSeconds { watchdog(p, seconds: watchdogSeconds) }
        // stderr is read on another thread while this one reads stdout, so a tool that fills one
        // pipe while we wait on the other cannot deadlock with us.
        let errRead = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var errData = Data()
        Thread.detachNewThread {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            errRead.signal()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        errRead.wait()
        p.waitUntilExit()
        return (
            p.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self),
            p.terminationReason
        )
    }
}
