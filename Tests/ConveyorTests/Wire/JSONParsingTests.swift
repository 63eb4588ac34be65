import Conveyor
import Testing

extension WireTests {
    @Suite("JSON input is read the way Python's json.loads reads it, but stricter about bytes")
    struct JSONParsing {
        @Test("invalid UTF-8 is refused, inside strings and out", arguments: [
            [0x22, 0xFF, 0x22],                   // a lone 0xFF
            [0x22, 0xC3, 0x28, 0x22],             // a broken two-byte sequence
            [0x22, 0xC0, 0xAF, 0x22],             // an overlong '/'
            [0x22, 0xED, 0xA0, 0x80, 0x22],       // a UTF-8-encoded surrogate
            [0x22, 0x61, 0x5C, 0x6E, 0xFE, 0x22], // after an escape (slow path)
            [0x5B, 0xFF, 0x5D],                   // outside any string
        ] as [[UInt8]])
        func invalidUTF8(_ bytes: [UInt8]) {
            #expect(throws: JSONParseError.self) { try JSON.parse(bytes) }
        }

        @Test("raw control characters inside strings are refused", arguments: ["\"a\u{1}b\"", "\"line\nbreak\"", "\"tab\there\"", "\"\u{0}\"",
                                                                            "\"esc \\n then \u{1f}\""])
        func controlCharacters(_ text: String) {
            #expect(throws: JSONParseError.self) { try JSON.parse(text) }
        }

        @Test("anything after the value is refused", arguments: ["1 2", "{} x", "[1]]", "truex", "nullnull", "\"a\"\"b\"", "[1],"])
        func trailingGarbage(_ text: String) {
            #expect(throws: JSONParseError.self) { try JSON.parse(text) }
        }

        @Test("nesting up to 512 levels is read, deeper is refused")
        func depth() throws {
            let ok = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
            #expect(throws: Never.self) { try JSON.parse(ok) }
            let deep = String(repeating: "[", count: 513) + String(repeating: "]", count: 513)
            let error = #expect(throws: JSONParseError.self) { try JSON.parse(deep) }
            #expect(error?.reason.contains("512") == true)
            let deepObjects = String(repeating: "{\"a\":", count: 513) + "1" + String(repeating: "}", count: 513)
            #expect(throws: JSONParseError.self) { try JSON.parse(deepObjects) }
            #expect(throws: JSONParseError.self) { try JSON.parse(Array("[[[1]]]".utf8), maxDepth: 2) }
        }

        @Test("unterminated strings, arrays, objects and escapes are refused",
              arguments: ["\"abc", "\"abc\\", "[\"a", "[1, 2", "{\"a\": 1", "{\"a\"", "{\"a\":", "\"\\u12", "", "   ", "["])
        func unterminated(_ text: String) {
            #expect(throws: JSONParseError.self) { try JSON.parse(text) }
        }

        @Test("numbers with leading zeros or missing digits are refused",
              arguments: ["01", "-01", "00", "[01]", "1.", ".5", "1e", "1e+", "+1", "--1", "0x10", "-", "1.e5", "-.5"])
        func badNumbers(_ text: String) {
            #expect(throws: JSONParseError.self) { try JSON.parse(text) }
        }

        @Test("numbers: zero, negatives, exponents, Int64 bounds, and bigger integers kept as digits")
        func numbers() throws {
            #expect(try JSON.parse("0") == .int(0))
            #expect(try JSON.parse("-0") == .int(0))
            #expect(try JSON.parse("-0.0").double?.sign == .minus)
            #expect(try JSON.parse("0.5") == .double(0.5))
            #expect(try JSON.parse("1E3") == .double(1000))
            #expect(try JSON.parse("1e-05") == .double(1e-05))
            #expect(try JSON.parse("9223372036854775807") == .int(.max))
            #expect(try JSON.parse("-9223372036854775808") == .int(.min))
            #expect(try JSON.parse("9223372036854775808") == .bigInt("9223372036854775808"))
            #expect(try JSON.parse("-9223372036854775809") == .bigInt("-9223372036854775809"))
            #expect(try JSON.parse("1180591620717411303424") == .bigInt("1180591620717411303424"))
            #expect(try JSON.parse("1180591620717411303424").double == 1180591620717411303424.0)
            #expect(try JSON.parse("1.5").int == nil)
            #expect(try JSON.parse("2.0").int == 2)
        }

