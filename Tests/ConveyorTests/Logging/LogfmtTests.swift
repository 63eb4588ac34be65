@testable import Conveyor
import Foundation
import Logging
import Testing

/// The worker's log lines: one logfmt line per event, who and what first, values quoted only
/// when they must be.
@Suite("logfmt log lines")
struct LogfmtTests {
    private func line(_ message: Logger.Message, level: Logger.Level = .info, logger: Logger.Metadata = [:],
                      event: Logger.Metadata? = nil) -> String {
        var handler = LogfmtLogHandler(label: "test")
        handler.metadata = logger
        let bytes = handler.render(LogEvent(level: level, message: message, metadata: event, source: nil, file: #fileID,
                                            function: #function, line: #line))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The line without its `ts=…` field (checked on its own).
    private func fields(_ text: String) -> String {
        let afterTimestamp = text.split(separator: " ", maxSplits: 1)
        return afterTimestamp.count == 2 ? String(afterTimestamp[1]) : ""
    }

    @Test("worker, task and id come first, the rest by name; event metadata wins over the logger's")
    func order() {
        let text = line("task succeeded", logger: ["worker": "w1@host", "runtime": "old"],
                        event: ["runtime": "0.000412", "id": "abc", "task": "conveyor.add", "attempt": "2"])
        #expect(fields(text) == "level=info msg=\"task succeeded\" worker=w1@host task=conveyor.add id=abc attempt=2 runtime=0.000412\n")
    }

    @Test("quotes only values that need it, and escapes quotes, backslashes and newlines")
    func quoting() {
        let text = line("ready", event: ["a": "plain", "b": "two words", "c": #"say "hi"\now"#, "d": "x=1", "e": "",
                                           "f": "line\nbreak", "g": "clé", "h": "tab\there", "i": "cr\r", "j": "del\u{7F}"])
        #expect(fields(text) == #"level=info msg=ready a=plain b="two words" c="say \"hi\"\\now" d="x=1" e="" f="line\nbreak" g="clé""#
                + " h=\"tab\there\" i=\"cr\r\" j=\"del\u{7F}\"\n")
    }

    @Test("non-string values are written as their description, quoted like any text")
    func values() {
        let text = line("x", level: .warning, event: ["n": .stringConvertible(42), "list": ["a", "b"]])
        #expect(fields(text) == #"level=warning msg=x list="[\"a\", \"b\"]" n=42"# + "\n")
    }

    @Test("the timestamp is UTC with microseconds, as Python writes it, and reads back as the time of the call")
    func timestamp() throws {
        let before = Date().timeIntervalSince1970
        let text = line("x")
        let after = Date().timeIntervalSince1970
        let stamp = try #require(text.split(separator: " ").first).dropFirst(3)
        #expect(stamp.count == "2026-11-27T15:02:16.728123+00:00".count)
        #expect(stamp.hasSuffix("+00:00"))
        let fraction = stamp.split(separator: ".")[1].prefix(6)
        #expect(fraction.count == 6 && fraction.allSatisfy(\.isNumber))
        // To the microsecond: digits in the wrong order or a wrong fraction would fall outside.
        let parsed = try #require(ISO8601.parse(String(stamp))).timeIntervalSince1970
        #expect(parsed >= before - 0.000_001 && parsed <= after + 0.000_001, "\(stamp) not within [\(before), \(after)]")
    }
}
