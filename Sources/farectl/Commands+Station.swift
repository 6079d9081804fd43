import FaregateCore
import FaregateRuntime
import FaregateSM2
import FaregateSQLite
import FaregateSimulation
import FaregateSodium
import FaregateStationSimulation
import Foundation

/// Parses `unplug:GATE:FROM-TO` or `central-down:FROM-TO` (minutes after 07:00; gates counted
/// from 1, entry gates first).
func parseFault(_ text: String) throws(CLIError) -> StationSimulation.Fault {
    let parts = text.split(separator: ":")
    func window(_ w: Substring) throws(CLIError) -> (Double, Double) {
        let r = w.split(separator: "-")
        guard r.count == 2, let a = Double(r[0]), let b = Double(r[1]), a >= 0, b > a else {
            throw CLIError("fault window '\(w)' must be FROM-TO minutes, e.g. 50-70")
        }
        return (a * 60, b * 60)
    }
    switch parts.first {
    case "unplug" where parts.count == 3:
        guard let gate = Int(parts[1]), gate >= 1 else {
            throw CLIError("unplug:GATE:FROM-TO needs a gate number from 1")
        }
        let (a, b) = try window(parts[2])
        return .readerUnplugged(gate: gate - 1, from: a, to: b)
    case "central-down" where parts.count == 2:
        let (a, b) = try window(parts[1])
        return .centralDown(from: a, to: b)
    default:
        throw CLIError("fault '\(text)' must be unplug:GATE:FROM-TO or central-down:FROM-TO")
    }
}

let stationCommands: [Command] = [
    Command(
        ["simulate", "station"],
        usage:
            "simulate station [--entry-gates N] [--exit-gates N] [--riders N] [--seed S] [--central FILE | --demo-cards N] [--report FILE] [--fault F]... [--no-faults] [--journal-dir DIR] [--policies DIR [--era E] [--station S] [--line L]] [--no-fsync] [--tailgaters PM] [--children PM] [--reverse PM] [--step-back PM] [--ride-code-share F] [--json]",
        "a station at the morning peak on real gates; writes an HTML report"
    ) { args in
        let json = args.flag("--json")
        let noFsync = args.flag("--no-fsync")
        let noFaults = args.flag("--no-faults")
        var options = StationSimulation.Options(journalRoot: "")
        options.entryGates = try args.int("--entry-gates", default: 10, in: 1...64)
        options.exitGates = try args.int("--exit-gates", default: 10, in: 1...64)
        options.riders = try args.int("--riders", default: 50_000, in: 1...5_000_000)
        options.seed = UInt64(try args.int("--seed", default: 1))
        // Passage behaviour, per mille of riders let through (reverse: per mille of exit taps).
        options.tailgateChance = Double(try args.int("--tailgaters", default: 4, in: 0...1000)) / 1000
        options.childChance = Double(try args.int("--children", default: 20, in: 0...1000)) / 1000
        options.reverseChance = Double(try args.int("--reverse", default: 1, in: 0...1000)) / 1000
        options.stepBackChance = Double(try args.int("--step-back", default: 2, in: 0...1000)) / 1000
        guard options.tailgateChance + options.childChance + options.stepBackChance <= 1 else {
            throw CLIError("--tailgaters, --children and --step-back add up to more than 1000 per mille")
        }
        // Riders showing a ride code instead of a card (issue 17.7): 0.6 by default on the demo
        // store; with --central only when asked (the accounts are then added to that store).
        let shareText = try args.value("--ride-code-share")
        var rideCodeShare = 0.6
        if let shareText {
            guard let v = Double(shareText), v >= 0, v <= 1 else {
                throw CLIError("--ride-code-share takes a fraction from 0 to 1, not '\(shareText)'")
            }
            rideCodeShare = v
        }
        let central = try args.value("--central")
        if central != nil && shareText == nil { rideCodeShare = 0 }
        let demoCards = try args.int("--demo-cards", default: 100_000, in: 1...50_000_000)
        let reportPath = try args.value("--report") ?? "station-report.html"
        let journalDir = try args.value("--journal-dir")
        var faults: [StationSimulation.Fault] = []
        while let f = try args.value("--fault") { faults.append(try parseFault(f)) }
        options.mix = try loadMix(try args.value("--mix"))
        let engine = try loadEngine(
            policies: try args.value("--policies"), era: try args.value("--era"), station: try args.value("--station"),
            line: try args.value("--line"))
        try args.finish()
        if faults.isEmpty && !noFaults {
            // By default the rush hour has trouble: a reader dies for 20 minutes at 07:50 and
            // the central store is unreachable from 08:00 to 08:30.
            faults = [
                .readerUnplugged(gate: min(2, options.entryGates - 1), from: 50 * 60, to: 70 * 60),
                .centralDown(from: 60 * 60, to: 90 * 60),
            ]
        }
        options.faults = faults
        options.engine = engine
        options.fsync = !noFsync

        let workDir = NSTemporaryDirectory() + "faregate-station-\(getpid())"
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: workDir) }
        options.journalRoot = journalDir ?? workDir + "/journals"
        let centralPath: String
        if let central {
            centralPath = central
            options.populationSize = max(1, try SQLiteCentralStore(path: central).stats().cards)
        } else {
            centralPath = workDir + "/central.sqlite"
            if !json { warn("simulate station: creating a demo central store with \(demoCards) cards") }
            try createDemoStore(at: centralPath, cards: demoCards, seed: 1, mix: options.mix)
            options.populationSize = demoCards
        }
        if rideCodeShare > 0 {
            var rc = try simulatedRideCodeIssuers()
            rc.share = rideCodeShare
            try SQLiteCentralStore(path: centralPath).insertCards(
                rc.centralRecords(), wallMillis: Int64(Date().timeIntervalSince1970 * 1000))
            options.rideCodes = rc
        }
        let simulation = StationSimulation(options: options) { () throws(CentralStoreError) -> any CentralStore in
            try SQLiteCentralStore(path: centralPath)
        }
        let isTTY = isatty(2) != 0
        let report = try simulation.run { line in
            if !json {
                FileHandle.standardError.write(Data(((isTTY ? "\r\u{1B}[K" : "") + line + (isTTY ? "" : "\n")).utf8))
            }
        }
        if !json && isTTY { FileHandle.standardError.write(Data("\n".utf8)) }
        try Data(report.html.utf8).write(to: URL(fileURLWithPath: reportPath))
        if json {
            var object = report.jsonObject
            object["report"] = reportPath
            print(
                String(
                    decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
            )
        } else {
            print(report.text + "  report: \(reportPath)")
        }
        return report.totalsAgree && (report.rideCodes?.allAsExpected ?? true) ? 0 : 1
    }
]

