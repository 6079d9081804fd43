import FaregateCore
import FaregateQREncode
import FaregateZBar
import Foundation

/// `farectl ride-code …`: bench tools for ride code v1 (RIDECODE.md): issuer keys, account
/// certificates, codes shown as QR symbols, codes read from images, and offline verification.
let rideCodeCommands: [Command] = [
    Command(
        ["ride-code", "issuer-keygen"],
        usage:
            "ride-code issuer-keygen --alg ed25519|sm2 --issuer N --key-id K --out DIR [--valid-from UNIX_SECONDS] [--valid-until UNIX_SECONDS]",
        "make an issuer key pair: DIR/issuer-N-key-K.secret.json (0600) and its public entry in the issuer-keys format"
    ) { args in try rideCodeIssuerKeygen(&args) },
    Command(
        ["ride-code", "issue"],
        usage:
            "ride-code issue --issuer-secret FILE --account N [--user-alg ed25519|sm2] [--valid-from UNIX_SECONDS] [--valid-until UNIX_SECONDS] --out FILE [--json]",
        "certify a new phone key for an account: writes the phone-side file (certificate, phone key, counter; 0600)"
    ) { args in try rideCodeIssue(&args) },
    Command(
        ["ride-code", "show"],
        usage:
            "ride-code show --phone FILE [--at UNIX_SECONDS] [--counter N] [--offline] [--png FILE] [--pbm FILE] [--scale S] [--light-terminal] [--json]",
        "make the phone's next code and show it as a QR symbol on the terminal (and as PNG / PBM images)"
    ) { args in try rideCodeShow(&args) },
    Command(
        ["ride-code", "decode"], usage: "ride-code decode --image FILE.pbm|FILE.pgm [--json]",
        "read the QR symbols of a PBM or PGM image (libzbar) and print their texts"
    ) { args in try rideCodeDecode(&args) },
    Command(
        ["ride-code", "verify"], usage: "ride-code verify TEXT --issuer-keys FILE [--at UNIX_SECONDS] [--json]",
        "check a ride code as a gate does (checks 1, 3–7; no table, no policy): exit 0 accepted, 1 refused"
    ) { args in try rideCodeVerify(&args) },
]

func algorithmOption(_ args: inout Arguments, _ name: String) throws -> RideCodeAlgorithm? {
    guard let text = try args.value(name) else { return nil }
    guard let a = RideCodeAlgorithm(name: text) else { throw CLIError("\(name) must be ed25519 or sm2, not '\(text)'") }
    return a
}

func rideCodeIssuerKeygen(_ args: inout Arguments) throws -> Int32 {
    _ = args.flag("--json")  // the output is JSON already: the issuer-keys file format
    guard let alg = try algorithmOption(&args, "--alg") else { throw CLIError("--alg ed25519|sm2 is required") }
    guard let issuerText = try args.value("--issuer") else { throw CLIError("--issuer N is required") }
    guard let n = UInt8(issuerText), let issuer = RideCodeIssuer(rawValue: n) else {
        throw CLIError(
            "--issuer must be an issuer number of RIDECODE.md ("
                + RideCodeIssuer.allCases.map { String($0.rawValue) }.joined(separator: ", ") + "), not '\(issuerText)'"
        )
    }
    guard let keyText = try args.value("--key-id"), let keyID = UInt16(keyText) else {
        throw CLIError("--key-id K (a whole number 0…65535) is required")
    }
    guard let dir = try args.value("--out") else { throw CLIError("--out DIR is required") }
    let now = nowSeconds()
    let from = try unixSeconds(&args, "--valid-from", default: now)
    let until = try unixSeconds(&args, "--valid-until", default: min(now + 2 * 365 * 86_400, Int64(UInt32.max)))
    try args.finish()
    guard from <= until else { throw CLIError("--valid-until must not be before --valid-from") }
    let key = try RideCodeSigningKey.generate(alg)
    let base = "\(dir)/issuer-\(issuer.rawValue)-key-\(keyID)"
    let secret = IssuerSecretFile(
        issuer: issuer.rawValue, keyID: keyID, alg: Named(alg), secretKey: Hex.lowercase(key.secretKey))
    try writeSecretFile(base + ".secret.json", try jsonBytes(secret))
    let entry = RideCodeIssuerKey(
        issuer: issuer, keyID: keyID, algorithm: alg, publicKey: key.publicKey, validFrom: UInt32(from),
        validUntil: UInt32(until))
    let list = try jsonBytes([entry])
    try Data(list).write(to: URL(fileURLWithPath: base + ".public.json"), options: .withoutOverwriting)
    print(String(decoding: list, as: UTF8.self), terminator: "")
    warn("wrote \(base).secret.json (keep it secret) and \(base).public.json (the gate's issuer-keys entry)")
    return 0
}

