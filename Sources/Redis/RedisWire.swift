/// Commands written in Redis' wire format (RESP) as they are built: a pipeline of many
/// commands is one buffer, with no array per argument or per command. The result store writes
/// every task's keys and states this way (`ops/cpu-per-task --mallocs` counts what it saves).
///
/// ```swift
/// var wire = RedisWire()
/// wire.command(arguments: 3)
/// wire.append("SET"); wire.append("celery-task-meta-", id); wire.append(json)
/// let replies = try await redis.pipeline(wire)
/// ```
/// Each `command(arguments: n)` must be followed by exactly `n` appends: the server reads the
/// count, and a wrong one would desynchronise the connection. Without any `command`, the
/// appended arguments are a tail for `RedisConnection.evaluate(_:keys:arguments:encoded:)`.
public struct RedisWire: Sendable {
    /// The encoded bytes.
    public private(set) var bytes: [UInt8] = []
    /// Commands begun (each gets one reply).
    public private(set) var commands = 0
    /// Arguments appended.
    public private(set) var arguments = 0

    public init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    /// Begins a command of `count` arguments, its name included.
    public mutating func command(arguments count: Int) {
        bytes.append(UInt8(ascii: "*"))
        Self.appendLine(count, to: &bytes)
        commands += 1
    }

    /// One argument: these bytes.
    public mutating func append(_ argument: some Collection<UInt8>) {
        header(argument.count)
        bytes.append(contentsOf: argument)
        end()
    }

    /// One argument: these bytes (not the generic `append`, which a caller in another module
    /// would run unspecialised, looking up type metadata on every call).
    public mutating func append(_ argument: [UInt8]) {
        header(argument.count)
        bytes.append(contentsOf: argument)
        end()
    }

    /// One argument: this text as UTF-8.
    public mutating func append(_ text: String) {
        append(text.utf8)
    }

    /// One argument made of two texts back to back (a key prefix and an id), without joining
    /// them first.
    public mutating func append(_ first: String, _ second: String) {
        header(first.utf8.count + second.utf8.count)
        bytes.append(contentsOf: first.utf8)
        bytes.append(contentsOf: second.utf8)
        end()
    }

    /// One argument: `value` in decimal.
    public mutating func append(_ value: Int) {
        header(Self.digitCount(value.magnitude) + (value < 0 ? 1 : 0))
        Self.appendDecimal(value, to: &bytes)
        end()
    }

    /// A whole command from its arguments.
    public mutating func command(_ arguments: [[UInt8]]) {
        command(arguments: arguments.count)
        for argument in arguments { append(argument) }
    }

    /// The arguments of `tail` (encoded without a command of their own) after these.
    mutating func append(contentsOf tail: RedisWire) {
        bytes.append(contentsOf: tail.bytes)
        arguments += tail.arguments
    }

    private mutating func header(_ length: Int) {
        bytes.append(UInt8(ascii: "$"))
        Self.appendLine(length, to: &bytes)
        arguments += 1
    }

    private mutating func end() {
        bytes.append(UInt8(ascii: "\r"))
        bytes.append(UInt8(ascii: "\n"))
    }

    /// `value` in decimal followed by CRLF.
    private static func appendLine(_ value: Int, to wire: inout [UInt8]) {
        appendDecimal(value, to: &wire)
        wire.append(UInt8(ascii: "\r"))
        wire.append(UInt8(ascii: "\n"))
    }

    /// Decimal digits of `magnitude`.
    private static func digitCount(_ magnitude: UInt) -> Int {
        var digits = 1, scan = magnitude
        while scan >= 10 {
            scan /= 10
            digits += 1
        }
        return digits
    }

    private static func appendDecimal(_ value: Int, to wire: inout [UInt8]) {
        if value < 0 { wire.append(UInt8(ascii: "-")) }
        let digits = digitCount(value.magnitude)
        var index = wire.count + digits
        wire.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits))
        var rest = value.magnitude
        repeat {
            index -= 1
            wire[index] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
        } while rest > 0
    }
}