/// The station's simulated ride-code issuers, with fresh keys through the real adapters: Beijing's
/// transit app on Ed25519, Alipay on SM2, and Shanghai's metro app (cleared between cities) with
/// an SM2 certificate and an Ed25519 phone key; the gates verify with the same adapters.
func simulatedRideCodeIssuers() throws -> StationRideCodes {
    func key(_ a: RideCodeAlgorithm) throws -> ([UInt8], SimulatedRideCodeIssuer.Sign) {
        if a == .ed25519 {
            let k = try Ed25519KeyPair()
            return (k.publicKey, { k.signature(of: $0) })
        }
        let k = try SM2KeyPair()
        // An SM2 signing failure is libcrypto failing: the code then fails to verify and is counted.
        return (k.publicKey, { (try? k.signature(of: $0)) ?? [] })
    }
    let plan: [(RideCodeIssuer, RideCodeAlgorithm, RideCodeAlgorithm)] = [
        (.transitApp, .ed25519, .ed25519), (.alipay, .sm2, .sm2), (.shanghai, .sm2, .ed25519),
    ]
    let issuers = try plan.map { issuer, certAlg, phoneAlg in
        let (pub, sign) = try key(certAlg)
        let (phonePub, phoneSign) = try key(phoneAlg)
        return SimulatedRideCodeIssuer(
            key: RideCodeIssuerKey(
                issuer: issuer, keyID: 1, algorithm: certAlg, publicKey: pub, validFrom: 0, validUntil: .max),
            sign: sign, phoneAlgorithm: phoneAlg, phonePublicKey: phonePub, phoneSign: phoneSign)
    }
    return StationRideCodes(
        issuers: issuers,
        verifier: RideCodeVerifier(
            signatures: RideCodeSignatureSuite(ed25519: Ed25519Verifier.verify, sm2: SM2.verify),
            digest: SodiumSHA256()))
}
