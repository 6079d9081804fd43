import FaregateCore
import FaregateRuntime
import FaregateSimulation
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// faregate-torture: the crash-and-fault campaign of issue 13 (run through scripts/torture, which
// builds the release binaries, starts PostgreSQL and mounts the journal tmpfs). Two release
// `faregated`s tap cards as fast as they answer against a real central; each trial kills one of
// them with SIGKILL at a seeded moment of some work, or injects a fault, and restarts it. Then a
// clean stop (SIGTERM) and a verification of the gates' files and central's rows. One line of
// figures on stdout; exit 1 on any loss, duplicate, reuse or unbacked open.
//
// The seed fixes the plan (which gate, which fault, the delays, the bytes cut); the interleaving
// with the daemons' own threads is real time, so two runs of one seed agree on the plan, not
// necessarily on every figure.

struct Options {
    var trials = 300
    var seed: UInt64 = 1
    var central = "sqlite"
    var work = ""
    var journalRoot = ""
    var bin = ""
    var pgControl = ""
    var pgConninfo = ""
    var verbose = false
    /// The trial kinds the plan draws from (default: all).
    var kinds = TrialKind.allCases

    static func parse(_ args: [String]) throws -> Options {
        var o = Options()
        var i = 1
        func value() throws -> String {
            i += 1
            guard i < args.count else { throw TortureError("\(args[i - 1]) needs a value") }
            return args[i]
        }
        while i < args.count {
            switch args[i] {
            case "--trials": o.trials = Int(try value()) ?? -1
            case "--seed":
                guard let s = UInt64(try value()) else { throw TortureError("--seed takes a whole number") }
                o.seed = s
            case "--central": o.central = try value()
            case "--work": o.work = try value()
            case "--journal-root": o.journalRoot = try value()
            case "--bin": o.bin = try value()
            case "--pg-control": o.pgControl = try value()
            case "--pg": o.pgConninfo = try value()
            case "--kinds":
                let names = try value().split(separator: ",").map(String.init)
                o.kinds = try names.map { n in
                    guard let k = TrialKind(rawValue: n) else {
                        throw TortureError(
                            "--kinds takes a list of \(TrialKind.allCases.map(\.rawValue).joined(separator: ",")), not '\(n)'"
                        )
                    }
                    return k
                }
            case "-v", "--verbose": o.verbose = true
            default: throw TortureError("unknown argument \(args[i])")
            }
            i += 1
        }
        guard o.trials >= 0 else { throw TortureError("--trials takes a whole number") }
        guard !o.work.isEmpty, !o.journalRoot.isEmpty, !o.bin.isEmpty else {
            throw TortureError("--work, --journal-root and --bin are required (scripts/torture passes them)")
        }
        guard ["sqlite", "postgres"].contains(o.central) else {
            throw TortureError("--central takes sqlite or postgres")
        }
        if o.central == "postgres" && (o.pgConninfo.isEmpty || o.pgControl.isEmpty) {
            throw TortureError("--central postgres needs --pg CONNINFO and --pg-control SCRIPT")
        }
        return o
    }
}

/// What the trials did, by kind.
enum TrialKind: String, CaseIterable {
    case kill  // kill -9 during taps
    case killReload = "kill-reload"  // central changed, kill while the gates reload their table
    case killUpload = "kill-upload"  // kill during a sync-now's upload
    case killRotation = "kill-rotation"  // kill as journal.log passes its rotation size
    case tail  // kill, then the journal's tail is cut (lost writes)
    case damage  // kill, then one line in the journal is damaged
    case outage  // central locked (SQLite) or stopped (PostgreSQL) for a while; maybe a kill in it
    case diskFull = "disk-full"  // the journal disk full for a while; maybe a kill in it

    /// Weights of the plan (per 100 trials).
    var weight: UInt64 {
        switch self {
        case .kill: 22
        case .killReload: 14
        case .killUpload: 14
        case .killRotation: 4
        case .tail: 12
        case .damage: 10
        case .outage: 12
        case .diskFull: 12
        }
    }

