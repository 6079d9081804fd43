/// A configuration or policy file that does not decode: where (line and column), which field (a
/// dotted path such as `gate_rules.health-check.health_red`, empty for the whole file) and what is
/// wrong, said so that the field and the problem read as one sentence
/// ("line 12, column 20: readers.busy_budget_ms must be between 0 and 250, not 400").
public struct JSONDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    public var position: JSONPosition
    public var field: String
    public var problem: String

    /// With an empty field the problem is a whole sentence ("not valid JSON: …", "top level must be
    /// an object, not an array").
    public var description: String { "\(position): " + (field.isEmpty ? problem : "\(field) \(problem)") }
}

/// The one JSON layer of configuration and policy files: `StrictJSONReader` for the syntax, then
/// the types' own `Decodable` conformances over the positioned tree, with two checks Foundation's
/// `JSONDecoder` does not make: every key of every object must be known to the type decoding it (a
/// misspelt setting never falls back to a default silently), and every error carries its line and
/// column. A key is unknown when the type's `CodingKeys` (or `JSONSettings` table) has no case for
/// it, refused before any value is read, or when the type never asked for it, refused once the
/// type's `init(from:)` returns.
///
/// Types validate their values by throwing `DecodingError.dataCorrupted` (for example with
/// `dataCorruptedError(forKey:in:debugDescription:)`) whose description completes the sentence
/// after the field name ("must be a power of two, not 100"); the position is found from the coding
/// path. The same conformances still work with Foundation's `JSONEncoder` (used for round trips).
public enum StrictJSON {
    public static func decode<T: Decodable>(
        _ type: T.Type, from bytes: [UInt8], limits: StrictJSONReader.Limits = .init()
    ) throws(JSONDecodingError) -> T {
        let root: JSONValue
        do {
            root = try StrictJSONReader.read(bytes, limits: limits)
        } catch {
            throw JSONDecodingError(position: error.position, field: "", problem: "not valid JSON: \(error.message)")
        }
        return try decode(type, from: root)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from root: JSONValue) throws(JSONDecodingError) -> T {
        let session = JSONDecodingSession()
        do {
            return try session.decode(type, from: root, path: [])
        } catch let failure as JSONDecodingFailure {
            throw JSONDecodingError(position: failure.position, field: render(failure.path), problem: failure.problem)
        } catch let unknown as JSONUnknownKeyError {
            var located = located(unknown.codingPath, in: root, unknown.problem)
            located.position = keyPosition(unknown.codingPath, in: root) ?? located.position
            throw located
        } catch let DecodingError.dataCorrupted(context) {
            throw located(context.codingPath, in: root, context.debugDescription)
        } catch let DecodingError.keyNotFound(key, context) {
            throw located(context.codingPath + [key], in: root, "is required")
        } catch let DecodingError.valueNotFound(_, context) {
            throw located(context.codingPath, in: root, "is required")
        } catch let DecodingError.typeMismatch(_, context) {
            throw located(context.codingPath, in: root, context.debugDescription)
        } catch {
            throw JSONDecodingError(position: root.position, field: "", problem: "cannot be used: \(error)")
        }
    }

    /// `a.b[2].c`; the empty path is the top level.
    public static func render(_ path: [any CodingKey]) -> String {
        var out = ""
        for key in path {
            if let i = key.intValue, key.stringValue == "[\(i)]" || key.stringValue == "Index \(i)" {
                out += "[\(i)]"
            } else {
                out += (out.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return out
    }

    /// An error a type threw about `path`, at the position of the deepest value on that path.
    static func located(_ path: [any CodingKey], in root: JSONValue, _ problem: String) -> JSONDecodingError {
        JSONDecodingError(
            position: walk(path, in: root).node.position, field: render(path),
            problem: path.isEmpty ? "top level " + problem : problem)
    }

    /// Where the last key of `path` is written, when the path leads to an object member.
    static func keyPosition(_ path: [any CodingKey], in root: JSONValue) -> JSONPosition? {
        guard let last = path.last else { return nil }
        let parent = walk(path.dropLast(), in: root)
        guard parent.complete, case .object(let o) = parent.node.content else { return nil }
        return o.member(last.stringValue)?.keyPosition
    }

    /// The value `path` leads to, or the deepest one on the way (`complete` false).
    static func walk(_ path: some Collection<any CodingKey>, in root: JSONValue) -> (node: JSONValue, complete: Bool) {
        var node = root
        for key in path {
            switch node.content {
            case .object(let o):
                guard let m = o.member(key.stringValue) else { return (node, false) }
                node = m.value
            case .array(let a):
                guard let i = key.intValue, a.indices.contains(i) else { return (node, false) }
                node = a[i]
            default: return (node, false)
            }
        }
        return (node, true)
    }

    /// "open, deny or staff".
    public static func alternatives(_ names: [String]) -> String {
        guard let last = names.last, names.count > 1 else { return names.first ?? "" }
        return names.dropLast().joined(separator: ", ") + " or " + last
    }
}

/// An error found by the decoder itself, with the exact position of the value or key.
struct JSONDecodingFailure: Error {
    var position: JSONPosition
    var path: [any CodingKey]
    var problem: String

    static func unknownKey(_ m: JSONObject.Member, in path: [any CodingKey], known: [String]) -> JSONDecodingFailure {
        let error = JSONUnknownKeyError(codingPath: path + [JSONKey(m.key)], known: known)
        return JSONDecodingFailure(position: m.keyPosition, path: error.codingPath, problem: error.problem)
    }
}

/// The coding key of an array element, rendered `[i]`.
struct JSONIndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String { "[\(intValue ?? 0)]" }
    init(_ index: Int) { intValue = index }
    init?(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { nil }
}

/// The keys asked of one object: after the value that opened the container is decoded, every other
/// key is an unknown setting.
final class JSONKeyUse {
    let object: JSONObject
    let path: [any CodingKey]
    var asked: Set<String> = []

    init(object: JSONObject, path: [any CodingKey]) {
        self.object = object
        self.path = path
    }

    /// The keys of a `CaseIterable` coding-key enum, for the message; empty for other key types.
    static func names<Key: CodingKey>(of type: Key.Type) -> [String] {
        func cases<C: CaseIterable>(_ c: C.Type) -> [String] {
            C.allCases.compactMap { ($0 as? any CodingKey)?.stringValue }
        }
        guard let iterable = type as? any CaseIterable.Type else { return [] }
        return cases(iterable)
    }
}

/// State of one `StrictJSON.decode` call: the objects opened by keyed containers and not yet
/// checked. Decoding is synchronous and single-threaded, so a class without a lock is enough.
final class JSONDecodingSession {
    private var uses: [JSONKeyUse] = []

    func record(_ use: JSONKeyUse) { uses.append(use) }

    /// `T` decoded from `value`, then the unknown-key check of every object its decoding opened
    /// (and did not hand on to a nested value, which was checked when that value was done): a key
    /// of the type's `CodingKeys` that it did not ask for here is not a setting of this object.
    func decode<T: Decodable>(_ type: T.Type, from value: JSONValue, path: [any CodingKey]) throws -> T {
        let mark = uses.count
        defer { uses.removeSubrange(mark...) }
        let result = try T(from: JSONValueDecoder(value: value, codingPath: path, session: self))
        for use in uses[mark...] {
            for m in use.object.members where !use.asked.contains(m.key) {
                throw JSONDecodingFailure.unknownKey(m, in: use.path, known: use.asked.sorted())
            }
        }
        return result
    }
}
