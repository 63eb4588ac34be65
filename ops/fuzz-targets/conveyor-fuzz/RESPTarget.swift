import CHiredis
import Redis

/// Replies from a Redis server, in any shape hiredis produces: the bytes go through hiredis' own
/// reader (the one every connection uses) and each complete reply through Conveyor's conversion.
enum RESPTarget {
    static func run(_ data: [UInt8]) {
        // hiredis 0.14 allocates a multi-bulk's element array as soon as it reads the count,
        // before any element arrives (1.x caps the count); a count no input this size can fill
        // is hiredis trusting its server, not Conveyor's code, and would only stop the fuzzer.
        guard !declaresOversizedArray(data) else { return }
        guard let reader = redisReaderCreate() else { return }
        defer { redisReaderFree(reader) }
        data.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { _ = redisReaderFeed(reader, $0.baseAddress, $0.count) }
        }
        while true {
            var raw: UnsafeMutableRawPointer? = nil
            guard redisReaderGetReply(reader, &raw) == REDIS_OK, let raw else { return }
            let reply = RedisReply(raw.assumingMemoryBound(to: redisReply.self))
            freeReplyObject(raw)
            touch(reply)
        }
    }

    private static func touch(_ reply: RedisReply) {
        _ = (reply.string, reply.bytes, reply.integer, reply.isNull)
        for element in reply.array ?? [] { touch(element) }
    }

    /// Whether some `*` is followed by a count (hiredis allows a `+`) larger than the input's length.
    private static func declaresOversizedArray(_ data: [UInt8]) -> Bool {
        var index = 0
        while index < data.count {
            defer { index += 1 }
            guard data[index] == UInt8(ascii: "*") else { continue }
            var count = 0
            var next = index + 1
            if next < data.count, data[next] == UInt8(ascii: "+") { next += 1 }
            while next < data.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(data[next]) {
                count = count * 10 + Int(data[next] - UInt8(ascii: "0"))
                if count > data.count { return true }
                next += 1
            }
        }
        return false
    }
}