    static func pick(_ rng: inout SplitMix64, from kinds: [TrialKind]) -> TrialKind {
        var r = rng.next() % kinds.reduce(0) { $0 + $1.weight }
        for k in kinds {
            if r < k.weight { return k }
            r -= k.weight
        }
        return .kill
    }
}

final class Campaign {
    let o: Options
    let central: Central
    var rng: SplitMix64
    var gates: [TortureGate] = []
    var kills = 0
    var faults: [TrialKind: Int] = [:]
    var notes: [String] = []
    var startFailures = 0
    let population = 20_000
    let populationSeed: UInt64 = 13
    /// Cards bound to someone (central changes the health of these only).
    lazy var bound: [CardKey] = DemoPopulation.generate(count: population, seed: populationSeed)
        .filter { $0.identity != nil }.map(\.key)

    init(_ o: Options) {
        self.o = o
        central =
            o.central == "sqlite"
            ? .sqlite(path: o.work + "/central.sqlite") : .postgres(conninfo: o.pgConninfo, control: o.pgControl)
        rng = SplitMix64(seed: o.seed)
    }

    func log(_ s: String) { if o.verbose { FileHandle.standardError.write(Data("torture: \(s)\n".utf8)) } }

    func millis(_ range: ClosedRange<UInt64>) -> UInt32 {
        UInt32(range.lowerBound + rng.next() % (range.upperBound - range.lowerBound + 1)) * 1000
    }

    func run() throws -> Int32 {
        // A driver that fails leaves no daemon behind.
        defer { for g in gates where g.pid != nil { g.kill9() } }
        try central.create(cards: population, seed: populationSeed)
        let daemon = URL(fileURLWithPath: o.bin + "/faregated")
        for i in 1...2 {
            let g = try TortureGate(
                id: "TORTURE-\(i)", workDir: o.work, journalDir: o.journalRoot + "/gate-\(i)", central: central,
                daemon: daemon, population: population, populationSeed: populationSeed)
            try g.start()
            g.startThreads(seed: o.seed &+ UInt64(i) &* 0x9E37_79B9)
            gates.append(g)
        }
        for t in 0..<o.trials {
            let kind = TrialKind.pick(&rng, from: o.kinds)
            let gate = gates[Int(rng.next() % UInt64(gates.count))]
            log("trial \(t): \(kind.rawValue) on \(gate.id)")
            try trial(kind, gate)
            faults[kind, default: 0] += 1
        }
        return try finish()
    }

    func trial(_ kind: TrialKind, _ gate: TortureGate) throws {
        switch kind {
        case .kill:
            usleep(millis(5...200))
            killAndRestart(gate)
        case .killReload:
            var keys: [CardKey] = []
            for _ in 0..<(1 + rng.next() % 20) { keys.append(bound[Int(rng.next() % UInt64(bound.count))]) }
            let health: [HealthStatus] = [.green, .yellow, .red]
            try central.change(keys, to: health[Int(rng.next() % 3)], wallMillis: Int64(kills + 2))
            usleep(millis(0...120))
            killAndRestart(gate)
        case .killUpload:
            usleep(millis(20...150))
            let t = Thread { gate.syncNow() }
            t.start()
            usleep(millis(0...8))
            killAndRestart(gate)
        case .killRotation:
            // journal.log rotates at the first append after it has passed 1 MiB with every entry
            // acknowledged. Tap on until it has passed, let the gate catch up (taps paused), then
            // tap again and kill at a moment around that append.
            let deadline = Date().addingTimeInterval(60)
            while gate.journalSize < (1 << 20) && Date() < deadline { usleep(5000) }
            gate.tapping.set(false)
            usleep(20_000)
            // A gate whose uploads make no progress for 2 s never rotates: kill it anyway.
            var last = (acked: UInt64.max, at: Date())
            while let s = gate.status(), s.journalAcknowledged < s.journalLastSequence,
                Date().timeIntervalSince(last.at) < 2
            {
                if s.journalAcknowledged != last.acked { last = (s.journalAcknowledged, Date()) }
                usleep(5000)
            }
            gate.tapping.set(true)
            usleep(millis(0...20))
            killAndRestart(gate)
        case .tail:
            usleep(millis(5...200))
            try killAndRestart(gate) { try self.cutTail(gate) }
        case .damage:
            usleep(millis(5...200))
            try killAndRestart(gate) { try self.damageLine(gate) }
        case .outage:
            usleep(millis(5...100))
            let outage = try central.beginOutage()
            log("central outage begun")
            usleep(millis(100...1500))
            if rng.next() % 2 == 0 {
                killAndRestart(gate)
                log("\(gate.id) killed and restarted during the outage")
                usleep(millis(50...500))
            }
            outage.end()
            log("central outage ended")
        case .diskFull:
            usleep(millis(5...100))
            for g in gates { g.following.set(false) }
            let filler = o.journalRoot + "/filler"
            fill(filler)
            usleep(millis(50...800))
            if rng.next() % 2 == 0 { killAndRestart(gate, allowStartFailure: true) }
            unlink(filler)
            if gate.pid == nil { restart(gate) }
            for g in gates { g.following.set(true) }
        }
    }

