import Foundation
import IOSupport
import Redis
import Synchronization
import Testing
import TestSupport

@Suite("Redis connection against the real server")
struct RedisConnectionTests {
    @Test("SET then GET returns the exact bytes, NUL and 0xFF included")
    func binarySafeRoundTrip() async throws {
        try await TestRedis.withConnection("binary") { redis in
            let key = TestRedis.uniqueKey("binary")
            let value: [UInt8] = [0x00, 0xFF, 0x0D, 0x0A, 0x24, 0x2A, 0x00, 0x80, 0xC3, 0x28, 0xFE]
            #expect(try await redis.send("SET", key, value) == .status("OK"))
            let reply = try await redis.send("GET", key)
            #expect(reply == .string(value))
            #expect(reply.bytes == value)
            #expect(try await redis.send("STRLEN", key).integer == Int64(value.count))
            #expect(try await redis.send("DEL", key) == .integer(1))
            #expect(try await redis.send("GET", key).isNull)
        }
    }

    @Test("binary-safe keys and a 1 MB value round-trip")
    func binaryKeyAndLargeValue() async throws {
        try await TestRedis.withConnection("large") { redis in
            let key = Array(TestRedis.uniqueKey("bin\u{0}key").utf8) + [0xFF]
            var generator = SystemRandomNumberGenerator()
            let value = (0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try await redis.send(["SET", key, value])
            #expect(try await redis.send(["GET", key]).bytes == value)
            #expect(try await redis.send(["DEL", key]) == .integer(1))
        }
    }

    @Test("integer, array, status and nil replies arrive typed")
    func replyTypes() async throws {
        try await TestRedis.withConnection("types") { redis in
            let key = TestRedis.uniqueKey("list")
            #expect(try await redis.send("RPUSH", key, "a", "b", "c") == .integer(3))
            #expect(try await redis.send("LRANGE", key, 0, -1) == .array([.string(Array("a".utf8)), .string(Array("b".utf8)), .string(Array("c".utf8))]))
            let counter = TestRedis.uniqueKey("missing-counter")
            #expect(try await redis.send("INCRBY", counter, Int64(-5)).integer == -5)
            #expect(try await redis.send("PING") == .status("PONG"))
            #expect(try await redis.send("GET", TestRedis.uniqueKey("nothing")) == .null)
            let deleted = try await redis.send("DEL", key, counter)
            #expect(deleted == .integer(2))
        }
    }

    @Test("2,000 concurrent commands each get their own reply (pipelining keeps order)")
    func concurrentCommands() async throws {
        try await TestRedis.withConnection("pipelined") { redis in
            let prefix = UUID().uuidString
            let mismatches = try await withThrowingTaskGroup(of: Int?.self) { group in
                for index in 0..<2_000 {
                    group.addTask {
                        // Replies of different sizes, so several land in one read and some span reads.
                        let payload = "\(prefix)-\(index)-" + String(repeating: "x", count: index % 97 * 37)
                        let reply = try await redis.send("ECHO", payload)
                        return reply.string == payload ? nil : index
                    }
                }
                var wrong: [Int] = []
                for try await result in group { if let result { wrong.append(result) } }
                return wrong
            }
            #expect(mismatches.isEmpty, "commands with someone else's reply: \(mismatches.prefix(10))")
        }
    }

    @Test("concurrent INCRs from many tasks all count")
    func concurrentIncrements() async throws {
        try await TestRedis.withConnection("incr") { redis in
            let key = TestRedis.uniqueKey("counter")
            let values = try await withThrowingTaskGroup(of: Int64.self) { group in
                for _ in 0..<500 { group.addTask { try await redis.send("INCR", key).integer ?? -1 } }
                var all: [Int64] = []
                for try await value in group { all.append(value) }
                return all
            }
            #expect(values.sorted() == Array(1...500))
            #expect(try await redis.send("GET", key).integer == 500)
            _ = try await redis.send("DEL", key)
        }
    }

    @Test("an error reply throws .server with Redis' message, and the connection keeps working")
    func errorReplies() async throws {
        try await TestRedis.withConnection("errors") { redis in
            let key = TestRedis.uniqueKey("not-a-number")
            _ = try await redis.send("SET", key, "abc")
            let error = await #expect(throws: RedisError.self) { try await redis.send("INCR", key) }
            #expect(error?.code == .server)
            #expect(error?.message.contains("not an integer") == true, "message: \(error?.message ?? "")")
            let unknown = await #expect(throws: RedisError.self) { try await redis.send("NO-SUCH-COMMAND", "x") }
            #expect(unknown?.code == .server)
            #expect(unknown?.message.lowercased().contains("unknown command") == true)
            #expect(try await redis.raw([Array("INCR".utf8), Array(key.utf8)]).isError)
            #expect(try await redis.send("GET", key).string == "abc")
            _ = try await redis.send("DEL", key)
        }
    }

    @Test("the database in the URL is selected on connect")
    func selectsDatabase() async throws {
        let base = try TestRedis.endpoint()
        var endpoint = base
        endpoint.database = base.database == 9 ? 8 : 9
        let key = TestRedis.uniqueKey("other-db")
        let other = try RedisConnection(configuration: .init(endpoint: endpoint, name: "redis-tests-other-db"), logger: TestRedis.logger)
        do {
            _ = try await other.send("SET", key, "elsewhere")
            try await TestRedis.withConnection("base-db") { redis in
                let seen = try await redis.send("GET", key)
                #expect(seen.isNull, "a key set in database \(endpoint.database) is visible in database \(base.database)")
            }
            #expect(try await other.send("GET", key).string == "elsewhere")
            _ = try await other.send("DEL", key)
        } catch {
            await other.close()
            throw error
        }
        await other.close()
    }
}

@Suite("Redis scripts: EVALSHA with NOSCRIPT fallback")
struct RedisScriptTests {
    @Test("a script Redis has never seen runs on the first call, is cached under our SHA-1, and runs again after SCRIPT FLUSH")
    func noscriptFallback() async throws {
        try await TestRedis.withConnection("scripts") { redis in
            let marker = UUID().uuidString
            let script = RedisScript("return {KEYS[1], ARGV[1], '\(marker)'}")
            #expect(try await redis.send("SCRIPT", "EXISTS", script.sha1) == .array([.integer(0)]))

            let key = TestRedis.uniqueKey("script")
            let expected: RedisReply = .array([.string(Array(key.utf8)), .string(Array("arg".utf8)), .string(Array(marker.utf8))])
            #expect(try await redis.evaluate(script, keys: [key], arguments: ["arg"]) == expected)
            // EVAL cached it under the name we computed, so the next call is a plain EVALSHA.
            #expect(try await redis.send("SCRIPT", "EXISTS", script.sha1) == .array([.integer(1)]))
            #expect(try await redis.evaluate(script, keys: [key], arguments: ["arg"]) == expected)

            _ = try await redis.send("SCRIPT", "FLUSH")
            #expect(try await redis.send("SCRIPT", "EXISTS", script.sha1) == .array([.integer(0)]))
            #expect(try await redis.evaluate(script, keys: [key], arguments: ["arg"]) == expected)
        }
    }

