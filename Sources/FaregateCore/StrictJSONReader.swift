/// A JSON text that is not accepted: where and why ("line 3, column 17: trailing comma before '}'").
public struct JSONSyntaxError: Error, Hashable, Sendable, CustomStringConvertible {
    public var position: JSONPosition
    public var message: String

    public var description: String { "\(position): \(message)" }
}

/// Reads JSON (RFC 8259) into a `JSONValue` tree, refusing everything a lenient reader would let
/// through silently: duplicate keys (which one wins differs between readers), trailing commas,
/// comments, single quotes, `NaN`/`Infinity`, leading zeros, control characters and invalid UTF-8
/// in strings, lone surrogate escapes, and anything after the top-level value. A leading UTF-8 byte
/// order mark is skipped (RFC 8259 §8.1 allows ignoring it; editors on other systems write one).
///
/// The input is an untrusted file: the reader never traps, its recursion is bounded by
/// `Limits.maxDepth`, and it allocates at most in proportion to the input, which is bounded by
/// `Limits.maxBytes` before anything is read. Pure: no I/O, no Foundation.
public struct StrictJSONReader {
    public struct Limits: Hashable, Sendable {
        /// Largest input accepted (configuration and policy files are a few KiB).
        public var maxBytes: Int = 1 << 20
        /// Deepest nesting of arrays and objects (the files nest four levels).
        public var maxDepth: Int = 32
        public init() {}
    }

    /// Parses `bytes` as one JSON value.
    public static func read(_ bytes: [UInt8], limits: Limits = Limits()) throws(JSONSyntaxError) -> JSONValue {
        guard bytes.count <= limits.maxBytes else {
            throw JSONSyntaxError(
                position: JSONPosition(line: 1, column: 1),
                message: "\(bytes.count) bytes is more than the \(limits.maxBytes) accepted")
        }
        var reader = StrictJSONReader(bytes: bytes, maxDepth: limits.maxDepth)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { reader.offset = 3 }
        reader.skipSpace()
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        if let b = reader.peek { throw reader.fail("\(describe(b)) after the top-level value") }
        return value
    }

    private let bytes: [UInt8]
    private let maxDepth: Int
    private var offset = 0
    private var line = 1
    private var column = 1

    private init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    private var peek: UInt8? { offset < bytes.count ? bytes[offset] : nil }
    private var position: JSONPosition { JSONPosition(line: line, column: column) }

    private func fail(_ message: String, at position: JSONPosition? = nil) -> JSONSyntaxError {
        JSONSyntaxError(position: position ?? self.position, message: message)
    }

    /// Moves past one byte; UTF-8 continuation bytes do not advance the column.
    private mutating func advance() {
        guard let b = peek else { return }
        offset += 1
        if b == UInt8(ascii: "\n") {
            line += 1
            column = 1
        } else if b & 0xC0 != 0x80 {
            column += 1
        }
    }

    private mutating func skipSpace() {
        while let b = peek, b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { advance() }
    }

    private static func describe(_ b: UInt8) -> String {
        switch b {
        case UInt8(ascii: "/"): "a comment (JSON has none)"
        case UInt8(ascii: "'"): "a single quote (JSON strings use double quotes)"
        case 0x21...0x7E: "unexpected '\(Character(Unicode.Scalar(b)))'"
        default: "unexpected byte 0x\(String(b, radix: 16, uppercase: true))"
        }
    }

