@testable import Conveyor
import Testing

/// The exception text a `ChordError` quotes is Python's own `repr()`, so a message written by
/// a Swift worker reads exactly as one written by Celery's.
@Suite("Python repr of stored exceptions")
struct ExceptionReprTests {
    /// `repr(ValueError(text))` as Python 3 prints it, for each text.
    static let pythonOutputs: [(String, String)] = [
        ("boom", "ValueError('boom')"),
        ("it's", "ValueError(\"it's\")"),
        ("say \"hi\"", "ValueError('say \"hi\"')"),
        ("both ' and \"", "ValueError('both \\' and \"')"),
        ("tab\tnew\nline\\", "ValueError('tab\\tnew\\nline\\\\')"),
        ("caf\u{e9} \u{2603}", "ValueError('caf\u{e9} \u{2603}')"),
        ("nbsp\u{a0}x", "ValueError('nbsp\\xa0x')"),
        ("\u{7f}\u{01}", "ValueError('\\x7f\\x01')"),
        ("emoji \u{1F600}", "ValueError('emoji \u{1F600}')"),
        ("", "ValueError('')"),
        ("zero\u{200b}width", "ValueError('zero\\u200bwidth')"),
    ]

    @Test("one-argument exceptions print as Python's repr()", arguments: pythonOutputs)
    func oneArgument(text: String, expected: String) {
        let stored = ExceptionInfo(type: "ValueError", module: "builtins", message: text).json
        #expect(ExceptionInfo.pythonRepr(of: stored) == expected)
    }

    @Test("several arguments, and a value that is not an exception")
    func severalArguments() {
        let stored = ExceptionInfo(type: "ValueError", module: "builtins", arguments: ["a", 42]).json
        #expect(ExceptionInfo.pythonRepr(of: stored) == "ValueError('a', 42)")
        #expect(ExceptionInfo.pythonRepr(of: [1, "x"]) == "[1, 'x']")
    }
}