    @Test("our SHA-1 of a script equals the name SCRIPT LOAD gives it")
    func shaMatchesRedis() async throws {
        try await TestRedis.withConnection("script-load") { redis in
            let script = RedisScript("-- \(UUID().uuidString) é 中\nreturn redis.call('PING')")
            let loaded = try await redis.send("SCRIPT", "LOAD", script.source)
            #expect(loaded.string == script.sha1)
        }
    }

    @Test("a script that fails throws .server with Redis' message")
    func scriptError() async throws {
        try await TestRedis.withConnection("script-error") { redis in
            let script = RedisScript("return redis.error_reply('conveyor test failure \(UUID().uuidString)')")
            let error = await #expect(throws: RedisError.self) { try await redis.evaluate(script, keys: []) }
            #expect(error?.code == .server)
            #expect(error?.message.contains("conveyor test failure") == true)
        }
    }
}

@Suite("Redis pub/sub subscriber")
struct RedisSubscriberTests {
    @Test("subscribe returns once confirmed, so a PUBLISH right after reaches onMessage")
    func subscribeThenPublish() async throws {
        let inbox = MessageInbox()
        let subscriber = try RedisSubscriber(endpoint: try TestRedis.endpoint(), logger: TestRedis.logger, onMessage: inbox.handler)
        let channel = TestRedis.uniqueKey("channel")
        do {
            try await subscriber.subscribe(channel, timeout: 60)
            try await TestRedis.withConnection("publisher") { redis in
                let payload: [UInt8] = [0x7B, 0x00, 0xFF, 0x7D]
                #expect(try await redis.send(["PUBLISH", channel, payload]) == .integer(1), "the subscription was live when subscribe returned")
                try await eventually(timeout: 60, "the message on \(channel)") { inbox.payloads(on: channel) == [payload] }
            }
        } catch {
            await subscriber.close()
            throw error
        }
        await subscriber.close()
    }

