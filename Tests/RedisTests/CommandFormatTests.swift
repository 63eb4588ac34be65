@testable import Redis
import Testing

/// Commands are written in Redis' own protocol (RESP) before hiredis sends them.
@Suite("RESP command format")
struct CommandFormatTests {
    private func wire(_ commands: [[String]]) -> String {
        var bytes: [UInt8] = []
        for command in commands { Context.format(command.map { Array($0.utf8) }, into: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test("arguments are counted and length-prefixed, binary-safe, empty and multi-digit lengths included")
    func format() {
        #expect(wire([["SET", "k", "v"]]) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")
        #expect(wire([["ECHO", ""]]) == "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n")
        #expect(wire([["ECHO", "line\r\nbreak"]]) == "*2\r\n$4\r\nECHO\r\n$11\r\nline\r\nbreak\r\n")
        let long = String(repeating: "x", count: 1234)
        #expect(wire([["PING"], ["ECHO", long]]) == "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$1234\r\n\(long)\r\n")
    }
}
