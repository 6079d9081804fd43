/// A `Decoder` over one positioned `JSONValue` (see `StrictJSON`). Every value decoded through a
/// container goes through `JSONDecodingSession.decode`, which checks afterwards that each key of
/// the objects it opened was asked for.
struct JSONValueDecoder: Decoder {
    let value: JSONValue
    let codingPath: [any CodingKey]
    let session: JSONDecodingSession
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(value: JSONValue, codingPath: [any CodingKey], session: JSONDecodingSession) {
        self.value = value
        self.codingPath = codingPath
        self.session = session
    }

    func mismatch(_ expected: String) -> JSONDecodingFailure {
        let problem = "must be \(expected), not \(value.kind)"
        return JSONDecodingFailure(
            position: value.position, path: codingPath, problem: codingPath.isEmpty ? "top level " + problem : problem)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let object) = value.content else { throw mismatch("an object") }
        // A key the type has no case for is refused before any value is read, so a misspelt
        // required key reads "health_rd is not a known setting", not "health_red is required".
        for m in object.members where Key(stringValue: m.key) == nil {
            throw JSONDecodingFailure.unknownKey(m, in: codingPath, known: JSONKeyUse.names(of: Key.self))
        }
        let use = JSONKeyUse(object: object, path: codingPath)
        session.record(use)
        return KeyedDecodingContainer(JSONKeyedContainer<Key>(decoder: self, object: object, use: use))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let items) = value.content else { throw mismatch("an array") }
        return JSONUnkeyedContainer(decoder: self, items: items)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { JSONSingleValueContainer(decoder: self) }

    /// A decoder for `value` one level down.
    func child(_ value: JSONValue, key: any CodingKey) -> JSONValueDecoder {
        JSONValueDecoder(value: value, codingPath: codingPath + [key], session: session)
    }
}

struct JSONKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: JSONValueDecoder
    let object: JSONObject
    let use: JSONKeyUse
    var codingPath: [any CodingKey] { decoder.codingPath }

    var allKeys: [Key] {
        object.members.compactMap { m in
            use.asked.insert(m.key)
            return Key(stringValue: m.key)
        }
    }

    func contains(_ key: Key) -> Bool {
        use.asked.insert(key.stringValue)
        return object[key.stringValue] != nil
    }

    private func required(_ key: Key) throws -> JSONValue {
        use.asked.insert(key.stringValue)
        guard let v = object[key.stringValue] else {
            throw JSONDecodingFailure(
                position: decoder.value.position, path: codingPath + [key], problem: "is required")
        }
        return v
    }

    func decodeNil(forKey key: Key) throws -> Bool { try required(key).isNull }

    /// Also the witness of the concrete `decode(Bool.self, forKey:)`, `decode(Int.self, forKey:)`, …:
    /// they all go through the value's own `init(from:)` and the single-value container.
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try decoder.session.decode(type, from: try required(key), path: codingPath + [key])
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try decoder.child(try required(key), key: key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try decoder.child(try required(key), key: key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { try superDecoder(forKey: JSONKey("super")) }

    func superDecoder(forKey key: Key) throws -> any Decoder { try superDecoder(forKey: key as any CodingKey) }

    private func superDecoder(forKey key: any CodingKey) throws -> any Decoder {
        use.asked.insert(key.stringValue)
        return decoder.child(object[key.stringValue] ?? JSONValue(.null, at: decoder.value.position), key: key)
    }
}

struct JSONUnkeyedContainer: UnkeyedDecodingContainer {
    let decoder: JSONValueDecoder
    let items: [JSONValue]
    var currentIndex = 0
    var codingPath: [any CodingKey] { decoder.codingPath }
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    init(decoder: JSONValueDecoder, items: [JSONValue]) {
        self.decoder = decoder
        self.items = items
    }

    private mutating func next() throws -> (JSONValue, JSONIndexKey) {
        guard !isAtEnd else {
            throw JSONDecodingFailure(
                position: decoder.value.position, path: codingPath, problem: "has too few elements")
        }
        defer { currentIndex += 1 }
        return (items[currentIndex], JSONIndexKey(currentIndex))
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, items[currentIndex].isNull else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (value, key) = try next()
        return try decoder.session.decode(type, from: value, path: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        let (value, key) = try next()
        return try decoder.child(value, key: key).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (value, key) = try next()
        return try decoder.child(value, key: key).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        let (value, key) = try next()
        return decoder.child(value, key: key)
    }
}

/// Where the scalars are read: booleans, strings, and numbers range-checked for the asked type.
struct JSONSingleValueContainer: SingleValueDecodingContainer {
    let decoder: JSONValueDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }
    private var value: JSONValue { decoder.value }

    init(decoder: JSONValueDecoder) { self.decoder = decoder }

    func decodeNil() -> Bool { value.isNull }

    func decode(_ type: Bool.Type) throws -> Bool {
        guard case .bool(let b) = value.content else { throw decoder.mismatch("true or false") }
        return b
    }

    func decode(_ type: String.Type) throws -> String {
        guard case .string(let s) = value.content else { throw decoder.mismatch("a string") }
        return s
    }

    func decode(_ type: Double.Type) throws -> Double { try number().double }
    func decode(_ type: Float.Type) throws -> Float { Float(try number().double) }
    func decode(_ type: Int.Type) throws -> Int { try integer() }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer() }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer() }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer() }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer() }
    func decode(_ type: UInt.Type) throws -> UInt { try integer() }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer() }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer() }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer() }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer() }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try decoder.session.decode(type, from: value, path: codingPath)
    }

    private func number() throws -> JSONNumber {
        guard case .number(let n) = value.content else { throw decoder.mismatch("a number") }
        return n
    }

    /// A whole number in `I`'s range. `1e3` counts as whole; `1.5` does not.
    private func integer<I: FixedWidthInteger>() throws -> I {
        let n = try number()
        let whole = n.integer.map { I(exactly: $0) } ?? (n.double.rounded() == n.double ? I(exactly: n.double) : nil)
        if let whole { return whole }
        let problem =
            n.double.rounded() == n.double
            ? "must be between \(I.min) and \(I.max), not \(n.text)" : "must be a whole number, not \(n.text)"
        throw JSONDecodingFailure(position: value.position, path: codingPath, problem: problem)
    }
}
