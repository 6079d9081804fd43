import Dispatch
import FaregateCore
import FaregateModbus
import FaregatePCSC
import FaregatePostgres
import FaregateRuntime
import FaregateSM2
import FaregateSQLite
import FaregateSimulation
import FaregateSodium
import Foundation
import Synchronization

// faregated: the gate daemon. This file is the composition root: the only place that chooses
// real or simulated backends. Exit status: 0 after a clean stop, 1 when it cannot run (journal
// not writable, …), 2 for a usage or configuration error.

func fail(_ status: Int32, _ message: String) -> Never {
    FileHandle.standardError.write(Data("faregated: \(message)\n".utf8))
    exit(status)
}

/// The daemon's whole life, outside the main actor: its threads and Dispatch handlers run on
/// their own threads, and nothing here needs main-actor isolation.
nonisolated func runDaemon() -> Int32 {
    // SIGTERM, SIGINT and SIGHUP are blocked in this thread before any other thread exists, so
    // every thread inherits the mask and the signals wait, pending, for the Dispatch signal
    // sources below (signalfd on Linux, which sees a signal only while it is blocked in every
    // thread). Without this a SIGHUP sent just after READY=1 killed the release daemon: it
    // reached a thread where it was not blocked before the source had taken it over.
    var stopSignals = sigset_t()
    sigemptyset(&stopSignals)
    for sig in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&stopSignals, sig) }
    pthread_sigmask(SIG_BLOCK, &stopSignals, nil)

    // --help, --version and --check-config are answered (and exit) in DaemonArguments.parse.
    let arguments = DaemonArguments.parse(CommandLine.arguments)
    let configPath = arguments.configPath
    let exitAfterScript = arguments.exitAfterScript

    // SIGTERM and SIGINT are taken over first: one that arrives while the gate starts (opening its
    // board, its journal, its socket) stays pending (blocked above) and stops it cleanly once
    // started, instead of killing it.
    let stopSignal = DispatchSemaphore(value: 0)
    let stopReason = Mutex<String?>(nil)
    signal(SIGTERM, SIG_IGN)
    signal(SIGINT, SIG_IGN)
    let signalSources = [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")].map { sig, name -> DispatchSourceSignal in
        let s = DispatchSource.makeSignalSource(signal: sig)
        s.setEventHandler {
            // The first signal stops; a second one while stopping changes nothing.
            if stopReason.withLock({ r in
                r == nil
                    ? {
                        r = name; return true
                    }() : false
            }) {
                stopSignal.signal()
            }
        }
        s.resume()
        return s
    }

    let config: GateConfig
    do { config = try GateConfig.load(path: configPath) } catch { fail(2, error.description) }
    // The config's log_level, or debug with --verbose; set before any other thread runs.
    Log.minimumLevel = arguments.verbose ? .debug : config.logLevel

    // One daemon per journal directory (two would hand out the same sequence numbers): the lock
    // is taken before the journal is opened and held until the process ends (`instanceLock` is
    // kept alive by the `withExtendedLifetime` around the wait below).
    let instanceLock: InstanceLock
    do { instanceLock = try InstanceLock(directory: config.journalDirectory) } catch { fail(1, error.description) }

    // The journal must be writable before the gate serves anyone: refuse to start otherwise.
    let journal: FileJournal
    do {
        journal = try FileJournal(
            directory: config.journalDirectory, fsync: config.journalFsync, rotateBytes: config.journalRotateBytes)
    } catch {
        fail(1, "\(error); refusing to start without a writable journal")
    }
    for note in journal.recoveryNotes { Log.warning("journal \(journal.path): \(note)") }

    let clock = SystemClock()
    var readers: [any CardReader] = []
    var simulatedReaders: [SimulatedCardReader] = []
    switch config.readers.backend {
    case .simulated:
        for i in 0..<config.readers.count {
            let r = SimulatedCardReader(name: "sim-reader-\(i)", index: UInt16(i), clock: clock)
            simulatedReaders.append(r)
            readers.append(r)
        }
    case .pcsc:
        // One PC/SC reader per configured name (a case-insensitive substring of the reader
        // name pcscd reports); no names: the first reader pcscd has.
        let names: [String?] = config.readers.names.isEmpty ? [nil] : config.readers.names.map { $0 }
        for (i, name) in names.enumerated() {
            readers.append(
                PCSCCardReader(
                    configuration: .init(
                        readerName: name, index: UInt16(i), busyBudgetMillis: config.readers.busyBudgetMillis),
                    clock: clock,
                    log: { Log.info("pcsc reader \(name ?? "(first)"): \($0)") }))
        }
    }

    // Ride-code scanners after the card readers (reader indices readers.count …); their codes are
    // checked on each scanner's own thread against the issuer keys in force: the local file, or,
    // with a pinned central key, central's signed issuer-key document (synced, kept beside the
    // table, verified again at this start; the config refuses both at once).
    var scanners: [any RideCodeScanner] = []
    var simulatedScanners: [SimulatedRideCodeScanner] = []
    var simulatedScannerReaders: [UInt16] = []
    var rideCodeSettings: RideCodeSettings?
    if let rc = config.rideCodes {
        let keys: RideCodeIssuerKeyList
        let fromCentral = config.centralPublicKeyFile != nil
        do { keys = try rc.loadIssuerKeys() } catch { fail(2, error.description) }
        rideCodeSettings = RideCodeSettings(
            verifier: RideCodeVerifier(
                signatures: RideCodeSignatureSuite(ed25519: Ed25519Verifier.verify, sm2: SM2.verify),
                digest: SodiumSHA256()),
            keys: keys, keysFromCentral: fromCentral, freshness: rc.freshness, replayPath: rc.replayFile,
            replayCapacity: rc.replayCapacity)
        for (i, sc) in rc.scanners.enumerated() {
            switch sc.backend {
            case .simulated:
                let s = SimulatedRideCodeScanner(name: "sim-scanner-\(i)", clock: clock, maxLength: sc.maxLength)
                simulatedScanners.append(s)
                simulatedScannerReaders.append(UInt16(readers.count + i))
                scanners.append(s)
            case .serial:
                do {
                    scanners.append(
                        try SerialRideCodeScanner(
                            name: "scanner-\(i)",
                            settings: .init(
                                device: sc.device ?? "", baud: sc.baud, terminator: sc.terminator,
                                maxLength: sc.maxLength), clock: clock, requireDevice: false))
                } catch {
                    fail(2, "config \(configPath): ride_codes.scanners[\(i)]: \(error)")
                }
            }
        }
        Log.info(
            "ride codes: \(fromCentral ? "issuer keys from central (signed sync, kept at \(config.snapshotFile ?? "-").issuer-keys)" : "\(keys.keys.count) issuer key(s) from \(rc.issuerKeys ?? "-")"), \(scanners.count) scanner(s), replay cache \(rc.replayFile ?? "-") (\(rc.replayCapacity) entries, \(rc.replayCapacity * 24 / 1024) KiB)"
        )
    }

    var script: TapScript?
    if let scriptPath = config.readers.script {
        guard let data = FileManager.default.contents(atPath: scriptPath) else {
            fail(2, "tap script \(scriptPath) cannot be read")
        }
        do { script = try TapScript(parsing: String(decoding: data, as: UTF8.self)) } catch {
            fail(2, "tap script \(scriptPath): \(error)")
        }
    }

    let storeFactory: (@Sendable () throws(CentralStoreError) -> any CentralStore)?
    switch config.central {
    case .sqlite(let path):
        storeFactory = { () throws(CentralStoreError) -> any CentralStore in try SQLiteCentralStore(path: path) }
    case .postgres(let conninfo):
        storeFactory = { () throws(CentralStoreError) -> any CentralStore in
            try PostgresCentralStore(connecting: conninfo)
        }
    case .none:
        storeFactory = nil
    }
    // With a pinned key the gate takes signed publications only; a key that cannot be read
    // refuses the start (running unverified by accident is worse than not running).
    var tableSync = GateSync(mode: .trusted)
    if let keyFile = config.centralPublicKeyFile {
        do {
            let key = try KeyFile.read(keyFile, bytes: 32)
            // The config decoder has checked both are there and well formed with a key.
            let scope = try SyncScope(
                network: config.centralNetwork ?? "", environment: config.centralEnvironment ?? "")
            var verifier = try SyncVerifier(pinnedPublicKey: key, scope: scope)
            verifier.minimumVersion = config.centralMinimumVersion
            tableSync = GateSync(mode: .signed(verifier))
        } catch {
            fail(2, "config \(configPath): central.public_key: \(error)")
        }
    } else if storeFactory != nil {
        Log.warning("no central.public_key: trusting the central store without signatures (bench use only)")
    }

    // Rules: policy files for this gate's station and line (era by date unless one is pinned), or
    // the inline `policy` object. A policy that does not load refuses the start; on a reload it
    // leaves the rules in force untouched.
    @Sendable func loadEngine(era: String?) -> Result<DecisionEngine, PolicyError> {
        guard let dir = config.policyDirectory else { return .success(DecisionEngine(policy: config.policy)) }
        do {
            let book = try PolicyFiles.loadBook(directory: dir)
            if let station = config.station, !book.knownStations.contains(station) {
                Log.warning("policy \(dir): station '\(station)' is named in no era; it gets the default rules")
            }
            if let line = config.line, !book.knownLines.contains(line) {
                Log.warning("policy \(dir): line '\(line)' is named in no era; it gets the default rules")
            }
            return .success(try book.engine(station: config.station, line: config.line, pinnedEra: era))
        } catch {
            return .failure(error)
        }
    }
    let engine: DecisionEngine
    switch loadEngine(era: config.era) {
    case .success(let e): engine = e
    case .failure(let e): fail(2, "\(e)")
    }

    var options = GateRuntime.Options(gateID: config.gateID)
    options.engine = engine
    options.tableSync = tableSync
    options.access = config.access
    options.snapshotPath = config.snapshotFile
    options.ringCapacity = config.ringCapacity
    options.policy = config.policy
    options.utcOffsetSeconds = config.utcOffsetHours * 3600
    options.sync = config.sync
    // Serve from the local table (the snapshot) at once; the first sync runs beside the readers,
    // so a locked or unreachable central never delays the first tap or the control socket.
    options.firstSync = .besideServing
    // The passage's I/O board: simulated, or a board over Modbus RTU / TCP whose register map is
    // read and checked now (a wrong map refuses the start, naming the setting). A board that does
    // not answer does not: the lane starts out of service and the adapter keeps reconnecting.
    let io: any GateIO
    let modbusIO: ModbusGateIO?
    switch config.io.backend {
    case .simulated:
        io = SimulatedGateIO()
        modbusIO = nil
    case .modbusRTU, .modbusTCP:
        let mapPath = config.io.map ?? ""
        let map: IOBoardMap
        do { map = try IOBoardMapFile.read(mapPath) } catch { fail(2, "config \(configPath): io.map \(error)") }
        let c = config.io
        let endpoint: ModbusEndpoint =
            c.backend == .modbusRTU
            ? .rtu(
                device: c.device ?? "", baud: c.baud,
                parity: c.parity == .even ? .even : c.parity == .odd ? .odd : .none, dataBits: c.dataBits,
                stopBits: c.stopBits, slave: c.slaveID)
            : .tcp(host: c.host ?? "", port: c.port, unit: c.unitID)
        var settings = ModbusGateIO.Settings(endpoint: endpoint, map: map)
        settings.pollIntervalNanos = UInt64(c.pollIntervalMillis * 1e6)
        settings.responseTimeoutNanos = UInt64(c.responseTimeoutMillis) * 1_000_000
        settings.link.failedPollsOutOfService = c.failedPollsOutOfService
        settings.link.backoffMax = UInt64(c.reconnectMaxMillis) * 1_000_000
        let board = ModbusGateIO(settings: settings, clock: clock, log: { Log.info("io board: \($0)") })
        do { try board.start() } catch { fail(2, "config \(configPath): io: \(error)") }
        Log.info(
            "io board \(endpoint), map \(mapPath)\(board.boardInService ? "" : ": not answering, lane out of service")")
        io = board
        modbusIO = board
    }
    // The passage barrier: a BarrierController driven through the I/O board.
    var readerEnds = config.barrier.readerEnds
    if readerEnds.isEmpty {
        // One reader serves the entry end; a second one, on a bidirectional gate, the exit end.
        readerEnds = readers.indices.map { i in
            config.barrier.directions == .exitOnly
                ? .paid : (config.barrier.directions == .bidirectional && i == 1 ? .paid : .unpaid)
        }
    }
    var timings = BarrierTimings()
    timings.unusedOpening = UInt64(config.barrier.unusedOpeningSeconds * 1e9)
    let barrier = BarrierDriver(
        io: io, clock: clock, directions: config.barrier.directions,
        enforcement: config.barrier.enforcement, timings: timings)
    options.readerEnds = readerEnds
    // Never reuse a sequence (issue 16.6): when no high-water mark survived, central's highest
    // record for this gate is asked for (2 s at most) before the first sequence is handed out.
    if let storeFactory {
        CentralSequenceCheck.run(gateID: config.gateID, journal: journal, within: .seconds(2), openStore: storeFactory)
    }
    options.rideCodes = rideCodeSettings
    let runtime = GateRuntime(
        options: options, journal: journal, readers: readers, scanners: scanners, barrier: barrier, clock: clock,
        // The decision loop logs each tap at debug level (`tap seq=…`, DecisionLoop).
        storeFactory: storeFactory)
    // What the lane does by itself (board lost and back, fire-alarm or power-loss free-open) is
    // journalled; the decision thread takes the first of them when the runtime starts.
    barrier.start { runtime.journalLaneEvent($0) }
    // The era in force today, not the book's first one.
    @Sendable func rulesInForce(_ engine: DecisionEngine) -> String {
        engine.inForce(on: CalendarDate(wallMillis: clock.wallMillis(), utcOffsetSeconds: config.utcOffsetHours * 3600))
    }
    Log.info(
        "gate \(config.gateID) starting: \(readers.count) \(config.readers.backend) reader(s), journal \(journal.path) next seq \(journal.nextSequence), rules \(rulesInForce(engine)) in force, log level \(Log.minimumLevel.name)"
    )

    // The control socket is for staff and bench tools; a gate whose socket cannot be created still
    // serves riders, so that is logged, not fatal. A socket a running daemon answers on is never
    // taken over: that refuses the start. It is bound before the readers start, so that it
    // answers from the first moment the gate serves.
    var control: ControlServer?
    let reload: @Sendable (String?) -> Result<String, PolicyError> = { era in
        loadEngine(era: era ?? config.era).map { engine in
            runtime.replaceEngine(engine)
            return rulesInForce(engine)
        }
    }
    let gateControl = GateControl(
        runtime: runtime, presenter: simulatedReaders.isEmpty ? nil : SimulatedTapPresenter(readers: simulatedReaders),
        clock: clock, scans: simulatedScanners.isEmpty ? nil : SimulatedScanPresenter(scanners: simulatedScanners),
        scanReaders: simulatedScannerReaders,
        reloadPolicy: config.policyDirectory == nil ? nil : reload, barrier: barrier, board: modbusIO)
    do {
        control = try ControlServer(path: config.controlSocket) { gateControl.handle($0) }
        Log.info("control socket \(config.controlSocket)")
    } catch  where error.inUse {
        fail(1, "\(error)")
    } catch {
        Log.error("\(error); running without a control socket")
    }
    runtime.start()
    if storeFactory != nil, runtime.table.current().table == nil {
        // Info, not a warning: the first sync runs beside serving and normally succeeds within a
        // moment; if it fails, the sync's own warning says so.
        Log.info(
            "gate \(config.gateID): no local table yet; taps follow the stale_data rule until the first sync succeeds")
    }

    var metricsTimer: DispatchSourceTimer?
    if let metricsFile = config.metricsFile {
        let timer = DispatchSource.makeTimerSource(queue: .global(qos: .utility))
        timer.schedule(deadline: .now(), repeating: config.metricsIntervalSeconds)
        timer.setEventHandler {
            do { try GateMetrics.write(runtime, clock: clock, board: modbusIO, to: metricsFile) } catch {
                Log.warning("metrics file \(metricsFile): \(error)")
            }
        }
        timer.resume()
        metricsTimer = timer
    }

    // SIGHUP reloads the policy files (the operator's usual "reload configuration").
    signal(SIGHUP, SIG_IGN)
    let hangup = DispatchSource.makeSignalSource(signal: SIGHUP)
    hangup.setEventHandler {
        switch reload(nil) {
        case .success(let label): Log.info("SIGHUP: rules \(label) loaded")
        case .failure(let e): Log.error("SIGHUP: \(e); the previous rules stay in force")
        }
    }
    hangup.resume()

    // systemd (Type=notify, WatchdogSec): ready once serving; the watchdog is fed only while the
    // decision thread answers its liveness probe.
    let systemd = SystemdNotifier()
    var watchdog: DispatchSourceTimer?
    if systemd.isActive {
        systemd.notify("READY=1")
        let timer = DispatchSource.makeTimerSource(queue: .global(qos: .userInitiated))
        timer.schedule(deadline: .now() + 1, repeating: 1.0)
        timer.setEventHandler {
            if runtime.decisionThreadAnswered() {
                systemd.notify("WATCHDOG=1")
            } else {
                Log.error("decision thread did not answer its liveness probe; not feeding the watchdog")
            }
        }
        timer.resume()
        watchdog = timer
    }

    if let script {
        let simulatedReaders = simulatedReaders
        let exitAfterScript = exitAfterScript
        Thread {
            for step in script.steps {
                if step.delayMillis > 0 { usleep(UInt32(min(step.delayMillis, 4_000_000)) * 1000) }
                guard step.reader < simulatedReaders.count else {
                    Log.warning(
                        "tap script: reader \(step.reader) does not exist (readers.count is \(simulatedReaders.count))")
                    continue
                }
                simulatedReaders[step.reader].present(step.card)
            }
            if exitAfterScript {
                // Let the last taps through the decision loop before stopping.
                while simulatedReaders.contains(where: { $0.backlog > 0 }) { usleep(10_000) }
                if stopReason.withLock({ r in
                    r == nil
                        ? {
                            r = "end of tap script"; return true
                        }() : false
                }) {
                    stopSignal.signal()
                }
            }
        }.start()
    }

    // The signal sources and the instance lock must outlive the wait: `_ = signalSources` after
    // it kept nothing alive in an optimised build, where the array was released at once and the
    // release daemon then ignored SIGTERM (the debug build, which the subprocess tests ran, kept it).
    withExtendedLifetime((signalSources, hangup, instanceLock)) {
        stopSignal.wait()
        // Stop (SIGTERM from systemd, Ctrl-C on a bench): tell systemd at once (sd_notify(3):
        // STOPPING=1 says the service is beginning its shutdown), stop taking control requests,
        // drain the taps in flight (decided and journalled), make one last upload within a
        // bounded time, write the metrics one last time, exit 0.
        Log.info("gate \(config.gateID) stopping (\(stopReason.withLock { $0 } ?? "stop"))")
        systemd.notify("STOPPING=1")
        watchdog?.cancel()
        metricsTimer?.cancel()
        control?.stop()
        let uploaded = runtime.stop(uploadWithin: .seconds(5))
        barrier.stop()
        modbusIO?.stop()
        if let metricsFile = config.metricsFile {
            do { try GateMetrics.write(runtime, clock: clock, board: modbusIO, to: metricsFile) } catch {
                Log.warning("metrics file \(metricsFile): \(error)")
            }
        }
        let c = runtime.currentCounters
        Log.info(
            "gate \(config.gateID) stopped: \(c.taps) taps, \(c.rejected) rejected, journal last seq \(journal.lastSequence), acknowledged \(journal.acknowledged)\(uploaded ? "" : " (last upload abandoned)")"
        )
        for s in signalSources { s.cancel() }
        hangup.cancel()
    }
    return 0
}

exit(runDaemon())
