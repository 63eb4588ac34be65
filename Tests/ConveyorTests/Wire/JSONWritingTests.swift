import Conveyor
import Testing

extension WireTests {
    /// Expected strings are Python 3.11's `json.dumps(value)` output, pasted in.
    @Suite("JSON output equals Python's json.dumps")
    struct JSONWriting {
        @Test("nested objects keep their key order, with Python's separators")
        func keyOrder() {
            let value: JSON = ["z": 1, "a": ["y": [1, 2, ["x": nil]], "b": true], "m": false]
            #expect(value.text() == #"{"z": 1, "a": {"y": [1, 2, {"x": null}], "b": true}, "m": false}"#)
        }

        @Test("non-ASCII text is escaped as \\uXXXX, astral characters as surrogate pairs")
        func unicode() {
            #expect(JSON.string("é中😀").text() == #""\u00e9\u4e2d\ud83d\ude00""#)
            #expect(JSON.string("\u{2028}\u{a0}\u{feff}").text() == #""\u2028\u00a0\ufeff""#)
            #expect(JSON.object(["clé": "valeur"]).text() == #"{"cl\u00e9": "valeur"}"#)
        }

        @Test("control characters use the short escapes where JSON has them, \\u00XX otherwise")
        func controlCharacters() {
            #expect(JSON.string("\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f}").text() == #""\u0000\u0001\b\t\n\u000b\f\r\u001f""#)
        }

        @Test("quotes and backslashes are escaped, slashes are not")
        func quotes() {
            #expect(JSON.string(#"say "hi" \ back/slash"#).text() == #""say \"hi\" \\ back/slash""#)
        }

        @Test("DEL (0x7f) is escaped as Python's ensure_ascii does")
        func delete() {
            #expect(JSON.string("a\u{7f}b").text() == #""a\u007fb""#)
        }

        @Test("floats print as Python's repr: shortest digits, exponent from 1e16 and below 1e-4, NaN and Infinity")
        func floats() {
            let values: JSON = [0.1, 1e16, 1e-05, 1.5, -0.0, 123456789012345678.0, .double(.nan), .double(.infinity), .double(-.infinity)]
            #expect(values.text() == "[0.1, 1e+16, 1e-05, 1.5, -0.0, 1.2345678901234568e+17, NaN, Infinity, -Infinity]")
            let more: JSON = [1e15, 1e-4, 100.0, 2.5e-7, 1.7976931348623157e308, .double(.leastNonzeroMagnitude), 0.30000000000000004, 1e22, 12345.678]
            #expect(more.text() == "[1000000000000000.0, 0.0001, 100.0, 2.5e-07, 1.7976931348623157e+308, 5e-324, 0.30000000000000004, 1e+22, 12345.678]")
        }

        @Test("floats between 2^53 and 1e16 print positionally, as Python does")
        func floatsBelowExponentThreshold() {
            let values: JSON = [9007199254740994.0, 9999999999999998.0, -9.1e15, 9007199254740992.0]
            #expect(values.text() == "[9007199254740994.0, 9999999999999998.0, -9100000000000000.0, 9007199254740992.0]")
        }

        @Test("integers beyond 64 bits keep every digit; the Int64 bounds print exactly")
        func bigIntegers() throws {
            let values: JSON = [.bigInt("1180591620717411303424"), .bigInt("-9223372036854775809"), .int(.max), .int(.min), 0, -7]
            #expect(values.text() == "[1180591620717411303424, -9223372036854775809, 9223372036854775807, -9223372036854775808, 0, -7]")
        }

        @Test("what Python wrote, parsed and written again, is byte for byte the same", arguments: [
            #"{"z": 1, "a": {"y": [1, 2, {"x": null}], "b": true}, "m": false}"#,
            #""\u00e9\u4e2d\ud83d\ude00""#,
            #""\u0000\u0001\b\t\n\u000b\f\r\u001f""#,
            #""say \"hi\" \\ back/slash""#,
            #""\u007f""#,
            "[0.1, 1e+16, 1e-05, 1.5, -0.0, 1.2345678901234568e+17, NaN, Infinity, -Infinity]",
            "[1000000000000000.0, 0.0001, 100.0, 2.5e-07, 1.7976931348623157e+308, 5e-324, 0.30000000000000004, 1e+22, 12345.678]",
            "[9007199254740994.0, 9999999999999998.0, -9100000000000000.0, 9007199254740992.0]",
            "[1180591620717411303424, -9223372036854775809, 9223372036854775807, -9223372036854775808]",
            #"[[2, 2], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]"#,
            "[]", "{}", "[[], {}]", #""""#,
        ])
        func pythonRoundTrip(_ text: String) throws {
            #expect(try JSON.parse(text).text() == text)
        }

        @Test("compact style has no spaces and keeps UTF-8, but still escapes quotes and control characters")
        func compact() {
            let value: JSON = ["a": [1, "é😀"], "b": ["q\"\n": nil]]
            #expect(value.text(.compact) == "{\"a\":[1,\"é😀\"],\"b\":{\"q\\\"\\n\":null}}")
        }

        @Test("serialized bytes and text agree")
        func bytesAndText() {
            let value: JSON = ["k": "中"]
            #expect(value.serialized() == Array(value.text().utf8))
            #expect(value.serialized(.compact) == Array("{\"k\":\"中\"}".utf8))
        }
    }
}