        @Test("NaN, Infinity and -Infinity are read (Python writes them); other spellings are not")
        func nonFinite() throws {
            #expect(try JSON.parse("NaN").double?.isNaN == true)
            #expect(try JSON.parse("Infinity") == .double(.infinity))
            #expect(try JSON.parse("-Infinity") == .double(-.infinity))
            #expect(try JSON.parse("[NaN, -Infinity]").array?.count == 2)
            for bad in ["nan", "-NaN", "infinity", "Inf", "+Infinity"] {
                #expect(throws: JSONParseError.self, "\(bad)") { try JSON.parse(bad) }
            }
        }

        @Test("escapes: the short ones, \\u in either case, and surrogate pairs")
        func escapes() throws {
            #expect(try JSON.parse(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{8}\u{c}\n\r\t"))
            #expect(try JSON.parse(#""\u00e9\u4E2D""#) == .string("é中"))
            #expect(try JSON.parse(#""\ud83d\ude00""#) == .string("😀"))
            #expect(try JSON.parse(#""x\u0000y""#) == .string("x\u{0}y"))
            #expect(try JSON.parse(#""plain é 中""#) == .string("plain é 中"))
        }

        @Test("a lone surrogate escape becomes U+FFFD (a Swift string cannot hold it)")
        func loneSurrogate() throws {
            #expect(try JSON.parse(#""\ud800""#) == .string("\u{FFFD}"))
            #expect(try JSON.parse(#""\ud800x""#) == .string("\u{FFFD}x"))
            #expect(try JSON.parse(#""\udc00\ud83d\ude00""#) == .string("\u{FFFD}😀"))
        }

        @Test("bad escapes are refused", arguments: [#""\x41""#, #""\u12G4""#, #""\U0041""#, #""\'""#, #""\u""#])
        func badEscapes(_ text: String) {
            #expect(throws: JSONParseError.self) { try JSON.parse(text) }
        }

        @Test("a repeated key keeps its first position and its last value, as a Python dict does")
        func duplicateKeys() throws {
            let object = try #require(try JSON.parse(#"{"a": 1, "b": 2, "a": 3}"#).object)
            #expect(object.keys == ["a", "b"])
            #expect(object["a"] == 3)
            // Past 16 keys the parser switches to a set; same rule.
            let many = (0..<20).map { "\"k\($0)\": \($0)" }.joined(separator: ", ") + #", "k5": "last", "k19": null"#
            let big = try #require(try JSON.parse("{" + many + "}").object)
            #expect(big.keys == (0..<20).map { "k\($0)" })
            #expect(big["k5"] == "last")
            #expect(big["k19"] == .null)
        }

        @Test("empty containers and all four kinds of JSON whitespace are read")
        func emptyAndWhitespace() throws {
            #expect(try JSON.parse("[]") == .array([]))
            #expect(try JSON.parse("{}") == .object([:]))
            #expect(try JSON.parse("[ ]") == .array([]))
            #expect(try JSON.parse("{ \n}") == .object([:]))
            #expect(try JSON.parse(" \t\n\r[ 1 ,\t2\n]\r\n ") == [1, 2])
            #expect(try JSON.parse(#"{ "a" : [ ] , "b" : { } }"#) == ["a": [], "b": [:]])
        }

        @Test("whitespace JSON does not know is refused", arguments: ["\u{c}1", "1\u{b}", "\u{a0}[]", "[1,\u{3000}2]"])
        func foreignWhitespace(_ text: String) {
            #expect(throws: JSONParseError.self) { try JSON.parse(text) }
        }

        @Test("literals and structure errors are refused", arguments: ["tru", "nul", "[1 2]", "{\"a\" 1}", "{a: 1}", "{\"a\": 1,}", "[1,]", "{,}", "'a'"])
        func structure(_ text: String) {
            #expect(throws: JSONParseError.self) { try JSON.parse(text) }
        }

        @Test("the error names the byte offset of the problem")
        func errorOffset() {
            let error = #expect(throws: JSONParseError.self) { try JSON.parse("[1, 2, x]") }
            #expect(error?.offset == 7)
            #expect(error?.description.contains("byte 7") == true)
        }

        @Test("subscripts reach into objects and arrays; wrong kinds give nil")
        func accessors() throws {
            let value = try JSON.parse(#"{"a": [10, "s", true, null, 1.5], "o": {"k": "v"}}"#)
            #expect(value["a"]?[0]?.int == 10)
            #expect(value["a"]?[1]?.string == "s")
            #expect(value["a"]?[2]?.bool == true)
            #expect(value["a"]?[3]?.isNull == true)
            #expect(value["a"]?[4]?.double == 1.5)
            #expect(value["a"]?[5] == nil)
            #expect(value["o"]?["k"]?.string == "v")
            #expect(value["missing"] == nil)
            #expect(value["a"]?["k"] == nil)
            #expect(value[0] == nil)
        }
    }
}
