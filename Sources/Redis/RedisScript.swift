/// A Lua script run with `EVALSHA`, falling back to `EVAL` when Redis answers NOSCRIPT
/// (its script cache is empty after every restart).
public struct RedisScript: Sendable, Hashable {
    /// The Lua source.
    public let source: String
    /// Hex SHA-1 of the source, as Redis names cached scripts.
    public let sha1: String

    public init(_ source: String) {
        self.source = source
        self.sha1 = SHA1.hex(Array(source.utf8))
    }
}

extension RedisConnection {
    /// Runs `script` with `keys` and `arguments`. Error replies throw `RedisError.Code.server`.
    public func evaluate(_ script: RedisScript, keys: [any RedisArgument], arguments: [any RedisArgument] = [],
                         timeout: Double? = nil) async throws -> RedisReply {
        var tail = RedisWire()
        for argument in keys { tail.append(argument.redisBytes) }
        for argument in arguments { tail.append(argument.redisBytes) }
        return try await evaluate(script, keys: keys.count, encoded: tail, timeout: timeout)
    }

    /// `evaluate` with the keys and arguments already encoded, keys first: `tail` holds
    /// `keys` keys, then the arguments, appended without a command of their own.
    public func evaluate(_ script: RedisScript, keys: Int, encoded tail: RedisWire, timeout: Double? = nil) async throws -> RedisReply {
        func call(_ name: String, _ body: String) async throws -> RedisReply {
            var wire = RedisWire(capacity: tail.bytes.count + body.utf8.count + 48)
            wire.command(arguments: 3 + tail.arguments)
            wire.append(name)
            wire.append(body)
            wire.append(keys)
            wire.append(contentsOf: tail)
            return try await pipeline(wire, timeout: timeout).first ?? .null
        }
        var reply = try await call("EVALSHA", script.sha1)
        if case let .error(message) = reply, message.hasPrefix("NOSCRIPT") {
            reply = try await call("EVAL", script.source)
        }
        if case let .error(message) = reply { throw RedisError(.server, message) }
        return reply
    }
}

/// SHA-1, only to name scripts the way Redis does and to shorten long key parts (not for
/// anything security-related).
public enum SHA1 {
    /// The digest of `message` as 40 lowercase hex digits.
    public static func hex(_ message: [UInt8]) -> String {
        var h: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)
        var data = message
        let bitLength = UInt64(message.count) * 8
        data.append(0x80)
        while data.count % 64 != 56 { data.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { data.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        var w = [UInt32](repeating: 0, count: 80)
        for chunk in stride(from: 0, to: data.count, by: 64) {
            for i in 0..<16 {
                let j = chunk + i * 4
                w[i] = UInt32(data[j]) << 24 | UInt32(data[j + 1]) << 16 | UInt32(data[j + 2]) << 8 | UInt32(data[j + 3])
            }
            for i in 16..<80 { w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1) }
            var (a, b, c, d, e) = h
            for i in 0..<80 {
                let f: UInt32, k: UInt32
                switch i {
                case 0..<20: f = (b & c) | (~b & d); k = 0x5A82_7999
                case 20..<40: f = b ^ c ^ d; k = 0x6ED9_EBA1
                case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1B_BCDC
                default: f = b ^ c ^ d; k = 0xCA62_C1D6
                }
                let temp = rotl(a, 5) &+ f &+ e &+ k &+ w[i]
                e = d; d = c; c = rotl(b, 30); b = a; a = temp
            }
            h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d, h.4 &+ e)
        }
        return [h.0, h.1, h.2, h.3, h.4].map { word in
            let s = String(word, radix: 16)
            return String(repeating: "0", count: 8 - s.count) + s
        }.joined()
    }

    private static func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 { (x << n) | (x >> (32 - n)) }
}