    @Test("several channels on one subscriber each get their own messages")
    func severalChannels() async throws {
        let inbox = MessageInbox()
        let subscriber = try RedisSubscriber(endpoint: try TestRedis.endpoint(), logger: TestRedis.logger, onMessage: inbox.handler)
        let channels = (0..<5).map { TestRedis.uniqueKey("channel-\($0)") }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for channel in channels { group.addTask { try await subscriber.subscribe(channel, timeout: 60) } }
                try await group.waitForAll()
            }
            // A second subscribe to a live channel is confirmed too.
            try await subscriber.subscribe(channels[0], timeout: 60)
            try await TestRedis.withConnection("publisher-many") { redis in
                for (index, channel) in channels.enumerated() {
                    #expect(try await redis.send("PUBLISH", channel, "m\(index)") == .integer(1))
                }
                try await eventually(timeout: 60, "one message per channel") {
                    channels.enumerated().allSatisfy { index, channel in inbox.payloads(on: channel) == [Array("m\(index)".utf8)] }
                }
            }
        } catch {
            await subscriber.close()
            throw error
        }
        await subscriber.close()
    }

    @Test("after unsubscribe, nothing more is delivered on that channel")
    func unsubscribeStops() async throws {
        let inbox = MessageInbox()
        let subscriber = try RedisSubscriber(endpoint: try TestRedis.endpoint(), logger: TestRedis.logger, onMessage: inbox.handler)
        let channel = TestRedis.uniqueKey("leaving")
        do {
            try await subscriber.subscribe(channel, timeout: 60)
            try await TestRedis.withConnection("publisher-unsub") { redis in
                #expect(try await redis.send("PUBLISH", channel, "before") == .integer(1))
                try await eventually(timeout: 60, "the first message") { inbox.payloads(on: channel).count == 1 }
                subscriber.unsubscribe(channel)
                // Redis counts receivers: once it says 0 the unsubscribe took effect.
                var delivered = 1
                try await eventually(timeout: 60, "Redis to see no subscriber on \(channel)") {
                    let receivers = try await redis.send("PUBLISH", channel, "during").integer ?? -1
                    delivered += Int(receivers)
                    return receivers == 0
                }
                #expect(try await redis.send("PUBLISH", channel, "after") == .integer(0))
                // Exactly the messages Redis says it delivered arrived, and nothing after.
                try await eventually(timeout: 60, "the in-flight messages") { inbox.payloads(on: channel).count == delivered }
                #expect(!inbox.payloads(on: channel).contains(Array("after".utf8)))
            }
        } catch {
            await subscriber.close()
            throw error
        }
        await subscriber.close()
    }
}