    func killAndRestart(_ gate: TortureGate, allowStartFailure: Bool = false) {
        killAndRestart(gate, allowStartFailure: allowStartFailure) {}
    }

    func killAndRestart(_ gate: TortureGate, allowStartFailure: Bool = false, while down: () throws -> Void) rethrows {
        gate.kill9()
        kills += 1
        try down()
        if allowStartFailure {
            // On a full disk the gate may refuse to start (no writable journal): it is started
            // again once the disk has room.
            do { try gate.start() } catch { notes.append("\(gate.id) did not start on a full disk: \(error)") }
        } else {
            restart(gate)
        }
    }

    func restart(_ gate: TortureGate) {
        do { try gate.start() } catch {
            startFailures += 1
            notes.append("\(error)")
            FileHandle.standardError.write(Data("torture: \(error)\n".utf8))
        }
    }

    /// Cuts 1 byte to 5 lines' worth off the end of journal.log (writes the disk lost). Lines
    /// central did not hold are destroyed by the fault itself (no gate could bring them back).
    func cutTail(_ gate: TortureGate) throws {
        let path = gate.journalDir + "/journal.log"
        guard let bytes = readBytes(path), !bytes.isEmpty else { return }
        let lines = Ledger.lines(bytes)
        let span = lines.suffix(5).first.map { bytes.count - $0.range.lowerBound } ?? bytes.count
        let cut = 1 + Int(rng.next() % UInt64(max(span, 1)))
        let keep = bytes.count - cut
        let held = central.holds(gate: gate.id)
        // A line whose newline is cut is torn too (the gate cuts it): `>=`, not `>`.
        for l in lines where l.range.upperBound >= keep {
            if let s = l.sequence, held[s] != l.text { gate.ledger.noteDestroyed(l.text) }
        }
        guard truncate(path, off_t(keep)) == 0 else { throw TortureError("cannot cut \(path)") }
        log("\(gate.id): cut \(cut) bytes off journal.log")
    }

    /// Changes one byte of one line (not the last) of journal.log, near its end.
    func damageLine(_ gate: TortureGate) throws {
        let path = gate.journalDir + "/journal.log"
        guard var bytes = readBytes(path) else { return }
        let lines = Ledger.lines(bytes)
        guard lines.count >= 2 else {
            log("\(gate.id): journal.log has \(lines.count) line(s); nothing to damage")
            return
        }
        let index = lines.count - 2 - Int(rng.next() % UInt64(min(lines.count - 1, 8)))
        let line = lines[index]
        let at = line.range.lowerBound + Int(rng.next() % UInt64(line.range.count))
        bytes[at] = bytes[at] == UInt8(ascii: "7") ? UInt8(ascii: "3") : UInt8(ascii: "7")
        if let s = line.sequence, central.holds(gate: gate.id)[s] != line.text { gate.ledger.noteDestroyed(line.text) }
        guard let fd = Optional(open(path, O_WRONLY | O_CLOEXEC)), fd >= 0 else {
            throw TortureError("cannot open \(path)")
        }
        defer { close(fd) }
        var b = bytes[at]
        guard pwrite(fd, &b, 1, off_t(at)) == 1 else { throw TortureError("cannot damage \(path)") }
        log("\(gate.id): damaged line \(index + 1) of journal.log")
    }

