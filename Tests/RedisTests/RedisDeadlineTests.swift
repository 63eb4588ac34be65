import Foundation
import IOSupport
import Redis
import Synchronization
import Testing
import TestSupport

/// A caller's timeout bounds its call even when the server accepts connections and then says
/// nothing (a frozen process, a hung host): the endpoint's connect and command timeouts here
/// are an hour, so a call that waited for them would reach the test's hang guard instead.
@Suite("Redis calls end at their caller's timeout when the server is silent")
struct RedisDeadlineTests {
    @Test("PING with a 2 s timeout through a frozen proxy fails, on a new connection (SELECT in the handshake) and on an open one",
          arguments: [false, true])
    func silentServer(connectedFirst: Bool) async throws {
        let proxy = try await FaultProxy.start(target: UInt16(try TestRedis.endpoint().port))
        let endpoint = try RedisEndpoint(url: "redis://127.0.0.1:\(proxy.port)/1?socket_timeout=3600&socket_connect_timeout=3600")
        let redis = try RedisConnection(configuration: .init(endpoint: endpoint, name: "redis-tests-silent", queueTimeout: 3600),
                                        logger: TestRedis.logger)
        if connectedFirst { try await redis.ping(timeout: hangGuard) }
        try await proxy.freeze()
        let ended = Mutex(false)
        let call = Task {
            defer { ended.withLock { $0 = true } }
            try await redis.ping(timeout: 2)
        }
        let finished: Result<Void, any Error>
        do {
            try await eventually(timeout: hangGuard, "the PING ended") { ended.withLock { $0 } }
            finished = .success(())
        } catch {
            finished = .failure(error)
        }
        call.cancel()
        let outcome = await call.result
        proxy.thaw()
        await redis.close()
        try await proxy.stop()
        try finished.get()
        #expect(throws: RedisError.self) { try outcome.get() }
    }
}
