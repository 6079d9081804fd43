import FaregateCore
import Foundation

/// `farectl ride-code bench`: what checks 1 and 3–7 cost a gate per code (issue 17 part 9), for
/// each pairing of the issuer's and the phone's algorithm, through the same verifier the gate
/// and `ride-code verify` use (Base45 text → parse → both signatures → freshness).
let rideCodeBenchCommands: [Command] = [
    rideCodeEmulateCommand,
    Command(
        ["ride-code", "bench"],
        usage: "ride-code bench [--codes N] [--pty [--interval-ms MS] [--faregated PATH] [--keep]] [--json]",
        "time ride-code verification (text to accepted, both signatures) per algorithm pair: p50, p99, max; with --pty, scan received → decided through a running faregated's pty scanner"
    ) { args in try rideCodeBench(&args) },
]

private struct RideCodeBenchRow: Encodable {
    var issuerAlg: String
    var userAlg: String
    var codes: Int
    var p50Micros: Double
    var p99Micros: Double
    var maxMicros: Double
    var meanMicros: Double
}

func rideCodeBench(_ args: inout Arguments) throws -> Int32 {
    let json = args.flag("--json")
    let pty = args.flag("--pty")
    let count = try args.int("--codes", default: pty ? 300 : 2000, in: 10...1_000_000)
    if pty {
        let interval = try args.int("--interval-ms", default: 100, in: 1...10_000)
        let faregated = try args.value("--faregated") ?? siblingFaregated()
        let keep = args.flag("--keep")
        try args.finish()
        return try rideCodePTYBenchReport(
            try rideCodePTYBench(count: count, intervalMillis: interval, faregated: faregated, keepDir: keep),
            count: count, intervalMillis: interval, json: json)
    }
    try args.finish()
    let now = nowSeconds()
    var rows: [RideCodeBenchRow] = []
    for issuerAlg in [RideCodeAlgorithm.ed25519, .sm2] {
        for userAlg in [RideCodeAlgorithm.ed25519, .sm2] {
            let made = try benchCodes(issuerAlg, userAlg, count: count, now: now)
            let keys = try RideCodeIssuerKeyList(made.keys)
            let texts = made.texts
            var histogram = LatencyHistogram()
            var total: UInt64 = 0
            for text in texts {
                let start = DispatchTime.now().uptimeNanoseconds
                let verdict = rideCodeVerifier.verifySigned(text: text, keys: keys, now: now)
                let took = DispatchTime.now().uptimeNanoseconds - start
                guard case .accepted = verdict else {
                    throw CLIError.failed("a code the bench made was refused: \(verdict)")
                }
                histogram.record(took)
                total += took
            }
            rows.append(
                RideCodeBenchRow(
                    issuerAlg: issuerAlg.name, userAlg: userAlg.name, codes: count,
                    p50Micros: Double(histogram.quantile(0.5)) / 1000,
                    p99Micros: Double(histogram.quantile(0.99)) / 1000,
                    maxMicros: Double(histogram.max) / 1000, meanMicros: Double(total) / Double(count) / 1000))
        }
    }
    struct Out: Encodable {
        var cores: Int
        var rows: [RideCodeBenchRow]
    }
    let cores = ProcessInfo.processInfo.activeProcessorCount
    try report(Out(cores: cores, rows: rows), json: json) {
        "ride-code verify (checks 1, 3–7: text → accepted), \(count) codes each, \(cores) cores\n"
            + rows.map {
                "  issuer \($0.issuerAlg) / phone \($0.userAlg): p50 \(String(format: "%.1f", $0.p50Micros)) µs, "
                    + "p99 \(String(format: "%.1f", $0.p99Micros)) µs, max \(String(format: "%.1f", $0.maxMicros)) µs, "
                    + "mean \(String(format: "%.1f", $0.meanMicros)) µs"
            }.joined(separator: "\n")
    }
    return 0
}

/// `count` codes of one algorithm pair made before any clock starts: an issuer key (and its
/// issuer-keys entry), and per code its own phone key and account (`100_000 + i`), so no signature
/// is checked twice on one input; counters 1…, made at `now`.
func benchCodes(
    _ issuerAlg: RideCodeAlgorithm, _ userAlg: RideCodeAlgorithm, count: Int, now: Int64,
    issuer: RideCodeIssuer = .transitApp
) throws -> (keys: [RideCodeIssuerKey], texts: [String], accounts: [UInt64]) {
    let issuerKey = try RideCodeSigningKey.generate(issuerAlg)
    let keys = [
        RideCodeIssuerKey(
            issuer: issuer, keyID: 1, algorithm: issuerAlg, publicKey: issuerKey.publicKey,
            validFrom: UInt32(now - 86_400), validUntil: UInt32(now + 86_400))
    ]
    var texts: [String] = []
    var accounts: [UInt64] = []
    texts.reserveCapacity(count)
    for i in 0..<count {
        let phone = try RideCodeSigningKey.generate(userAlg)
        let account = UInt64(100_000 + i)
        let cert = try RideCodeCertificate(
            certificateAlgorithm: issuerAlg, issuerNumber: issuer.rawValue, issuerKeyID: 1, account: account,
            validFrom: UInt32(now - 3_600), validUntil: UInt32(now + 3_600), userAlgorithm: userAlg,
            userKey: phone.publicKey
        ).signed(by: issuerKey.sign)
        let code = try RideCode(
            certificate: cert, generatedAt: UInt32(now), counter: UInt32(i + 1), flags: 0, signedBy: phone.sign)
        texts.append(code.text)
        accounts.append(account)
    }
    return (keys, texts, accounts)
}

func rideCodePTYBenchReport(_ rows: [RideCodePTYBenchRow], count: Int, intervalMillis: Int, json: Bool) throws -> Int32
{
    struct Out: Encodable {
        var cores: Int
        var intervalMillis: Int
        var rows: [RideCodePTYBenchRow]
    }
    let cores = ProcessInfo.processInfo.activeProcessorCount
    func ms(_ micros: Double) -> String { String(format: "%.3f ms", micros / 1000) }
    try report(Out(cores: cores, intervalMillis: intervalMillis, rows: rows), json: json) {
        "ride-code scan received → decided through a running faregated's pty scanner, \(count) codes each, "
            + "one every \(intervalMillis) ms, \(cores) cores\n"
            + rows.map {
                "  issuer \($0.issuerAlg) / phone \($0.userAlg): \($0.accepted)/\($0.codes) accepted; decided p50 "
                    + "\(ms($0.decidedP50Micros)), p99 \(ms($0.decidedP99Micros)), max \(ms($0.decidedMaxMicros)) "
                    + "(verify mean \(ms($0.verifyMeanMicros)), p99 \(ms($0.verifyP99Micros)); "
                    + "queue p99 \(ms($0.queueP99Micros)); "
                    + "decision thread mean \(ms($0.decisionThreadMeanMicros))); "
                    + "metrics p99: decided \(ms($0.metricDecidedP99Micros)), commanded \(ms($0.metricCommandedP99Micros))"
            }.joined(separator: "\n")
    }
    // Every code the bench made is valid: one refused is a fault of the gate (or the bench).
    return rows.allSatisfy { $0.accepted == $0.codes } ? 0 : 1
}