    /// Fills the journal file system (the tmpfs) to its last byte.
    func fill(_ path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var chunk = 1 << 20
        let zeros = [UInt8](repeating: 0, count: chunk)
        while chunk > 0 {
            let n = zeros.withUnsafeBytes { write(fd, $0.baseAddress!, chunk) }
            if n <= 0 { chunk /= 2 }
        }
    }

    /// Stops the tappers, lets each gate upload everything, stops both cleanly, verifies.
    func finish() throws -> Int32 {
        for g in gates { g.tapping.set(false) }
        for g in gates where g.pid == nil { restart(g) }
        usleep(100_000)  // the taps in flight are answered
        var stalled: [String] = []
        for g in gates {
            // Done when central holds everything the gate journalled; a gate whose uploads stall
            // (no progress for 5 s) is reported and verified as it stands.
            var last = (acked: UInt64.max, at: Date())
            while true {
                guard let s = g.status() else {
                    stalled.append("\(g.id): no status")
                    break
                }
                if s.journalAcknowledged >= s.journalLastSequence { break }
                if s.journalAcknowledged != last.acked { last = (s.journalAcknowledged, Date()) }
                if Date().timeIntervalSince(last.at) > 5 {
                    stalled.append(
                        "\(g.id): uploads stalled at \(s.journalAcknowledged) of \(s.journalLastSequence) (\(s.lastSyncFailure ?? "no error"))"
                    )
                    break
                }
                g.syncNow()
                usleep(20_000)
            }
        }
        var badStops: [String] = []
        for g in gates {
            let status = g.stop()
            if status != 0 { badStops.append("\(g.id) exited \(status.map(String.init) ?? "only after kill -9")") }
            g.joinThreads()
        }
        var f = Ledger.Findings()
        var refused = 0
        var unanswered = 0
        var rotations = 0
        for g in gates {
            f.add(
                g.ledger.verify(gate: g.id, central: try central.records(gate: g.id), holes: central.holes(gate: g.id)))
            refused += g.ledger.refused
            unanswered += g.ledger.unanswered
            let log = (try? String(contentsOfFile: g.logPath, encoding: .utf8)) ?? ""
            rotations += log.components(separatedBy: "rotated at sequence").count - 1
        }
        let byKind = TrialKind.allCases.map { "\($0.rawValue)=\(faults[$0] ?? 0)" }.joined(separator: " ")
        print(
            "torture: central=\(central.name) seed=\(o.seed) trials=\(o.trials) kills=\(kills) \(byKind) "
                + "rotations=\(rotations) records=\(f.records) opens=\(f.opens) refused=\(refused) unanswered=\(unanswered) "
                + "lost=\(f.lost) duplicated=\(f.duplicated) reused=\(f.reused) phantom=\(f.phantom) "
                + "unbacked=\(f.unbacked) gaps=\(f.gaps) destroyed=\(f.destroyed) holes=\(f.holes) stalled=\(stalled.count)"
        )
        for s in stalled + badStops + notes + f.examples {
            FileHandle.standardError.write(Data("torture: \(s)\n".utf8))
        }
        return f.failures > 0 || !badStops.isEmpty || !stalled.isEmpty || startFailures > 0 || f.records == 0 ? 1 : 0
    }
}

do {
    let o = try Options.parse(CommandLine.arguments)
    signal(SIGPIPE, SIG_IGN)
    exit(try Campaign(o).run())
} catch {
    FileHandle.standardError.write(Data("faregate-torture: \(error)\n".utf8))
    exit(2)
}
