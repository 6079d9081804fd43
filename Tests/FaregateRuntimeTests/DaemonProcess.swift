import Foundation
import XCTest

/// The built `faregated` and `farectl` binaries, run as subprocesses by the tests that need the
/// real daemon (`CrashSafetyTests`, `DaemonSnapshotTests`).
enum DaemonProcess {
    /// A built executable next to the test bundle.
    static func binary(_ name: String) throws -> URL {
        let bundleDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundleDir, bundleDir.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw XCTSkip("\(name) is not built next to the tests (run `swift build` first)")
    }

    /// Starts the daemon and returns it with a reader of its log lines.
    static func start(_ daemon: URL, config: String, extra: [String] = []) throws -> (Process, FileHandle) {
        let p = Process()
        p.executableURL = daemon
        p.arguments = ["--config", config] + extra
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return (p, err.fileHandleForReading)
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
        let p = Process()
        p.executableURL = tool
        p.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Read both pipes to the end before waiting, so a chatty tool cannot block on a full pipe.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }
}
