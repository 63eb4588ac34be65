import AMQP
import Foundation
import IOSupport
import Synchronization
import Testing
import TestSupport

/// A broker that stops answering for longer than the RPC timeout costs the connection, not the
/// caller: an idempotent operation whose own deadline is still ahead runs again on the next
/// connection. Waits on the connection's state events; no duration is measured.
@Suite("A broker that stalls for a moment does not fail calls whose deadline is ahead")
struct StalledBrokerTests {
    @Test("a passive declare and a declaration cut off by an RPC timeout run again once the broker answers")
    func retriedAfterStall() async throws {
        try TestEnvironment.requireServices()
        let proxy = try await FaultProxy.start(target: 5672)
        let endpoint = try AMQPEndpoint(url: "amqp://guest:guest@127.0.0.1:\(proxy.port)/%2F")
        let configuration = AMQPConnection.Configuration(endpoints: [endpoint], name: "amqp-tests-stalled", rpcTimeout: 1,
                                                         publishTimeout: 600, operationTimeout: 600,
                                                         reconnect: Backoff(base: 0.05, cap: 0.25, floor: 0.02))
        let connection = try AMQPConnection(configuration: configuration, logger: TestBroker.logger)
        let lost = Mutex(0)
        connection.onStateChange { state in
            if case .reconnecting = state { lost.withLock { $0 += 1 } }
        }
        try await connection.waitUntilConnected(timeout: 60)
        let queue = TestEnvironment.uniqueQueue("stalled")
        let declaration = TopologyDeclaration.queue(QueueDeclaration(name: queue, durable: false, arguments: ["x-expires": .int32(120_000)]))
        try await connection.declare([declaration], remember: false)

        // Silence for longer than the 1 s RPC timeout: the calls in flight lose their connection.
        try await proxy.freeze()
        let inspect = Task { try await connection.inspect(queue: queue) }
        let declare = Task { try await connection.declare([declaration], remember: false) }
        try await eventually(timeout: 60, "the connection given up after its RPC timeout") { lost.withLock { $0 } >= 1 }
        proxy.thaw()

        #expect(try await inspect.value.messageCount == 0)
        try await declare.value
        #expect(connection.state == .connected)
        await connection.close()
        try await proxy.stop()
        // Cleaned up on a connection of usual timeouts: this one's 1 s RPC timeout is the stall's,
        // and a loaded machine can take longer than that to answer a delete.
        _ = try await TestBroker.withConnection("stalled-cleanup") { try await $0.delete(queue: queue) }
    }
}
