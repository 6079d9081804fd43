import FaregateCore
import FaregateSM2
import FaregateSodium
import Foundation

extension FuzzTarget {
    /// Ride-code texts as a scanner hands them over (`RideCode(textBytes:)`, check 1), then checks
    /// 3–8 with the real signature adapters against a fixed issuer-key list at a fixed time, so a
    /// mutated code reaches every check. A code that parses must encode back to the same code.
    ///
    /// The seeds (`Tests/Fuzz/corpus/ride-code/`) were made by `farectl ride-code issuer-keygen`
    /// (the keys in `RideCodeFuzzKeys.json`, copied to `corpus/issuer-keys/`), `issue` and `show --at 1767300000`, and verify.
    static let rideCode = FuzzTarget("ride-code", "RideCode(textBytes:) and RideCodeVerifier.verify") { bytes in
        guard let code = try? RideCode(textBytes: bytes) else { return }
        fuzzCheck((try? RideCode(bytes: code.bytes)) == code, "the code's bytes do not decode back to it")
        fuzzCheck((try? RideCode(text: code.text)) == code, "the code's text does not decode back to it")
        let verdict = RideCodeFuzzKeys.verifier.verify(
            text: code.text, keys: RideCodeFuzzKeys.keys, now: RideCodeFuzzKeys.now, replay: RideCodeFuzzKeys.replay)
        if case .accepted(let evidence) = verdict {
            fuzzCheck(evidence.cardKey.medium == .rideCode, "an accepted code outside the ride-code keys")
            fuzzCheck(evidence.account == code.certificate.account, "the evidence names another account")
        }
    }

    /// Issuer-key files (`RideCodeIssuerKeyList.decode(json:)`); a list that is taken encodes back
    /// to JSON that decodes to the same list.
    static let issuerKeys = FuzzTarget("issuer-keys", "RideCodeIssuerKeyList.decode of an issuer-keys file") { bytes in
        guard let list = try? RideCodeIssuerKeyList.decode(json: bytes) else { return }
        let again = (try? JSONEncoder().encode(list.keys)).flatMap {
            try? RideCodeIssuerKeyList.decode(json: [UInt8]($0))
        }
        fuzzCheck(again == list, "the issuer-key list does not round-trip")
        for k in list.keys {
            fuzzCheck(k.algorithm.isWellFormedPublicKey(k.publicKey), "a key of the wrong shape was taken")
            fuzzCheck(list.key(issuer: k.issuer.rawValue, keyID: k.keyID) == k, "a key is not found by its id")
        }
    }

    /// The replay cache (check 8): with an even first byte, the rest is a saved cache
    /// (`RideCodeReplayCache(serialized:)`) whose last 4 bytes the harness replaces with the CRC-32
    /// of the rest (so the fuzzer gets behind the checksum, where the `now - acceptedAt` overflow
    /// of `testSavedTimesAtTheEndsOfInt64DoNotTrap` was), then checked and recorded into; with an
    /// odd one, the rest is operations on an empty cache (6 bytes each: account, counter, generated_at offset,
    /// seconds forward or back, check or record). A code just recorded is refused at once; the
    /// cache saved and read back holds the same entries, floor and evictions.
    static let replayCache = FuzzTarget("replay-cache", "RideCodeReplayCache operations and saved caches") { bytes in
        guard let mode = bytes.first else { return }
        let freshness = RideCodeFreshness()
        var now: Int64 = 1_767_300_000
        var cache: RideCodeReplayCache
        if mode & 1 == 0 {
            guard let saved = try? RideCodeReplayCache(serialized: sealed(Array(bytes.dropFirst())), capacity: 64)
            else {
                return
            }
            cache = saved
            for e in saved.entries.prefix(16) {
                let code = RideCodeFuzzKeys.evidence(key: e.key, counter: e.counter, generatedAt: e.generatedAt)
                _ = cache.check(code, now: now, freshness: freshness)
                cache.record(code, now: now, freshness: freshness)
            }
        } else {
            cache = RideCodeReplayCache(capacity: 64)
            var i = 1
            while i + 6 <= bytes.count {
                let op = bytes[i..<i + 6].map { $0 }
                i += 6
                now += Int64(Int8(bitPattern: op[4])) * 7
                let account = UInt64(op[0]) | UInt64(op[1]) << 8
                let code = RideCodeFuzzKeys.evidence(
                    key: RideCodeEvidence.key(issuer: 1, account: account), counter: UInt32(op[2]),
                    generatedAt: UInt32(truncatingIfNeeded: now) &- UInt32(op[3]))
                if op[5] & 1 == 0 {
                    _ = cache.check(code, now: now, freshness: freshness)
                } else {
                    cache.record(code, now: now, freshness: freshness)
                    fuzzCheck(
                        cache.check(code, now: now, freshness: freshness) != nil, "a code just recorded is taken again")
                }
            }
        }
        guard let back = try? RideCodeReplayCache(serialized: cache.serialized(), capacity: cache.capacity) else {
            fuzzCheck(false, "a saved cache cannot be read back")
            return
        }
        fuzzCheck(Set(back.entries) == Set(cache.entries), "the saved cache reads back other entries")
        fuzzCheck(back.floor == cache.floor && back.evictions == cache.evictions, "the saved floor does not read back")
    }
}

