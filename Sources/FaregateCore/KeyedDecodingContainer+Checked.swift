/// Range-checked numbers and named enum cases, so every type of a configuration or policy file
/// refuses a bad value with the same words ("must be between 0 and 250, not 400").
extension KeyedDecodingContainer {
    /// A value of `range`.
    public func decode<T: Decodable & Comparable>(_ type: T.Type, forKey key: Key, in range: ClosedRange<T>) throws
        -> T
    {
        try checked(try decode(type, forKey: key), key, range)
    }

    /// A value of `range`, or nil when the key is absent or null.
    public func decodeIfPresent<T: Decodable & Comparable>(
        _ type: T.Type, forKey key: Key, in range: ClosedRange<T>
    ) throws -> T? {
        try decodeIfPresent(type, forKey: key).map { try checked($0, key, range) }
    }

    private func checked<T: Comparable>(_ value: T, _ key: Key, _ range: ClosedRange<T>) throws -> T {
        guard range.contains(value) else {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: self,
                debugDescription: "must be between \(range.lowerBound) and \(range.upperBound), not \(value)")
        }
        return value
    }

    /// A case spelt by its name (`NamedCase`).
    public func decodeName<T: NamedCase>(_ type: T.Type, forKey key: Key) throws -> T {
        try decode(Named<T>.self, forKey: key).value
    }

    public func decodeNameIfPresent<T: NamedCase>(_ type: T.Type, forKey key: Key) throws -> T? {
        try decodeIfPresent(Named<T>.self, forKey: key)?.value
    }

    /// A list of names; an element that is not a name is refused at its index (`media[2]`).
    public func decodeNamesIfPresent<T: NamedCase>(_ type: T.Type, forKey key: Key) throws -> [T]? {
        try decodeIfPresent([Named<T>].self, forKey: key)?.map(\.value)
    }

    /// A string that is not empty.
    public func decodeWord(forKey key: Key) throws -> String {
        let s = try decode(String.self, forKey: key)
        guard !s.isEmpty else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "must not be empty")
        }
        return s
    }

    public func decodeWordIfPresent(forKey key: Key) throws -> String? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        return try decodeWord(forKey: key)
    }
}

extension KeyedEncodingContainer {
    public mutating func encodeName<T: NamedCase>(_ value: T, forKey key: Key) throws {
        try encode(Named(value), forKey: key)
    }

    public mutating func encodeNames<T: NamedCase>(_ values: [T], forKey key: Key) throws {
        try encode(values.map(Named.init), forKey: key)
    }
}