@Suite("Redis failures say what went wrong")
struct RedisFailureTests {
    @Test("with nothing listening, a command fails with .unavailable once its queue timeout passes, naming the endpoint")
    func closedPort() async throws {
        let endpoint = try RedisEndpoint(url: "redis://:s3cret-pw@127.0.0.1:1/0")
        let redis = try RedisConnection(configuration: .init(endpoint: endpoint, name: "redis-tests-closed", queueTimeout: 1,
                                                             reconnect: Backoff(base: 0.05, cap: 0.25, floor: 0.02)),
                                        logger: TestRedis.logger)
        // What the failing command reports is the last attempt's error: wait for a failed attempt
        // (connecting starts with a first command), however slowly a loaded machine gets there.
        _ = try? await redis.send("PING")
        try await eventually(timeout: 60, "the first connection attempt to fail") { redis.lastError != nil }
        let started = ContinuousClock.now
        let error = await #expect(throws: RedisError.self) { try await redis.send("PING") }
        let elapsed = ContinuousClock.now - started
        await redis.close()
        #expect(error?.code == .unavailable)
        // Not before the queue timeout; the upper bound only catches a hang.
        #expect(elapsed >= .milliseconds(900) && elapsed < .seconds(hangGuard), "failed after \(elapsed)")
        let message = error?.message ?? ""
        #expect(message.contains("127.0.0.1:1"), "message: \(message)")
        #expect(message.lowercased().contains("refused"), "message: \(message)")
        #expect(!message.contains("s3cret-pw"))
    }

    @Test("a wrong password fails commands with the server's refusal, not a hang")
    func wrongPassword() async throws {
        var endpoint = try TestRedis.endpoint()
        endpoint.password = "wrong-\(UUID().uuidString)"
        let redis = try RedisConnection(configuration: .init(endpoint: endpoint, name: "redis-tests-auth", queueTimeout: 1,
                                                             reconnect: Backoff(base: 0.05, cap: 0.25, floor: 0.02)),
                                        logger: TestRedis.logger)
        _ = try? await redis.send("PING")
        try await eventually(timeout: 60, "the first connection attempt to fail") { redis.lastError != nil }
        let error = await #expect(throws: RedisError.self) { try await redis.send("PING") }
        await redis.close()
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("AUTH") == true, "message: \(error?.message ?? "")")
        #expect(error?.message.contains(endpoint.password ?? "") == false)
    }

    @Test("a closed connection fails new commands with .closed")
    func closedConnection() async throws {
        let redis = try TestRedis.connection("closing")
        #expect(try await redis.send("PING") == .status("PONG"))
        await redis.close()
        let result = await Bounded.outcome(within: hangGuard) { try await redis.send("PING") }
        #expect(result != nil, "a command after close() did not return within \(hangGuard) s")
        if case let .failure(error)? = result { #expect((error as? RedisError)?.code == .closed) } else if result != nil {
            Issue.record("a command after close() succeeded")
        }
    }
}

/// Waits a bounded time for calls that might never return.
enum Bounded {
    /// Runs `operation` in a task of its own and waits at most `timeout` seconds for it; nil when
    /// it did not return in time (the stuck task is leaked rather than hanging the run).
    static func outcome<T: Sendable>(within timeout: Double,
                                     _ operation: @escaping @Sendable () async throws -> T) async -> Result<T, any Error>? {
        let box = Mutex<Result<T, any Error>?>(nil)
        Task {
            do {
                let value = try await operation()
                box.withLock { $0 = .success(value) }
            } catch {
                box.withLock { $0 = .failure(error) }
            }
        }
        try? await eventually(timeout: timeout, "the call returned") { box.withLock { $0 } != nil }
        return box.withLock { $0 }
    }
}

extension RedisReply {
    var isError: Bool {
        if case .error = self { return true }
        return false
    }
}
