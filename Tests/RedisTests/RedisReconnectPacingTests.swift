import Foundation
import IOSupport
import Redis
import Synchronization
import Testing
import TestSupport

@Suite("Redis reconnects back off even when the connect itself succeeds")
struct RedisReconnectPacingTests {
    /// A proxy with nothing behind it accepts every connection and closes it at once: each
    /// connect succeeds, then the connection is lost. The attempt count must keep growing (so the
    /// backoff does) instead of starting over at every successful connect, which reconnected in
    /// a tight loop.
    @Test("a server that accepts and drops every connection is retried at a growing backoff")
    func acceptThenDrop() async throws {
        let proxy = try await FaultProxy.start(target: 1)
        let endpoint = try RedisEndpoint(url: "redis://127.0.0.1:\(proxy.port)/0")
        let redis = try RedisConnection(configuration: .init(endpoint: endpoint, name: "redis-tests-dropped", queueTimeout: 60,
                                                             reconnect: Backoff(base: 0.01, cap: 0.05, floor: 0.005)),
                                        logger: TestRedis.logger)
        let attempts = Mutex<[Int]>([])
        redis.onStateChange { state in
            if case let .reconnecting(attempt, _, _) = state { attempts.withLock { $0.append(attempt) } }
        }
        // Waiting commands are what make the connection try; each one sent is lost with it.
        let caller = Task { while !Task.isCancelled { _ = try? await redis.send("PING") } }
        let reached: Result<Void, any Error>
        do {
            try await eventually(timeout: 60, "five failed connections") { attempts.withLock { $0.count } >= 5 }
            reached = .success(())
        } catch {
            reached = .failure(error)
        }
        caller.cancel()
        await redis.close()
        try await proxy.stop()
        try reached.get()
        let seen = attempts.withLock { Array($0.prefix(5)) }
        #expect(seen == [1, 2, 3, 4, 5], "attempts reported: \(seen)")
    }
}
