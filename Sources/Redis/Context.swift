import CHiredis
import IOSupport
#if canImport(Glibc)
import Glibc
#endif

/// One hiredis context, used synchronously and only from its owner's I/O thread.
///
/// After any error the context is dead (hiredis cannot reuse it): drop it and make a new one.
final class Context {
    private let context: UnsafeMutablePointer<redisContext>
    let endpoint: RedisEndpoint
    /// The read/write timeout set on the socket now, seconds.
    private var ioTimeout: Double

    /// Connects, applies timeouts and keepalive (hiredis' reconnect would forget both, so every
    /// connection is a fresh context), authenticates and selects the database.
    init(endpoint: RedisEndpoint) throws {
        self.endpoint = endpoint
        ioTimeout = endpoint.commandTimeout
        let connectTimeout = timeoutValue(seconds: endpoint.connectTimeout)
        let made: UnsafeMutablePointer<redisContext>?
        if let path = endpoint.socketPath {
            made = redisConnectUnixWithTimeout(path, connectTimeout)
        } else {
            made = redisConnectWithTimeout(endpoint.host, Int32(endpoint.port), connectTimeout)
        }
        guard let made else { throw RedisError(.connectionFailed, "cannot allocate a Redis context") }
        context = made
        // From here on deinit frees the context, also when init throws.
        if made.pointee.err != 0 {
            throw RedisError(.connectionFailed, "cannot connect to Redis at \(endpoint): \(Context.errorText(made))")
        }
        _ = redisSetTimeout(made, timeoutValue(seconds: endpoint.commandTimeout))
        // TCP only: on a Unix socket hiredis' keepalive fails (EOPNOTSUPP) and leaves the error
        // set on the context, so every command on it failed.
        if endpoint.socketPath == nil { _ = redisEnableKeepAlive(made) }
        do {
            if let password = endpoint.password {
                var args = ["AUTH"]
                if let user = endpoint.user { args.append(user) }
                args.append(password)
                try expectOK(try command(args.map { Array($0.utf8) }), "AUTH")
            }
            if endpoint.database != 0 {
                try expectOK(try command([Array("SELECT".utf8), Array(String(endpoint.database).utf8)]), "SELECT \(endpoint.database)")
            }
        } catch let error as RedisError {
            throw RedisError(.connectionFailed, error.message)
        }
    }

    deinit {
        redisFree(context)
    }

    var descriptor: Int32 { context.pointee.fd }

    /// Whether the server already closed this connection (or it broke) while it sat idle.
    /// A command connection never receives unsolicited data, so anything readable before we
    /// sent a command means end-of-file or an error: a restarted server, a dropped link.
    var isBroken: Bool {
        guard let events = readyEvents else { return false }
        if events & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 { return true }
        var byte: UInt8 = 0
        return recv(descriptor, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) <= 0
    }

    /// Whether a read would not block now: a reply has arrived, or the connection closed.
    var isReadable: Bool { readyEvents != nil }

    /// The socket's events when a read would not block now (`poll` without waiting), else nil.
    private var readyEvents: Int16? {
        var pfd = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, 0) > 0 ? pfd.revents : nil
    }

    private func expectOK(_ reply: RedisReply, _ what: String) throws {
        if case let .error(message) = reply { throw RedisError(.connectionFailed, "Redis at \(endpoint) refused \(what): \(message)") }
    }

    /// Queues a command in the output buffer (nothing is sent yet).
    func append(_ arguments: [[UInt8]]) {
        var wire = RedisWire()
        wire.command(arguments)
        append(wire: wire.bytes)
    }

    /// Queues commands already in the protocol's format: handed to hiredis with one copy (its
    /// argv path allocates several times per command).
    func append(wire: [UInt8]) {
        guard !wire.isEmpty else { return }
        wire.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) {
                _ = redisAppendFormattedCommand(context, $0.baseAddress, $0.count)
            }
        }
    }

    /// Sets the socket's read/write timeout for the commands that follow (a system call only
    /// when it changes).
    func limitIO(to seconds: Double) {
        guard seconds != ioTimeout else { return }
        ioTimeout = seconds
        _ = redisSetTimeout(context, timeoutValue(seconds: seconds))
    }

    /// Sends what is buffered if needed and reads the next reply.
    func reply() throws -> RedisReply {
        var raw: UnsafeMutablePointer<redisReply>?
        guard conveyor_redis_get_reply(context, &raw) == REDIS_OK, let raw else {
            throw RedisError(.connectionLost, "Redis at \(endpoint): \(Context.errorText(context))")
        }
        defer { freeReplyObject(raw) }
        return RedisReply(raw)
    }

    /// One command, one reply.
    func command(_ arguments: [[UInt8]]) throws -> RedisReply {
        append(arguments)
        return try reply()
    }

    /// Writes the output buffer completely (for the subscriber, which never waits on replies).
    func flush() throws {
        var done: Int32 = 0
        while done == 0 {
            guard redisBufferWrite(context, &done) == REDIS_OK else {
                throw RedisError(.connectionLost, "Redis at \(endpoint): \(Context.errorText(context))")
            }
        }
    }

    /// Reads what the socket has (call after `poll()` said readable) and returns complete replies.
    func readAvailable() throws -> [RedisReply] {
        guard redisBufferRead(context) == REDIS_OK else {
            throw RedisError(.connectionLost, "Redis at \(endpoint): \(Context.errorText(context))")
        }
        var replies: [RedisReply] = []
        while true {
            var raw: UnsafeMutablePointer<redisReply>?
            guard conveyor_redis_get_reply_from_reader(context, &raw) == REDIS_OK else {
                throw RedisError(.protocolError, "Redis at \(endpoint): \(Context.errorText(context))")
            }
            guard let raw else { break }
            replies.append(RedisReply(raw))
            freeReplyObject(raw)
        }
        return replies
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        var text = withUnsafeBytes(of: context.pointee.errstr) { raw -> String in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
        if text.isEmpty { text = "error \(context.pointee.err)" }
        if context.pointee.err == REDIS_ERR_IO && errno == EAGAIN { text += " (timed out)" }
        return text
    }
}
