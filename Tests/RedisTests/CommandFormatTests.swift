@testable import Redis
import Testing

/// Commands are written in Redis' own protocol (RESP) before hiredis sends them.
@Suite("RESP command format")
struct CommandFormatTests {
    private func wire(_ commands: [[String]]) -> String {
        var wire = RedisWire()
        for command in commands { wire.command(command.map { Array($0.utf8) }) }
        return String(decoding: wire.bytes, as: UTF8.self)
    }

    @Test("arguments are counted and length-prefixed, binary-safe, empty and multi-digit lengths included")
    func format() {
        #expect(wire([["SET", "k", "v"]]) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")
        #expect(wire([["ECHO", ""]]) == "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n")
        #expect(wire([["ECHO", "line\r\nbreak"]]) == "*2\r\n$4\r\nECHO\r\n$11\r\nline\r\nbreak\r\n")
        let long = String(repeating: "x", count: 1234)
        #expect(wire([["PING"], ["ECHO", long]]) == "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$1234\r\n\(long)\r\n")
    }

    @Test("a key of two parts, decimals and multi-byte text are one argument each, with their byte lengths")
    func typedArguments() {
        var wire = RedisWire()
        wire.command(arguments: 6)
        wire.append("SETEX")
        wire.append("celery-task-meta-", "é1")
        wire.append(0)
        wire.append(86_400)
        wire.append(-12)
        wire.append([UInt8]([0, 255]))
        let expected: [UInt8] = Array("*6\r\n$5\r\nSETEX\r\n$20\r\ncelery-task-meta-é1\r\n$1\r\n0\r\n$5\r\n86400\r\n$3\r\n-12\r\n$2\r\n".utf8)
            + [0, 255] + Array("\r\n".utf8)
        #expect(wire.bytes == expected)
        #expect(wire.commands == 1)
        #expect(wire.arguments == 6)
    }

    @Test("a tail of arguments joins a command with its count: what evaluate(_:keys:encoded:) sends")
    func tail() {
        var tail = RedisWire()
        tail.append("k1")
        tail.append(7)
        #expect(tail.commands == 0)
        var wire = RedisWire()
        wire.command(arguments: 3 + tail.arguments)
        wire.append("EVALSHA")
        wire.append("abc")
        wire.append(1)
        wire.append(contentsOf: tail)
        #expect(String(decoding: wire.bytes, as: UTF8.self)
            == "*5\r\n$7\r\nEVALSHA\r\n$3\r\nabc\r\n$1\r\n1\r\n$2\r\nk1\r\n$1\r\n7\r\n")
        #expect(wire.arguments == 5)
    }
}
