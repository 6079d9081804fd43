import Foundation

/// A JSON value as the policy parser walks it. Decoding into this first (rather than into
/// `Codable` structs) lets every error name the exact field and say what was expected.
enum PolicyJSON: Decodable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([PolicyJSON])
    case object([String: PolicyJSON])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([PolicyJSON].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: PolicyJSON].self))
        }
    }

    var kind: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int, .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// Parses `bytes` as JSON; a syntax error names the file.
    static func parse(_ bytes: [UInt8], file: String) throws(PolicyError) -> PolicyJSON {
        do {
            return try JSONDecoder().decode(PolicyJSON.self, from: Data(bytes))
        } catch let DecodingError.dataCorrupted(ctx) {
            let cause = (ctx.underlyingError.map { "\($0)" }) ?? ctx.debugDescription
            throw PolicyError(file: file, field: "", problem: "not valid JSON (\(cause))")
        } catch {
            throw PolicyError(file: file, field: "", problem: "not valid JSON (\(error))")
        }
    }
}

/// Walks one JSON object, remembering its path for error messages and refusing unknown fields
/// (a typo such as `healthRd` must not silently fall back to a default).
struct PolicyObject {
    let file: String
    let path: String
    let fields: [String: PolicyJSON]

    init(_ value: PolicyJSON, file: String, path: String) throws(PolicyError) {
        guard case .object(let o) = value else {
            throw PolicyError(file: file, field: path, problem: "expected an object, found \(value.kind)")
        }
        self.file = file
        self.path = path
        fields = o
    }

    func fieldPath(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

    func fail(_ key: String, _ problem: String) -> PolicyError {
        PolicyError(file: file, field: fieldPath(key), problem: problem)
    }

    func allowOnly(_ keys: Set<String>) throws(PolicyError) {
        for k in fields.keys.sorted() where !keys.contains(k) {
            throw fail(k, "unknown field (known: \(keys.sorted().joined(separator: ", ")))")
        }
    }

    func required(_ key: String) throws(PolicyError) -> PolicyJSON {
        guard let v = fields[key], !isNull(v) else { throw fail(key, "missing") }
        return v
    }

    private func isNull(_ v: PolicyJSON) -> Bool {
        if case .null = v { return true }
        return false
    }

    func has(_ key: String) -> Bool { fields[key].map { !isNull($0) } ?? false }

    func string(_ key: String) throws(PolicyError) -> String {
        let v = try required(key)
        guard case .string(let s) = v else { throw fail(key, "expected a string, found \(v.kind)") }
        guard !s.isEmpty else { throw fail(key, "must not be empty") }
        return s
    }

    func optionalString(_ key: String) throws(PolicyError) -> String? {
        has(key) ? try string(key) : nil
    }

    func bool(_ key: String) throws(PolicyError) -> Bool {
        let v = try required(key)
        guard case .bool(let b) = v else { throw fail(key, "expected true or false, found \(v.kind)") }
        return b
    }

    func int(_ key: String, in range: ClosedRange<Int64>) throws(PolicyError) -> Int64 {
        let v = try required(key)
        guard case .int(let i) = v else { throw fail(key, "expected a whole number, found \(v.kind)") }
        guard range.contains(i) else {
            throw fail(key, "\(i) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return i
    }

    func outcome(_ key: String) throws(PolicyError) -> Decision.Outcome {
        let s = try string(key)
        guard let o = Decision.Outcome(name: s) else {
            throw fail(key, "'\(s)' is not an outcome (open, deny, staff)")
        }
        return o
    }

    func date(_ key: String) throws(PolicyError) -> CalendarDate {
        let s = try string(key)
        guard let d = CalendarDate(s) else { throw fail(key, "'\(s)' is not a date (YYYY-MM-DD)") }
        return d
    }

    func object(_ key: String) throws(PolicyError) -> PolicyObject {
        try PolicyObject(try required(key), file: file, path: fieldPath(key))
    }

    func array(_ key: String) throws(PolicyError) -> [PolicyJSON] {
        let v = try required(key)
        guard case .array(let a) = v else { throw fail(key, "expected an array, found \(v.kind)") }
        return a
    }

    /// An array of names each mapped by `lookup`; an unknown name is an error listing the known ones.
    func names<T>(_ key: String, known: [String], _ lookup: (String) -> T?) throws(PolicyError) -> [T] {
        var out: [T] = []
        for (i, v) in try array(key).enumerated() {
            guard case .string(let s) = v, let t = lookup(s) else {
                throw PolicyError(
                    file: file, field: fieldPath(key) + "[\(i)]",
                    problem: "expected one of \(known.joined(separator: ", ")), found \(describe(v))")
            }
            out.append(t)
        }
        return out
    }

    private func describe(_ v: PolicyJSON) -> String {
        if case .string(let s) = v { return "'\(s)'" }
        return v.kind
    }
}
