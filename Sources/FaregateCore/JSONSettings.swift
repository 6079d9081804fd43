/// A string coding key, for objects whose keys come from a `JSONField` table.
public struct JSONKey: CodingKey, Hashable, Sendable {
    public var stringValue: String
    public var intValue: Int? { nil }
    public init(_ key: String) { stringValue = key }
    public init?(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { nil }
}

/// One key of a settings object: its JSON name, the property it fills and how it is checked. A
/// type's table of fields is the one place its keys are spelt; decoding and encoding both read it.
public struct JSONField<Root> {
    public let key: String
    /// Fills the property from the container; `required` says an absent key is an error.
    let decode: (KeyedDecodingContainer<JSONKey>, inout Root, _ required: Bool) throws -> Void
    let encode: (inout KeyedEncodingContainer<JSONKey>, Root) throws -> Void

    /// A field with its own decoding and encoding (a transformed or fixed value).
    public init(
        _ key: String, decode: @escaping (KeyedDecodingContainer<JSONKey>, JSONKey, inout Root, Bool) throws -> Void,
        encode: @escaping (inout KeyedEncodingContainer<JSONKey>, JSONKey, Root) throws -> Void
    ) {
        self.key = key
        let k = JSONKey(key)
        self.decode = { c, root, required in try decode(c, k, &root, required) }
        self.encode = { c, root in try encode(&c, k, root) }
    }

    /// The value at `k`, or nil when it is not required and absent (or null).
    private static func read<V>(
        _ c: KeyedDecodingContainer<JSONKey>, _ k: JSONKey, _ required: Bool, _ value: (JSONKey) throws -> V
    ) throws -> V? {
        if !required {
            guard c.contains(k), try !c.decodeNil(forKey: k) else { return nil }
        }
        return try value(k)
    }

    /// A value as JSON has it: `true`, `"text"`, `["a", "b"]`, a nested settings object.
    public static func value<V: Codable>(_ key: String, _ path: WritableKeyPath<Root, V>) -> Self {
        Self(
            key,
            decode: { c, k, root, required in
                if let v = try read(c, k, required, { try c.decode(V.self, forKey: $0) }) { root[keyPath: path] = v }
            }, encode: { c, k, root in try c.encode(root[keyPath: path], forKey: k) })
    }

    /// A number (or other ordered value) that must lie in `range`.
    public static func value<V: Codable & Comparable>(
        _ key: String, _ path: WritableKeyPath<Root, V>, in range: ClosedRange<V>
    ) -> Self {
        Self(
            key,
            decode: { c, k, root, required in
                if let v = try read(c, k, required, { try c.decode(V.self, forKey: $0, in: range) }) {
                    root[keyPath: path] = v
                }
            }, encode: { c, k, root in try c.encode(root[keyPath: path], forKey: k) })
    }

    /// A value that may be absent in every case; absent, it is nil.
    public static func optional<V: Codable>(_ key: String, _ path: WritableKeyPath<Root, V?>) -> Self {
        Self(
            key, decode: { c, k, root, _ in root[keyPath: path] = try c.decodeIfPresent(V.self, forKey: k) },
            encode: { c, k, root in try c.encodeIfPresent(root[keyPath: path], forKey: k) })
    }

    /// An enum case by its `NamedCase` name.
    public static func name<V: NamedCase>(_ key: String, _ path: WritableKeyPath<Root, V>) -> Self {
        Self(
            key,
            decode: { c, k, root, required in
                if let v = try read(c, k, required, { try c.decodeName(V.self, forKey: $0) }) {
                    root[keyPath: path] = v
                }
            }, encode: { c, k, root in try c.encodeName(root[keyPath: path], forKey: k) })
    }

    /// A list of enum cases by name.
    public static func names<V: NamedCase>(_ key: String, _ path: WritableKeyPath<Root, [V]>) -> Self {
        Self(
            key,
            decode: { c, k, root, _ in
                if let v = try c.decodeNamesIfPresent(V.self, forKey: k) { root[keyPath: path] = v }
            }, encode: { c, k, root in try c.encodeNames(root[keyPath: path], forKey: k) })
    }

    /// A set of enum cases held as bits (`GatePolicy.acceptedMedia`), written as a list of names;
    /// never required (absent, the set keeps its value).
    public static func bits<V: NamedCase>(
        _ key: String, _ path: WritableKeyPath<Root, UInt64>, of type: V.Type, bit: @escaping (V) -> UInt64
    ) -> Self {
        Self(
            key,
            decode: { c, k, root, _ in
                if let v = try c.decodeNamesIfPresent(V.self, forKey: k) {
                    root[keyPath: path] = v.reduce(0) { $0 | bit($1) }
                }
            },
            encode: { c, k, root in
                try c.encodeNames(V.allCases.filter { root[keyPath: path] & bit($0) != 0 }, forKey: k)
            })
    }

    /// A free-text comment (`note`): accepted as a string, not kept, not written.
    public static func comment(_ key: String) -> Self {
        Self(key, decode: { c, k, _, _ in _ = try c.decodeIfPresent(String.self, forKey: k) }, encode: { _, _, _ in })
    }
}

/// A settings object coded from its table of `fields`: absent keys keep the value of `defaults`
/// (or are refused when the caller asks for every key), unknown keys are refused by `StrictJSON`.
public protocol JSONSettings: Codable {
    /// The value before any key is read.
    static var defaults: Self { get }
    static var fields: [JSONField<Self>] { get }
}

extension JSONSettings {
    public init(from decoder: any Decoder) throws { try self.init(from: decoder, base: Self.defaults, required: false) }

    /// `base` with the keys of the object applied; with `required`, every field that can be
    /// required must be present.
    public init(from decoder: any Decoder, base: Self, required: Bool) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        // Refused before any field is read, so a misspelt required key is reported as unknown.
        let known = Self.fields.map(\.key)
        for key in c.allKeys where !known.contains(key.stringValue) {
            throw JSONUnknownKeyError(codingPath: c.codingPath + [key], known: known)
        }
        self = base
        for field in Self.fields { try field.decode(c, &self, required) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        for field in Self.fields { try field.encode(&c, self) }
    }
}

/// A key the decoding type does not know. `StrictJSON` reports it at the key's line and column.
public struct JSONUnknownKeyError: Error, CustomStringConvertible {
    public var codingPath: [any CodingKey]
    public var known: [String]

    public init(codingPath: [any CodingKey], known: [String]) {
        self.codingPath = codingPath
        self.known = known
    }

    var problem: String {
        "is not a known setting" + (known.isEmpty ? "" : " (known: \(known.joined(separator: ", ")))")
    }
    public var description: String { "\(StrictJSON.render(codingPath)) \(problem)" }
}