func rideCodeIssue(_ args: inout Arguments) throws -> Int32 {
    let json = args.flag("--json")
    guard let secretPath = try args.value("--issuer-secret") else { throw CLIError("--issuer-secret FILE is required") }
    guard let accountText = try args.value("--account") else { throw CLIError("--account N is required") }
    guard let account = UInt64(accountText), account < 1 << CardKey.rideCodeAccountBits else {
        throw CLIError("--account must be a whole number below 2^52, not '\(accountText)'")
    }
    let userAlg = try algorithmOption(&args, "--user-alg")
    let now = nowSeconds()
    let from = try unixSeconds(&args, "--valid-from", default: now)
    let until = try unixSeconds(&args, "--valid-until", default: min(now + 30 * 86_400, Int64(UInt32.max)))
    guard let out = try args.value("--out") else { throw CLIError("--out FILE is required") }
    try args.finish()
    guard from <= until else { throw CLIError("--valid-until must not be before --valid-from") }
    let secret = try readStrict(IssuerSecretFile.self, secretPath)
    let issuerKey = try RideCodeSigningKey(secret.alg.value, secret: try hexField(secret.secretKey, "secret_key"))
    let phone = try RideCodeSigningKey.generate(userAlg ?? secret.alg.value)
    let certificate = try RideCodeCertificate(
        certificateAlgorithm: secret.alg.value, issuerNumber: secret.issuer, issuerKeyID: secret.keyID,
        account: account, validFrom: UInt32(from), validUntil: UInt32(until), userAlgorithm: phone.algorithm,
        userKey: phone.publicKey
    ).signed(by: issuerKey.sign)
    let file = PhoneFile(
        certificate: Hex.lowercase(certificate.bytes), userAlg: Named(phone.algorithm),
        userSecretKey: Hex.lowercase(phone.secretKey), counter: 0)
    try writeSecretFile(out, try jsonBytes(file, pretty: true))
    struct Out: Encodable {
        var phoneFile: String
        var issuer: UInt8
        var account: UInt64
        var validFrom: Int64
        var validUntil: Int64
        var userAlg: String
    }
    try report(
        Out(
            phoneFile: out, issuer: secret.issuer, account: account, validFrom: from, validUntil: until,
            userAlg: phone.algorithm.name), json: json
    ) {
        "wrote \(out): account \(account) of issuer \(secret.issuer), \(phone.algorithm.name) phone key, valid \(from)…\(until)"
    }
    return 0
}

/// The certificate of a phone file, parsed as the gate parses codes (through a dummy dynamic part).
func certificate(ofPhoneFile file: PhoneFile) throws -> RideCodeCertificate {
    let bytes = try hexField(file.certificate, "certificate")
    let dummy = [UInt8](repeating: 0, count: RideCode.dynamicPartLength)
    do { return try RideCode(bytes: bytes + dummy).certificate } catch {
        throw CLIError.failed("the phone file's certificate is not ride code v1: \(error)")
    }
}