/// `bytes` with its last 4 bytes replaced by the big-endian CRC-32 of the rest (a saved replay
/// cache's seal).
func sealed(_ bytes: [UInt8]) -> [UInt8] {
    guard bytes.count >= 4 else { return bytes }
    let body = bytes.dropLast(4)
    return Array(body) + withUnsafeBytes(of: CRC32.checksum(body).bigEndian, Array.init)
}

/// The fixed world the ride-code targets verify in: the two issuer keys the seeds were made with
/// (Ed25519 issuer 1 key 7, SM2 issuer 2 key 3), the time the seeds were shown at, an empty cache.
/// Public for the replay tests, which check that the seeds verify.
public enum RideCodeFuzzKeys {
    public static let now: Int64 = 1_767_300_020
    static let json = """
        [{"alg": "ed25519", "issuer": 1, "key_id": 7,
          "public_key": "f1da41e612576c0ced33fa07f22d8cd6c81beaa947953b94ee58f2c5bd81dd14",
          "revoked": false, "valid_from": 1767000000, "valid_until": 1830000000},
         {"alg": "sm2", "issuer": 2, "key_id": 3,
          "public_key": "043a25258d87b8a872a9d8f81edf11a0978b150ec17d8e7f51b34fae6b0c13193b998ab8cca89d1fce90f0912c0e7f075497447baac2bb80b2d8ef13ca1355c7a6",
          "revoked": false, "valid_from": 1767000000, "valid_until": 1830000000}]
        """
    public static let keys: RideCodeIssuerKeyList = {
        do { return try RideCodeIssuerKeyList.decode(json: Array(json.utf8)) } catch {
            fatalError("the fuzz target's issuer keys: \(error)")
        }
    }()
    public static let verifier = RideCodeVerifier(
        signatures: RideCodeSignatureSuite(ed25519: Ed25519Verifier.verify, sm2: SM2.verify), digest: SodiumSHA256())
    static let replay = RideCodeReplayCache(capacity: 64)

    /// Evidence for the replay cache with the ride-code key `key`.
    static func evidence(key: UInt64, counter: UInt32, generatedAt: UInt32) -> RideCodeEvidence {
        let k = CardKey(rawValue: key)
        return RideCodeEvidence(
            issuerNumber: k.rideCodeIssuerByte, issuerKeyID: 7, account: k.rideCodeAccount, certificateHash: [],
            generatedAt: generatedAt, counter: counter, flags: 0, userSignature: [])
    }
}

extension RideCodeEvidence {
    /// The raw ride-code key of (issuer, account), as `cardKey` makes it.
    static func key(issuer: UInt8, account: UInt64) -> UInt64 {
        RideCodeEvidence(
            issuerNumber: issuer, issuerKeyID: 0, account: account, certificateHash: [], generatedAt: 0, counter: 0,
            flags: 0, userSignature: []
        ).cardKey.rawValue
    }
}