    private mutating func value(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        let start = position
        guard let b = peek else { throw fail("expected a value, found the end of the input") }
        switch b {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard depth < maxDepth else { throw fail("nested deeper than \(maxDepth) levels") }
            return b == UInt8(ascii: "{") ? try object(depth: depth + 1) : try array(depth: depth + 1)
        case UInt8(ascii: "\""): return JSONValue(.string(try string()), at: start)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return JSONValue(.number(try number()), at: start)
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
            var word = ""
            while let c = peek, word.count < 16,
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c)
                    || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(c)
            {
                word.append(Character(Unicode.Scalar(c)))
                advance()
            }
            switch word {
            case "true": return JSONValue(.bool(true), at: start)
            case "false": return JSONValue(.bool(false), at: start)
            case "null": return JSONValue(.null, at: start)
            default: throw fail("unexpected word '\(word)' (JSON has only true, false and null)", at: start)
            }
        default: throw fail(Self.describe(b))
        }
    }

    /// After an opening bracket: the members up to the closing one, refusing a trailing comma.
    private mutating func elements(
        close: UInt8, _ element: (inout StrictJSONReader) throws(JSONSyntaxError) -> Void
    ) throws(JSONSyntaxError) {
        advance()
        skipSpace()
        if peek == close { return advance() }
        while true {
            try element(&self)
            skipSpace()
            guard let b = peek else { throw fail("expected ',' or '\(Character(Unicode.Scalar(close)))'") }
            if b == close { return advance() }
            guard b == UInt8(ascii: ",") else {
                throw fail("\(Self.describe(b)), expected ',' or '\(Character(Unicode.Scalar(close)))'")
            }
            let comma = position
            advance()
            skipSpace()
            if peek == close { throw fail("trailing comma before '\(Character(Unicode.Scalar(close)))'", at: comma) }
        }
    }

    private mutating func array(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        let start = position
        var items: [JSONValue] = []
        try elements(close: UInt8(ascii: "]")) { (r: inout StrictJSONReader) throws(JSONSyntaxError) in
            items.append(try r.value(depth: depth))
        }
        return JSONValue(.array(items), at: start)
    }

    private mutating func object(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        let start = position
        var object = JSONObject()
        try elements(close: UInt8(ascii: "}")) { (r: inout StrictJSONReader) throws(JSONSyntaxError) in
            let keyPosition = r.position
            guard r.peek == UInt8(ascii: "\"") else {
                throw r.fail(
                    r.peek.map { "\(Self.describe($0)), expected a key in double quotes" } ?? "unfinished object")
            }
            let key = try r.string()
            r.skipSpace()
            guard r.peek == UInt8(ascii: ":") else { throw r.fail("expected ':' after the key '\(key)'") }
            r.advance()
            r.skipSpace()
            let member = JSONObject.Member(key: key, keyPosition: keyPosition, value: try r.value(depth: depth))
            if let earlier = object.insert(member) {
                throw r.fail("duplicate key '\(key)' (first at \(earlier.keyPosition))", at: keyPosition)
            }
        }
        return JSONValue(.object(object), at: start)
    }

    private mutating func string() throws(JSONSyntaxError) -> String {
        let start = position
        advance()
        var utf8: [UInt8] = []
        while true {
            guard let b = peek else { throw fail("unterminated string (it starts at \(start))") }
            switch b {
            case UInt8(ascii: "\""):
                advance()
                guard let s = String(validating: utf8, as: UTF8.self) else {
                    throw fail("invalid UTF-8 in the string", at: start)
                }
                return s
            case UInt8(ascii: "\\"):
                let escape = position
                advance()
                guard let e = peek else { continue }
                advance()
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(e)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"): utf8.append(contentsOf: try unicodeEscape(at: escape))
                default: throw fail("invalid escape '\\\(Character(Unicode.Scalar(e)))'", at: escape)
                }
            case 0..<0x20: throw fail("control character in a string (write it as a \\u escape)")
            default:
                utf8.append(b)
                advance()
            }
        }
    }

    /// After `\u`: four hex digits, and for a high surrogate the `\uDC00`-`\uDFFF` that must follow.
    private mutating func unicodeEscape(at escape: JSONPosition) throws(JSONSyntaxError) -> String.UTF8View {
        func hex4(_ r: inout StrictJSONReader) -> UInt32? {
            var v: UInt32 = 0
            for _ in 0..<4 {
                guard let b = r.peek, let d = Character(Unicode.Scalar(b)).hexDigitValue else { return nil }
                v = v << 4 | UInt32(d)
                r.advance()
            }
            return v
        }
        guard var v = hex4(&self) else { throw fail("\\u needs four hex digits", at: escape) }
        if (0xD800..<0xDC00).contains(v) {
            guard peek == UInt8(ascii: "\\") else { throw fail("lone surrogate \\u escape", at: escape) }
            advance()
            guard peek == UInt8(ascii: "u") else { throw fail("lone surrogate \\u escape", at: escape) }
            advance()
            guard let low = hex4(&self), (0xDC00..<0xE000).contains(low) else {
                throw fail("lone surrogate \\u escape", at: escape)
            }
            v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let scalar = Unicode.Scalar(v) else { throw fail("lone surrogate \\u escape", at: escape) }
        return String(Character(scalar)).utf8
    }

    private mutating func number() throws(JSONSyntaxError) -> JSONNumber {
        let start = offset
        let startPosition = position
        func digits(_ r: inout StrictJSONReader) -> Int {
            var n = 0
            while let b = r.peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) {
                r.advance()
                n += 1
            }
            return n
        }
        if peek == UInt8(ascii: "-") { advance() }
        let first = peek
        let intDigits = digits(&self)
        guard intDigits > 0 else { throw fail("a number needs a digit after '-'") }
        if first == UInt8(ascii: "0") && intDigits > 1 { throw fail("leading zero in a number", at: startPosition) }
        var whole = true
        if peek == UInt8(ascii: ".") {
            advance()
            whole = false
            guard digits(&self) > 0 else { throw fail("a number needs a digit after '.'") }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            advance()
            whole = false
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { advance() }
            guard digits(&self) > 0 else { throw fail("a number needs a digit in its exponent") }
        }
        let text = String(decoding: bytes[start..<offset], as: UTF8.self)
        guard let double = Double(text), double.isFinite else {
            throw fail("\(text) is out of the range of numbers", at: startPosition)
        }
        return JSONNumber(text: text, integer: whole ? Int64(text) : nil, double: double)
    }
}
