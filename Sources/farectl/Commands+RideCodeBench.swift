import FaregateCore
import Foundation

/// `farectl ride-code bench`: what checks 1 and 3–7 cost a gate per code (issue 17 part 9), for
/// each pairing of the issuer's and the phone's algorithm, through the same verifier the gate
/// and `ride-code verify` use (Base45 text → parse → both signatures → freshness).
let rideCodeBenchCommands: [Command] = [
    Command(
        ["ride-code", "bench"], usage: "ride-code bench [--codes N] [--json]",
        "time ride-code verification (text to accepted, both signatures) per algorithm pair: p50, p99, max"
    ) { args in try rideCodeBench(&args) }
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
    let count = try args.int("--codes", default: 2000, in: 10...1_000_000)
    try args.finish()
    let now = nowSeconds()
    var rows: [RideCodeBenchRow] = []
    for issuerAlg in [RideCodeAlgorithm.ed25519, .sm2] {
        for userAlg in [RideCodeAlgorithm.ed25519, .sm2] {
            let issuerKey = try RideCodeSigningKey.generate(issuerAlg)
            let keys = try RideCodeIssuerKeyList([
                RideCodeIssuerKey(
                    issuer: .transitApp, keyID: 1, algorithm: issuerAlg, publicKey: issuerKey.publicKey,
                    validFrom: UInt32(now - 86_400), validUntil: UInt32(now + 86_400))
            ])
            // Codes made before the clock starts: the bench times the gate's side only. Each code
            // has its own phone key and account, so no signature is checked twice on one input.
            var texts: [String] = []
            texts.reserveCapacity(count)
            for i in 0..<count {
                let phone = try RideCodeSigningKey.generate(userAlg)
                let cert = try RideCodeCertificate(
                    certificateAlgorithm: issuerAlg, issuerNumber: RideCodeIssuer.transitApp.rawValue, issuerKeyID: 1,
                    account: UInt64(100_000 + i), validFrom: UInt32(now - 3_600), validUntil: UInt32(now + 3_600),
                    userAlgorithm: userAlg, userKey: phone.publicKey
                ).signed(by: issuerKey.sign)
                let code = try RideCode(
                    certificate: cert, generatedAt: UInt32(now), counter: UInt32(i + 1), flags: 0,
                    signedBy: phone.sign)
                texts.append(code.text)
            }
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
