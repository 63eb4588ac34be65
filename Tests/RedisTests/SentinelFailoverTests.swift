import Foundation
import IOSupport
import Logging
import Redis
import Synchronization
import Testing
import TestSupport

/// Connections through real Sentinels (a primary, a replica and three sentinels per test, on
/// ports of their own): finding the primary, and carrying on after a failover.
@Suite("Redis through Sentinel: the primary is found, and found again after a failover")
struct SentinelFailoverTests {
    @Test("the primary is found when the first sentinel listed is down and the next names a replica")
    func firstSentinelDown() async throws {
        try await withSentinelSet("first-down") { set in
            // Nothing listens on the first port; the next sentinel is told the replica is the primary.
            let dead = try SentinelSet.freePorts(1)[0]
            try await withDirect(set.sentinelPorts[0]) { sentinel in
                _ = try await sentinel.send("SENTINEL", "REMOVE", set.masterName)
                _ = try await sentinel.send("SENTINEL", "MONITOR", set.masterName, "127.0.0.1", "\(set.replicaPort)", "2")
            }
            let recorder = LogRecorder()
            let endpoint = try RedisEndpoint(url: set.url(firstSentinels: [dead]))
            let connection = try RedisConnection(configuration: .init(endpoint: endpoint, name: "sentinel-first-down", queueTimeout: hangGuard),
                                                 logger: recorder.logger(label: "sentinel-tests"))
            defer { Task { await connection.close() } }
            let key = TestRedis.uniqueKey("sentinel")
            _ = try await connection.send("SET", key, "found")
            #expect(try await port(of: connection) == set.primaryPort)
            #expect(try await connection.send("GET", key).string == "found")
            #expect(recorder.count("redis primary found through sentinel", where: "sentinel", is: "127.0.0.1:\(set.sentinelPorts[1])") == 1)
        }
    }

    @Test("after the primary is killed, a connection and a subscriber carry on against the promoted replica")
    func primaryKilled() async throws {
        try await withSentinelSet("killed") { set in
            let endpoint = try RedisEndpoint(url: set.url())
            let connection = try RedisConnection(configuration: .init(endpoint: endpoint, name: "sentinel-killed", queueTimeout: hangGuard),
                                                 logger: TestRedis.logger)
            let inbox = MessageInbox()
            let reconnects = Mutex(0)
            let subscriber = try RedisSubscriber(endpoint: endpoint, logger: TestRedis.logger, onMessage: inbox.handler,
                                                 onReconnect: { reconnects.withLock { $0 += 1 } })
            defer {
                Task {
                    await connection.close()
                    await subscriber.close()
                }
            }
            let channel = TestRedis.uniqueKey("sentinel-channel")
            try await subscriber.subscribe(channel, timeout: hangGuard)
            let before = TestRedis.uniqueKey("before")
            _ = try await connection.send("SET", before, "kept")
            // Replication is asynchronous: the write must have reached the replica before the kill.
            #expect(try await connection.send("WAIT", 1, Int(hangGuard * 1000)).integer == 1)
            #expect(try await port(of: connection) == set.primaryPort)

            let killed = try await set.killPrimary()
            #expect(killed == set.primaryPort)
            let promoted = try await set.waitForFailover(from: killed)
            #expect(promoted == set.replicaPort)

            // Queued while the connection finds the new primary (its queue timeout is the hang guard).
            #expect(try await connection.send("GET", before).string == "kept")
            #expect(try await port(of: connection) == promoted)
            let after = TestRedis.uniqueKey("after")
            _ = try await connection.send("SET", after, "written")
            try await withDirect(promoted) { direct in
                let value = try await direct.send("GET", after).string
                #expect(value == "written")
            }

            // Confirmed by the new primary, after the channel subscribed again on the same connection.
            try await subscriber.subscribe(TestRedis.uniqueKey("probe"), timeout: hangGuard)
            #expect(reconnects.withLock { $0 } >= 1)
            _ = try await connection.send("PUBLISH", channel, "after-failover")
            try await eventually(timeout: hangGuard, "the message published on the new primary reaching the subscriber") {
                inbox.payloads(on: channel).contains(Array("after-failover".utf8))
            }
        }
    }

    @Test("a write refused with READONLY by a demoted primary is sent again to the new one, and its caller sees success")
    func demotedPrimary() async throws {
        try await withSentinelSet("demoted") { set in
            let recorder = LogRecorder()
            let endpoint = try RedisEndpoint(url: set.url())
            let connection = try RedisConnection(configuration: .init(endpoint: endpoint, name: "sentinel-demoted", queueTimeout: hangGuard),
                                                 logger: recorder.logger(label: "sentinel-tests"))
            defer { Task { await connection.close() } }
            #expect(try await port(of: connection) == set.primaryPort)
            // Swap the roles by hand while the sentinels look away (as a failover's demotion does,
            // but without closing our connection), then point the sentinels at the new primary.
            for port in set.sentinelPorts {
                try await withDirect(port) { _ = try await $0.send("SENTINEL", "REMOVE", set.masterName) }
            }
            try await withDirect(set.replicaPort) { _ = try await $0.send("REPLICAOF", "NO", "ONE") }
            try await withDirect(set.primaryPort) { _ = try await $0.send("REPLICAOF", "127.0.0.1", "\(set.replicaPort)") }
            for port in set.sentinelPorts {
                try await withDirect(port) {
                    _ = try await $0.send("SENTINEL", "MONITOR", set.masterName, "127.0.0.1", "\(set.replicaPort)", "2")
                }
            }
            let key = TestRedis.uniqueKey("demoted")
            _ = try await connection.send("SET", key, "moved")
            #expect(recorder.count("redis primary demoted; finding the new primary") == 1)
            #expect(try await port(of: connection) == set.replicaPort)
            try await withDirect(set.replicaPort) { direct in
                let value = try await direct.send("GET", key).string
                #expect(value == "moved")
            }
        }
    }

    /// The TCP port of the server a connection is on.
    private func port(of connection: RedisConnection) async throws -> Int? {
        let reply = try await connection.send("CONFIG", "GET", "port")
        return reply.array?.last?.string.flatMap { Int($0) }
    }

    /// Runs `body` with a set started for it, stopping the set afterwards whatever happens.
    private func withSentinelSet(_ label: String, _ body: (SentinelSet) async throws -> Void) async throws {
        let set = try await SentinelSet.start(label: label)
        do {
            try await body(set)
            await set.stop()
        } catch {
            await set.stop()
            throw error
        }
    }

    /// A plain connection to one server of a set (a sentinel, or a server by its port).
    private func withDirect(_ port: Int, _ body: (RedisConnection) async throws -> Void) async throws {
        let endpoint = try RedisEndpoint(url: "redis://127.0.0.1:\(port)/0")
        let connection = try RedisConnection(configuration: .init(endpoint: endpoint, name: "sentinel-direct", queueTimeout: hangGuard),
                                             logger: TestRedis.logger)
        do {
            try await body(connection)
            await connection.close()
        } catch {
            await connection.close()
            throw error
        }
    }
}
