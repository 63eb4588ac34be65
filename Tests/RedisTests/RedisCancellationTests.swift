import Foundation
import IOSupport
import Redis
import Synchronization
import Testing
import TestSupport

/// Cancelling a caller ends its Redis call at once, and the connection stays in step: a
/// command never written is never sent, and the reply of one already written is read and
/// dropped in its turn. Every wait here is on an event (a client listed as blocked, a reply),
/// none on time.
@Suite("Redis calls end when their caller is cancelled")
struct RedisCancellationTests {
    /// A connection whose read timeout outlasts any test, so a BLPOP with no timeout stays
    /// blocked until the test pushes a value.
    private static func patientConnection(_ name: String) throws -> RedisConnection {
        var endpoint = try TestRedis.endpoint()
        endpoint.commandTimeout = 3600
        return try RedisConnection(configuration: .init(endpoint: endpoint, name: "redis-tests-\(name)", queueTimeout: 3600),
                                   logger: TestRedis.logger)
    }

    @Test("a cancelled BLPOP ends at once; a command queued behind it and cancelled is never sent; the BLPOP's late reply is dropped in order")
    func cancelledBlockingCommand() async throws {
        let redis = try Self.patientConnection("blpop-cancel")
        let observer = try TestRedis.connection("blpop-observer")
        let name = "blpop-\(UUID().uuidString.prefix(8).lowercased())"
        let list = TestRedis.uniqueKey("blpop-list")
        let counter = TestRedis.uniqueKey("never-incremented")
        #expect(try await redis.send("CLIENT", "SETNAME", name) == .status("OK"))

        // Blocks on the server with no timeout of its own.
        let blocked = Task { try await redis.send("BLPOP", list, 0) }
        func serverBlocked() async throws -> Bool {
            let clients = try await observer.send("CLIENT", "LIST").string ?? ""
            return clients.split(separator: "\n").contains { $0.contains("name=\(name) ") && $0.contains("cmd=blpop") }
        }
        try await eventually(timeout: 60, "the BLPOP blocking on the server") { try await serverBlocked() }
        blocked.cancel()
        await #expect(throws: CancellationError.self) { try await blocked.value }
        // Ended without the server: it is still blocked.
        #expect(try await serverBlocked())

        // Queued behind the BLPOP (the I/O thread is reading its reply), then cancelled.
        let increment = Task { try await redis.send("INCR", counter) }
        increment.cancel()
        await #expect(throws: CancellationError.self) { try await increment.value }

        let ping = Task { try await redis.send("PING") }
        #expect(try await observer.send("LPUSH", list, "x") == .integer(1))
        // PONG, not the BLPOP's [list, x]: the dropped reply was read in its turn.
        #expect(try await ping.value == .status("PONG"))
        #expect(try await observer.send("LLEN", list) == .integer(0))
        #expect(try await redis.send("GET", counter) == .null)
        #expect(try await redis.send("SET", counter, "set") == .status("OK"))
        #expect(try await redis.send("GET", counter).string == "set")
        _ = try await observer.send("DEL", counter)
        await redis.close()
        await observer.close()
    }

    @Test("a caller cancelled before it calls sends nothing")
    func cancelledBeforeCalling() async throws {
        let redis = try TestRedis.connection("cancel-early")
        let counter = TestRedis.uniqueKey("never-incremented")
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await redis.pipeline([["INCR", counter].map(\.redisBytes), ["INCR", counter].map(\.redisBytes)])
        }
        await #expect(throws: CancellationError.self) { try await early.value }
        #expect(try await redis.send("GET", counter) == .null)
        await redis.close()
    }

    @Test("a command waiting for a Redis that is down ends with CancellationError when its caller is cancelled")
    func cancelledWhileUnreachable() async throws {
        let endpoint = try RedisEndpoint(url: "unix:///nonexistent/conveyor-test-\(UUID().uuidString).sock")
        let redis = try RedisConnection(configuration: .init(endpoint: endpoint, name: "redis-tests-down", queueTimeout: 3600),
                                        logger: TestRedis.logger)
        let waiting = Task { try await redis.send("PING") }
        try await eventually(timeout: 60, "the connection failing to connect") {
            if case .reconnecting = redis.state { return true }
            return false
        }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        await redis.close()
    }

    @Test("a subscribe waiting for a Redis that is down ends with CancellationError when its caller is cancelled")
    func cancelledSubscribe() async throws {
        let endpoint = try RedisEndpoint(url: "unix:///nonexistent/conveyor-test-\(UUID().uuidString).sock")
        let subscriber = try RedisSubscriber(endpoint: endpoint, logger: TestRedis.logger, onMessage: { _, _ in })
        let failed = Mutex(false)
        subscriber.onStateChange { state in
            if case .reconnecting = state { failed.withLock { $0 = true } }
        }
        let waiting = Task { try await subscriber.subscribe("conveyor-test:never", timeout: .infinity) }
        try await eventually(timeout: 60, "the subscriber failing to connect") { failed.withLock { $0 } }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        await subscriber.close()
    }
}
