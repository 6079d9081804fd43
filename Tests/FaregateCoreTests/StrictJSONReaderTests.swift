import FaregateCore
import Foundation
import XCTest

/// The strict reader refuses what lenient readers accept, each time with the line and column of
/// the offending character, and never traps or recurses without bound on any input.
final class StrictJSONReaderTests: XCTestCase {
    func read(_ text: String, limits: StrictJSONReader.Limits = .init()) throws(JSONSyntaxError) -> JSONValue {
        try StrictJSONReader.read(Array(text.utf8), limits: limits)
    }

    func testEveryRefusalNamesLineColumnAndProblem() {
        let deep = String(repeating: "[", count: 33) + String(repeating: "]", count: 33)
        let cases: [(String, line: Int, column: Int, String)] = [
            (#"{"a": 1,}"#, 1, 8, "trailing comma before '}'"),
            (#"[1, 2,]"#, 1, 6, "trailing comma before ']'"),
            ("{\n  \"a\": 1,\n  \"b\": [true,\n  ]\n}", 3, 13, "trailing comma before ']'"),
            (#"{"a": 1, "a": 2}"#, 1, 10, "duplicate key 'a' (first at line 1, column 2)"),
            ("{\n  \"a\": 1,\n  \"a\": 2\n}", 3, 3, "duplicate key 'a' (first at line 2, column 3)"),
            (#"{"名": 1,}"#, 1, 8, "trailing comma"),
            (#"{"a": 1} // note"#, 1, 10, "a comment (JSON has none) after the top-level value"),
            ("/* note */ {}", 1, 1, "a comment"),
            ("{\"a\": 1, // note\n\"b\": 2}", 1, 10, "a comment"),
            (#"{"a": NaN}"#, 1, 7, "unexpected word 'NaN' (JSON has only true, false and null)"),
            (#"{"a": Infinity}"#, 1, 7, "unexpected word 'Infinity'"),
            (#"{"a": -Infinity}"#, 1, 8, "a number needs a digit after '-'"),
            (#"{"a": True}"#, 1, 7, "unexpected word 'True'"),
            (#"{'a': 1}"#, 1, 2, "single quote"),
            (#"{a: 1}"#, 1, 2, "unexpected 'a', expected a key in double quotes"),
            (#"{"a": 01}"#, 1, 7, "leading zero"),
            (#"{"a": 1.}"#, 1, 9, "a digit after '.'"),
            (#"{"a": .5}"#, 1, 7, "unexpected '.'"),
            (#"{"a": +1}"#, 1, 7, "unexpected '+'"),
            (#"{"a": 1e}"#, 1, 9, "a digit in its exponent"),
            (#"{"a": 1e999}"#, 1, 7, "1e999 is out of the range of numbers"),
            ("\"a\u{01}b\"", 1, 3, "control character in a string"),
            ("\"line\nbreak\"", 1, 6, "control character in a string"),
            (#""\x""#, 1, 2, #"invalid escape '\x'"#),
            (#""\u12""#, 1, 2, #"\u needs four hex digits"#),
            (#""\uD800""#, 1, 2, "lone surrogate"),
            (#""\uD800\u0041""#, 1, 2, "lone surrogate"),
            (#""\uDC00""#, 1, 2, "lone surrogate"),
            (#""abc"#, 1, 5, "unterminated string (it starts at line 1, column 1)"),
            ("", 1, 1, "expected a value, found the end of the input"),
            ("  \n ", 2, 2, "expected a value"),
            (#"{"a" 1}"#, 1, 6, "expected ':' after the key 'a'"),
            (#"{"a": 1 "b": 2}"#, 1, 9, "unexpected '\"', expected ',' or '}'"),
            (#"{"a": 1"#, 1, 8, "expected ',' or '}'"),
            (#"{1: 2}"#, 1, 2, "expected a key in double quotes"),
            (#"[1] [2]"#, 1, 5, "unexpected '[' after the top-level value"),
            (#"[1,,2]"#, 1, 4, "unexpected ','"),
            (deep, 1, 33, "nested deeper than 32 levels"),
        ]
        for (text, line, column, message) in cases {
            do {
                let v = try read(text)
                XCTFail("accepted \(text) as \(v)")
            } catch {
                XCTAssertEqual(error.position, JSONPosition(line: line, column: column), "\(text): \(error)")
                XCTAssertTrue(error.message.contains(message), "\(text): \(error)")
                XCTAssertTrue(error.description.hasPrefix("line \(line), column \(column): "), "\(error)")
            }
        }
    }

    func testBytesThatAreNotUTF8AreRefused() {
        for (bytes, column, message) in [
            ([0x22, 0xFF, 0x22] as [UInt8], 1, "invalid UTF-8 in the string"),
            ([0x22, 0xED, 0xA0, 0x80, 0x22], 1, "invalid UTF-8"),  // an encoded surrogate
            ([0x5B, 0xFF, 0x5D], 2, "unexpected byte 0xFF"),
        ] {
            XCTAssertThrowsError(try StrictJSONReader.read(bytes)) { error in
                guard let e = error as? JSONSyntaxError else { return XCTFail("\(error)") }
                XCTAssertEqual(e.position, JSONPosition(line: 1, column: column), "\(e)")
                XCTAssertTrue(e.message.contains(message), "\(e)")
            }
        }
    }

    func testLimitsAreCheckedBeforeReading() {
        var limits = StrictJSONReader.Limits()
        limits.maxBytes = 4
        XCTAssertThrowsError(try read("[1,2]", limits: limits)) {
            XCTAssertEqual("\($0)", "line 1, column 1: 5 bytes is more than the 4 accepted")
        }
        // Depth far beyond the limit is refused at the limit, without deep recursion.
        let hostile = String(repeating: "[", count: 200_000)
        XCTAssertThrowsError(try read(hostile)) { XCTAssertTrue("\($0)".contains("nested deeper than 32"), "\($0)") }
        limits = StrictJSONReader.Limits()
        limits.maxDepth = 2
        XCTAssertNoThrow(try read("[[1]]", limits: limits))
        XCTAssertThrowsError(try read("[[[1]]]", limits: limits))
    }

    func testValuesAndTheirPositions() throws {
        let text =
            "\u{FEFF}{\n  \"s\": \"\\u00e9\\ud83d\\ude00\\n\\\"\\/\",\n  \"n\": [-0, 9007199254740993, 1.5e3, -2],\n  \"o\": {\"t\": true, \"f\": false, \"z\": null}\n}"
        let v = try read(text)
        guard case .object(let root) = v.content else { return XCTFail("\(v)") }
        XCTAssertEqual(v.position, JSONPosition(line: 1, column: 1), "a byte order mark takes no column")
        XCTAssertEqual(root.members.map(\.key), ["s", "n", "o"], "file order")
        XCTAssertEqual(root["s"]?.content, .string("é😀\n\"/"))
        XCTAssertEqual(root.member("s")?.keyPosition, JSONPosition(line: 2, column: 3))
        XCTAssertEqual(root["s"]?.position, JSONPosition(line: 2, column: 8))
        guard case .array(let numbers)? = root["n"]?.content else { return XCTFail("n") }
        let parsed = numbers.compactMap { n -> JSONNumber? in
            if case .number(let x) = n.content { return x }
            return nil
        }
        XCTAssertEqual(parsed.map(\.integer), [0, 9_007_199_254_740_993, nil, -2], "2^53 + 1 stays exact")
        XCTAssertEqual(parsed.map(\.double), [0, 9_007_199_254_740_992, 1500, -2])
        XCTAssertEqual(numbers[2].position, JSONPosition(line: 3, column: 31))
        guard case .object(let o)? = root["o"]?.content else { return XCTFail("o") }
        XCTAssertEqual(o["t"]?.content, .bool(true))
        XCTAssertEqual(o["f"]?.content, .bool(false))
        XCTAssertEqual(o["z"]?.isNull, true)
        XCTAssertEqual(o["z"]?.position, JSONPosition(line: 4, column: 37))
        XCTAssertEqual(try read(" [ ] ").content, .array([]))
        XCTAssertEqual(try read("{}").content, .object(JSONObject()))
    }

    /// Mutated seed files (bytes flipped, cut, duplicated) must give a value or an error, never a trap,
    /// in the reader and in the decoders over it (a deterministic stand-in for a fuzz target).
    func testMutatedSeedFilesNeverTrap() throws {
        var seeds = try Seeds.files().map(\.bytes)
        seeds.append(Array(#"{"gate_id": "G", "journal_dir": "j", "sync": {"interval_seconds": 1e2}}"#.utf8))
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        let interesting: [UInt8] = Array("{}[],:\"\\-0e.tfn \n/".utf8) + [0x00, 0xFF, 0xC3]
        var refused = 0
        for round in 0..<3000 {
            var bytes = seeds[round % seeds.count]
            for _ in 0...(next() % 4) where !bytes.isEmpty {
                let at = next() % bytes.count
                switch next() % 3 {
                case 0: bytes[at] = interesting[next() % interesting.count]
                case 1: bytes.removeSubrange(at..<min(bytes.count, at + next() % 8))
                default: bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + next() % 8)], at: at)
                }
            }
            do { _ = try StrictJSONReader.read(bytes) } catch { refused += 1 }
            // The decoders over the tree must not trap either.
            _ = try? PolicyBook.load([("mutated.json", bytes)])
            _ = try? StrictJSON.decode(AccessRules.self, from: bytes)
        }
        XCTAssertGreaterThan(refused, 1000, "most mutations break the syntax")
    }
}
