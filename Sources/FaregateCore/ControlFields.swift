/// The coding key of the control protocol's JSON objects: any string, so a decoder can list the
/// keys it was given and refuse the ones it does not know.
public struct ControlKey: CodingKey, Hashable, Sendable, ExpressibleByStringLiteral {
    public var stringValue: String
    public var intValue: Int? { nil }
    public init(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { nil }
    public init(stringLiteral value: String) { stringValue = value }
}

/// Reads the fields of one control-protocol JSON object into typed values, throwing a
/// `ControlFailure` that names the field and says what was expected.
///
/// `Codable`'s own errors name the coding path in a form meant for programmers; an operator typing
/// a request by hand (or a newer `farectl`) gets "field 'reader' must be a whole number from 0 to
/// 65535" instead. Unknown keys are refused (`only`), so a misspelt field never silently falls
/// back to a default.
struct ControlFields {
    let container: KeyedDecodingContainer<ControlKey>
    /// What the object is, for messages: "tap", "status answer", "journal entry".
    let what: String

    init(_ decoder: any Decoder, what: String) throws(ControlFailure) {
        do {
            container = try decoder.container(keyedBy: ControlKey.self)
        } catch {
            throw ControlFailure(.badRequest, "\(what) must be a JSON object")
        }
        self.what = what
    }

    /// Refuses every key that is not in `allowed`.
    func only(_ allowed: Set<String>) throws(ControlFailure) {
        let unknown = container.allKeys.map(\.stringValue).filter { !allowed.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw ControlFailure(
                .badRequest,
                "unknown field\(unknown.count > 1 ? "s" : "") \(unknown.map { "'\($0)'" }.joined(separator: ", ")) "
                    + "in \(what) (known: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    func has(_ key: String) -> Bool { container.contains(ControlKey(stringValue: key)) }

    /// The value at `key`, or nil when the key is absent or null.
    func optional<T: Decodable>(_ key: String, _ expected: String) throws(ControlFailure) -> T? {
        do {
            return try container.decodeIfPresent(T.self, forKey: ControlKey(stringValue: key))
        } catch let inner as ControlFailure {
            throw inner  // a nested object (a journal entry in a list) said what was wrong with it
        } catch {
            throw ControlFailure(.badRequest, "field '\(key)' of \(what) must be \(expected)")
        }
    }

    func required<T: Decodable>(_ key: String, _ expected: String) throws(ControlFailure) -> T {
        guard let v: T = try optional(key, expected) else {
            throw ControlFailure(.badRequest, "\(what) needs field '\(key)' (\(expected))")
        }
        return v
    }

    func string(_ key: String) throws(ControlFailure) -> String? { try optional(key, "a string") }

    /// A whole number at `key` inside `range`; the range check comes before any conversion.
    func integer<T: FixedWidthInteger>(_ key: String, in range: ClosedRange<T>) throws(ControlFailure) -> T? {
        let expected = "a whole number from \(range.lowerBound) to \(range.upperBound)"
        guard let wide: Int64 = try optional(key, expected) else { return nil }
        guard let v = T(exactly: wide), range.contains(v) else {
            throw ControlFailure(.badRequest, "field '\(key)' of \(what) must be \(expected), not \(wide)")
        }
        return v
    }

    func unsigned(_ key: String) throws(ControlFailure) -> UInt64 {
        guard let v: UInt64 = try optional(key, "a whole number from 0") else {
            throw ControlFailure(.badRequest, "\(what) needs field '\(key)' (a whole number)")
        }
        return v
    }

    /// One of the names of `T` at `key`.
    func named<T: NamedCase>(_ key: String) throws(ControlFailure) -> T? {
        guard let text = try string(key) else { return nil }
        guard let v = T(name: text) else {
            throw ControlFailure(
                .badRequest, "\(key) must be one of \(T.allCases.map(\.name).sorted().joined(separator: ", "))")
        }
        return v
    }

    /// A card as `MEDIUM:NUMBER`; `-` is the unidentified medium (raw key 0) where `allowUnread`.
    /// A card fault in any of its spellings (`CardFault(parsing:)`), or nil when absent.
    func fault(_ key: String) throws(ControlFailure) -> CardFault? {
        guard let text = try string(key) else { return nil }
        guard let fault = CardFault(parsing: text) else {
            throw ControlFailure(
                .badRequest,
                "\(key) must be one of \(CardFault.shortNames.keys.sorted().joined(separator: ", ")), "
                    + "no-app, remove-after:N, wrong-sw:N:SW, truncate:N or slow:N:MS, not '\(text)'")
        }
        return fault
    }

    func card(_ key: String, allowUnread: Bool = false) throws(ControlFailure) -> CardKey {
        let text: String = try required(key, "MEDIUM:NUMBER")
        if allowUnread, text == "-" { return CardKey(rawValue: 0) }
        guard let k = CardKey(text: text) else {
            throw ControlFailure(.badRequest, "field '\(key)' of \(what) must be MEDIUM:NUMBER, not '\(text)'")
        }
        return k
    }
}

extension AlarmKind: NamedCase {
    public var name: String { description }
}

extension CardKey {
    /// Parses `MEDIUM:NUMBER` as operators type it and `description` prints it
    /// (`transit-card:1000751000000000000`), and `0x` + hex for a raw key outside every medium.
    public init?(text: some StringProtocol) {
        if text.hasPrefix("0x") {
            guard let raw = UInt64(text.dropFirst(2), radix: 16) else { return nil }
            self.init(rawValue: raw)
            return
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let medium = Medium(name: String(parts[0])) else { return nil }
        self.init(medium: medium, number: parts[1])
    }

    /// The card as the control protocol and the journal renderings show it: `-` for an
    /// unidentified medium, `MEDIUM:NUMBER`, or `0x` + hex for a key outside every medium (which
    /// `description` would print lossily as `invalid:…`). `CardKey(text:)` reads it back.
    public var text: String {
        if rawValue == 0 { return "-" }
        return medium == nil ? "0x" + String(rawValue, radix: 16) : description
    }
}
