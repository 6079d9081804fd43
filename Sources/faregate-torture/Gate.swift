import FaregateCore
import FaregateRuntime
import FaregateSimulation
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One gate under torture: a release `faregated` subprocess, its files, its ledger, a tapper
/// thread that taps cards through its control socket as fast as it answers, and a follower that
/// reads its journal as it grows.
final class TortureGate: @unchecked Sendable {
    // @unchecked Sendable: `process` and `follower` are used by the trial loop and the poller
    // thread under `lock`; everything else is immutable or itself thread-safe.
    let id: String
    let journalDir: String
    let socket: String
    let config: String
    let logPath: String
    let pidFile: String
    let daemon: URL
    let ledger = Ledger()
    private let lock = NSLock()
    private var process: Process?
    private var follower: JournalFollower
    /// False while a fault makes reading the live file misleading (disk full: a failed append's
    /// lines stand in the file until the gate cuts them again).
    let following = Locked(true)
    let running = Locked(true)
    /// Set once the control socket answers after a start, cleared at the kill.
    let ready = Locked(false)
    private var threads: [Thread] = []
    let population: Int
    let populationSeed: UInt64

    init(
        id: String, workDir: String, journalDir: String, central: Central, daemon: URL, population: Int,
        populationSeed: UInt64
    ) throws {
        self.id = id
        self.journalDir = journalDir
        self.daemon = daemon
        self.population = population
        self.populationSeed = populationSeed
        socket = workDir + "/\(id).sock"
        config = workDir + "/\(id).json"
        logPath = workDir + "/\(id).log"
        pidFile = workDir + "/\(id).pid"
        follower = JournalFollower(directory: journalDir)
        try """
        {"gate_id": "\(id)", "journal_dir": "\(journalDir)", "journal_rotate_mib": 1, "control_socket": "\(socket)",
         "log_level": "info", "central": \(central.configJSON),
         "sync": {"interval_seconds": 0.05, "jitter_seconds": 0.02},
         "readers": {"backend": "simulated", "count": 2}}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        FileManager.default.createFile(atPath: logPath, contents: nil)
    }

    /// Starts the daemon and waits until its control socket answers (at most 20 s).
    func start() throws {
        let p = Process()
        p.executableURL = daemon
        p.arguments = ["--config", config]
        let log = open(logPath, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard log >= 0 else { throw TortureError("cannot open \(logPath)") }
        p.standardError = FileHandle(fileDescriptor: log, closeOnDealloc: true)
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        // For scripts/torture's cleanup: a driver that is itself killed leaves no daemon behind.
        try? "\(p.processIdentifier)\n".write(toFile: pidFile, atomically: true, encoding: .utf8)
        lock.withLock {
            process = p
            follower.reset()
        }
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if !p.isRunning {
                throw TortureError("\(id): faregated exited \(p.terminationStatus) at start; see \(logPath)")
            }
            if case .status? = try? ControlClient.send(.status, to: socket) {
                ready.set(true)
                return
            }
            usleep(2000)
        }
        throw TortureError("\(id): faregated did not answer on \(socket) within 20 s; see \(logPath)")
    }

    var pid: Int32? { lock.withLock { process?.isRunning == true ? process?.processIdentifier : nil } }

    /// kill -9, then everything the files hold goes into the ledger.
    func kill9() {
        let p = lock.withLock { () -> Process? in
            let p = process
            process = nil
            return p
        }
        ready.set(false)
        guard let p else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        observeFiles()
    }

    /// SIGTERM and the clean stop's exit status (nil: it did not stop within 30 s, then kill -9).
    func stop() -> Int32? {
        let p = lock.withLock { () -> Process? in
            let p = process
            process = nil
            return p
        }
        ready.set(false)
        guard let p else { return nil }
        kill(p.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(30)
        while p.isRunning && Date() < deadline { usleep(5000) }
        if p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            observeFiles()
            return nil
        }
        p.waitUntilExit()
        observeFiles()
        return p.terminationReason == .exit ? p.terminationStatus : 128 + p.terminationStatus
    }

    /// Files already read whole that the gate never writes again (set-aside damaged journals, a
    /// previous generation), by name, inode and size: read once, not at every kill.
    private var seenFiles: Set<String> = []

    /// Every valid line of every journal file the gate keeps (current, previous, set aside).
    func observeFiles() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: journalDir)) ?? []
        ledger.learnKey(directory: journalDir)
        // `journal.rejected.log` holds lines the gate did not write (reported, never records).
        for name in names where name.hasPrefix("journal.") && name.hasSuffix(".log") && name != "journal.rejected.log" {
            let path = journalDir + "/" + name
            var st = stat()
            let key = stat(path, &st) == 0 ? "\(name) \(st.st_ino) \(st.st_size)" : ""
            if name != "journal.log" && lock.withLock({ seenFiles.contains(key) }) { continue }
            if let bytes = readBytes(path) {
                ledger.observe(bytes: bytes[...])
                if name != "journal.log" { _ = lock.withLock { seenFiles.insert(key) } }
            }
        }
    }

    /// Starts the tapper and the follower threads.
    func startThreads(seed: UInt64) {
        let tapper = Thread { [self] in tapLoop(seed: seed) }
        let poller = Thread { [self] in
            while running.get() {
                if following.get() { lock.withLock { if process != nil { follower.poll(into: ledger) } } }
                usleep(20_000)
            }
        }
        threads = [tapper, poller]
        tapper.start()
        poller.start()
    }

    let tapsSent = Locked(0)
    /// Paused: the tapper sends nothing (the final drain).
    let tapping = Locked(true)

    private func tapLoop(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let start = Int(rng.next() % UInt64(population))
        var n = 0
        while running.get() {
            guard tapping.get(), ready.get() else {
                usleep(2000)
                continue
            }
            // Cards in a seeded order that repeats none within `population` taps: two taps of one
            // card in one millisecond would make two equal records, which the check for records
            // stored twice could not tell from a duplicate.
            let card = DemoPopulation.card((start + n * 7919) % population, seed: populationSeed).key
            let reader = UInt16(n % 2)
            n += 1
            tapsSent.update { $0 += 1 }
            do {
                switch try ControlClient.send(.tap(card: card, reader: reader, fault: nil), to: socket) {
                case .tap(let entry): ledger.answer(entry)
                case .failure(let f) where f.message.hasPrefix("not journalled"): ledger.noteRefused()
                default: ledger.noteUnanswered()
                }
            } catch {
                // Not connected: the tap never reached the gate (it was being killed).
                if !error.message.hasPrefix("cannot connect") { ledger.noteUnanswered() }
                usleep(1000)
            }
        }
    }

    func joinThreads() {
        running.set(false)
        for t in threads { while t.isExecuting { usleep(1000) } }
    }

    /// The gate's status over its control socket.
    func status() -> GateStatusReport? {
        if case .status(let s)? = try? ControlClient.send(.status, to: socket) { return s }
        return nil
    }

    /// Asks for a sync now (the answer is not awaited by the caller's timing).
    func syncNow() { _ = try? ControlClient.send(.syncNow, to: socket) }

    var journalSize: Int {
        var st = stat()
        return stat(journalDir + "/journal.log", &st) == 0 ? Int(st.st_size) : 0
    }
}

/// The bytes of the file at `path` (nil: it cannot be read).
func readBytes(_ path: String) -> [UInt8]? {
    FileManager.default.contents(atPath: path).map { [UInt8]($0) }
}