func rideCodeShow(_ args: inout Arguments) throws -> Int32 {
    let json = args.flag("--json")
    let offline = args.flag("--offline")
    let lightTerminal = args.flag("--light-terminal")
    guard let path = try args.value("--phone") else { throw CLIError("--phone FILE is required") }
    let at = try unixSeconds(&args, "--at", default: nowSeconds())
    let counterOption = try args.value("--counter")
    let png = try args.value("--png")
    let pbm = try args.value("--pbm")
    let scale = try args.int("--scale", default: 8, in: 1...64)
    try args.finish()
    var file = try readStrict(PhoneFile.self, path)
    let cert = try certificate(ofPhoneFile: file)
    let phone = try RideCodeSigningKey(file.userAlg.value, secret: try hexField(file.userSecretKey, "user_secret_key"))
    guard phone.publicKey == cert.userKey else { throw CLIError.failed("the phone key does not match its certificate") }
    let counter: UInt32
    if let counterOption {
        guard let c = UInt32(counterOption) else { throw CLIError("--counter must be 0…\(UInt32.max)") }
        counter = c
    } else {
        guard file.counter < UInt32.max else { throw CLIError.failed("the phone's counter is exhausted") }
        counter = file.counter + 1
    }
    let code = try RideCode(
        certificate: cert, generatedAt: UInt32(at), counter: counter,
        flags: offline ? RideCodeDynamicPart.offlineFlag : 0,
        signedBy: phone.sign)
    // The phone keeps its highest counter, as a phone does (an explicit lower --counter is a bench
    // test of replays and leaves it).
    if counter > file.counter {
        file.counter = counter
        try replaceSecretFile(path, try jsonBytes(file, pretty: true))
    }
    let symbol: QRSymbol
    do { symbol = try QREncoder.encode(code.text) } catch { throw CLIError.failed("\(error)") }
    if let png { try Data(symbol.png(scale: scale)).write(to: URL(fileURLWithPath: png)) }
    if let pbm { try Data(symbol.pbm(scale: scale)).write(to: URL(fileURLWithPath: pbm)) }
    struct Out: Encodable {
        var text: String
        var counter: UInt32
        var generatedAt: Int64
        var qrVersion: Int
    }
    try report(Out(text: code.text, counter: counter, generatedAt: at, qrVersion: symbol.version), json: json) {
        symbol.terminalText(lightOnDark: !lightTerminal) + "\n" + code.text
    }
    return 0
}

func rideCodeDecode(_ args: inout Arguments) throws -> Int32 {
    let json = args.flag("--json")
    guard let path = try args.value("--image") else { throw CLIError("--image FILE is required") }
    try args.finish()
    guard let data = FileManager.default.contents(atPath: path) else { throw CLIError.failed("cannot read \(path)") }
    let texts: [String]
    do {
        texts = try ZBarScanner.qrTexts(in: try NetpbmImage.decode(Array(data)))
    } catch let e as NetpbmImage.FormatError {
        throw CLIError.failed("\(path): \(e) (convert other images first: convert in.png out.pgm)")
    }
    struct Out: Encodable { var texts: [String] }
    try report(Out(texts: texts), json: json) { texts.isEmpty ? "no QR symbol found" : texts.joined(separator: "\n") }
    return texts.isEmpty ? 1 : 0
}

func rideCodeVerify(_ args: inout Arguments) throws -> Int32 {
    let json = args.flag("--json")
    guard let keysPath = try args.value("--issuer-keys") else { throw CLIError("--issuer-keys FILE is required") }
    let at = try unixSeconds(&args, "--at", default: nowSeconds())
    guard let text = args.positional() else { throw CLIError("give the code's TEXT (RC1:…)") }
    try args.finish()
    guard let data = FileManager.default.contents(atPath: keysPath) else {
        throw CLIError.failed("cannot read \(keysPath)")
    }
    let keys: RideCodeIssuerKeyList
    do { keys = try RideCodeIssuerKeyList.decode(json: Array(data)) } catch {
        throw CLIError.failed("\(keysPath): \(error)")
    }
    // RIDECODE.md's bench verification: exactly these keys in the JSON.
    struct Accepted: Encodable {
        var accepted = true
        var issuer: UInt8
        var account: UInt64
        var counter: UInt32
    }
    struct Refused: Encodable {
        var accepted = false
        var reason: String
    }
    switch rideCodeVerifier.verifySigned(text: text, keys: keys, now: at) {
    case .accepted(let e):
        try report(Accepted(issuer: e.issuerNumber, account: e.account, counter: e.counter), json: json) {
            "accepted: issuer \(e.issuerNumber) (\(e.issuer?.name ?? "unnamed")), account \(e.account), counter \(e.counter)"
        }
        return 0
    case .refused(let r):
        try report(Refused(reason: r.reason.code), json: json) { "refused: \(r.reason.code) (\(r.detail))" }
        return 1
    }
}
