/// Reads a libpq connection string as far as the gate configuration needs: the secrets in it, so
/// that a gate configuration never holds one, and single settings (`sslmode`, `host`) for the
/// configuration check. On secrets:
/// the gate's PostgreSQL password belongs in a libpq passfile (`PGPASSFILE`, `~/.pgpass`, or the
/// `passfile` keyword), readable by the daemon's user only, not in a JSON file that gets copied,
/// diffed and printed by `--check-config`.
///
/// Reads both forms libpq takes (libpq "Connection Strings"): `keyword = value` pairs (values bare
/// or single-quoted, with backslash escapes) and `postgresql://` / `postgres://` URIs (a password
/// in the user part or a `password` parameter). A `dbname` that is itself a connection string is
/// read too. Pure string work; libpq remains the parser that connects.
public enum LibpqConnectionString {
    /// Keywords whose value is a secret: the role's password, and the client key's passphrase.
    static let secretKeywords: Set<String> = ["password", "sslpassword"]

    /// What in `conninfo` is a secret ("password", "sslpassword", "a password in the URI"), in the
    /// order found; empty when none. A string libpq could not parse either is reported as such.
    public static func secrets(in conninfo: String) -> [String] {
        findings(in: Substring(conninfo), depth: 0)
    }

    /// The value `conninfo` gives `keyword` (the last one, as libpq takes it), from either form; nil
    /// when unset or unparseable. In a URI only query parameters are read (not host or user).
    public static func setting(_ keyword: String, in conninfo: String) -> String? {
        let s = Substring(conninfo).drop(while: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
        if s.hasPrefix("postgresql://") || s.hasPrefix("postgres://") {
            guard let q = s.firstIndex(of: "?") else { return nil }
            return s[s.index(after: q)...].split(separator: "&").compactMap { param -> String? in
                let kv = param.split(separator: "=", maxSplits: 1)
                guard kv.count == 2, percentDecoded(kv[0]) == keyword else { return nil }
                return percentDecoded(kv[1])
            }.last
        }
        return keywordPairs(s)?.last(where: { $0.0 == keyword })?.1
    }

    static func findings(in s: Substring, depth: Int) -> [String] {
        let trimmed = s.drop(while: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
        if trimmed.hasPrefix("postgresql://") || trimmed.hasPrefix("postgres://") { return uriFindings(trimmed) }
        guard let pairs = keywordPairs(trimmed) else { return ["an unterminated quoted value"] }
        var out: [String] = []
        for (k, v) in pairs {
            if secretKeywords.contains(k) { out.append(k) }
            // libpq expands a dbname that is a connection string; one level is all it does.
            if k == "dbname", depth == 0, v.contains("=") || v.hasPrefix("postgres") {
                out += findings(in: Substring(v), depth: 1)
            }
        }
        return out
    }

    /// `keyword = value` pairs; nil when a quoted value is not closed.
    static func keywordPairs(_ s: Substring) -> [(String, String)]? {
        var pairs: [(String, String)] = []
        var i = s.startIndex
        func isSpace(_ c: Character) -> Bool { c == " " || c == "\t" || c == "\n" || c == "\r" }
        func skipSpace() { while i < s.endIndex, isSpace(s[i]) { i = s.index(after: i) } }
        while true {
            skipSpace()
            guard i < s.endIndex else { return pairs }
            var key = ""
            while i < s.endIndex, !isSpace(s[i]), s[i] != "=" {
                key.append(s[i])
                i = s.index(after: i)
            }
            skipSpace()
            guard i < s.endIndex, s[i] == "=" else {
                pairs.append((key, ""))  // libpq refuses this; nothing more to find here
                return pairs
            }
            i = s.index(after: i)
            skipSpace()
            var value = ""
            if i < s.endIndex, s[i] == "'" {
                i = s.index(after: i)
                var closed = false
                while i < s.endIndex {
                    let c = s[i]
                    i = s.index(after: i)
                    if c == "\\", i < s.endIndex {
                        value.append(s[i])
                        i = s.index(after: i)
                    } else if c == "'" {
                        closed = true
                        break
                    } else {
                        value.append(c)
                    }
                }
                if !closed { return nil }
            } else {
                while i < s.endIndex, !isSpace(s[i]) {
                    if s[i] == "\\", s.index(after: i) < s.endIndex { i = s.index(after: i) }
                    value.append(s[i])
                    i = s.index(after: i)
                }
            }
            pairs.append((key, value))
        }
    }

    /// `postgresql://[user[:password]@][hosts][/dbname][?k=v&…]`.
    static func uriFindings(_ uri: Substring) -> [String] {
        var out: [String] = []
        let rest = uri.dropFirst(uri.hasPrefix("postgresql://") ? 13 : 11)  // after the scheme and "//"
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@"), authority[..<at].contains(":") {
            out.append("a password in the URI")
        }
        if let q = rest.firstIndex(of: "?") {
            for param in rest[rest.index(after: q)...].split(separator: "&") {
                let key = param.split(separator: "=", maxSplits: 1).first.map { percentDecoded($0) } ?? ""
                if secretKeywords.contains(key) { out.append(key) }
            }
        }
        return out
    }

    static func percentDecoded(_ s: Substring) -> String {
        var bytes: [UInt8] = []
        var u = Array(s.utf8)[...]
        while let b = u.first {
            u = u.dropFirst()
            if b == UInt8(ascii: "%"), u.count >= 2,
                let v = UInt8(String(decoding: u.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(v)
                u = u.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
