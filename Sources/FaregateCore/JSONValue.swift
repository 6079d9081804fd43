/// Where a JSON value or key starts in its file: 1-based line and column. Columns count Unicode
/// scalars, so a column matches what an editor shows for UTF-8 text without tabs.
public struct JSONPosition: Hashable, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) { (self.line, self.column) = (line, column) }

    public var description: String { "line \(line), column \(column)" }
}

/// A JSON value as `StrictJSONReader` read it, with the position of every value and key, so that
/// an error about any field of a configuration or policy file can point at its line and column.
public struct JSONValue: Hashable, Sendable {
    public enum Content: Hashable, Sendable {
        case null
        case bool(Bool)
        case number(JSONNumber)
        case string(String)
        case array([JSONValue])
        case object(JSONObject)
    }

    public var content: Content
    public var position: JSONPosition

    public init(_ content: Content, at position: JSONPosition) {
        self.content = content
        self.position = position
    }

    /// "an object", "a string", …: what a message says was found instead of what was expected.
    public var kind: String {
        switch content {
        case .null: "null"
        case .bool: "true or false"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    public var isNull: Bool { content == .null }
}

/// A JSON number: its text as written and its value. `integer` is set when the text is a whole
/// number (no fraction, no exponent) that fits in 64 bits, so whole numbers never pass through
/// `Double` (2^53 + 1 stays exact).
public struct JSONNumber: Hashable, Sendable, CustomStringConvertible {
    public var text: String
    public var integer: Int64?
    public var double: Double

    public var description: String { text }
}

/// The members of a JSON object in file order; keys are distinct (the reader refuses duplicates).
public struct JSONObject: Hashable, Sendable {
    public struct Member: Hashable, Sendable {
        public var key: String
        public var keyPosition: JSONPosition
        public var value: JSONValue
    }

    public private(set) var members: [Member] = []
    private var index: [String: Int] = [:]

    public init() {}

    public subscript(key: String) -> JSONValue? { index[key].map { members[$0].value } }

    public func member(_ key: String) -> Member? { index[key].map { members[$0] } }

    /// Adds a member; returns the earlier member of the same key instead when there is one.
    mutating func insert(_ member: Member) -> Member? {
        if let earlier = index[member.key] { return members[earlier] }
        index[member.key] = members.count
        members.append(member)
        return nil
    }
}
