import AMQP
import Foundation
import IOSupport
import Logging
import Testing
import TestSupport

/// Cancelling a caller ends its AMQP call at once, whatever the broker does, and the connection
/// stays consistent: a cancelled command still runs, a cancelled publish stays tracked for its
/// confirm. Deadlines here are an hour, so ending with CancellationError (not a timeout) is the
/// proof that cancellation ended the wait; no duration is measured.
@Suite("AMQP calls end when their caller is cancelled")
struct AMQPCancellationTests {
    private static func connection(to endpoint: AMQPEndpoint, _ name: String) -> AMQPConnection? {
        let configuration = AMQPConnection.Configuration(endpoints: [endpoint], name: "amqp-tests-\(name)", rpcTimeout: 3600,
                                                         publishTimeout: 3600, operationTimeout: 3600,
                                                         reconnect: Backoff(base: 0.05, cap: 0.25, floor: 0.02))
        return try? AMQPConnection(configuration: configuration, logger: TestBroker.logger)
    }

    @Test("with the broker silent, a cancelled publish and a cancelled inspect end at once; after it speaks again the publish is confirmed in order and the connection works")
    func cancelledWhileBrokerSilent() async throws {
        try TestEnvironment.requireServices()
        let proxy = try await FaultProxy.start(target: 5672)
        let endpoint = try AMQPEndpoint(url: "amqp://guest:guest@127.0.0.1:\(proxy.port)/%2F")
        let connection = try #require(Self.connection(to: endpoint, "silent"))
        try await connection.waitUntilConnected(timeout: 60)
        let queue = TestEnvironment.uniqueQueue("cancel-silent")
        try await connection.declare([.queue(QueueDeclaration(name: queue, durable: false, arguments: ["x-expires": .int32(120_000)]))],
                                     remember: false)

        try await proxy.freeze()
        let publish = Task { try await connection.publish(OutgoingMessage(routingKey: queue, body: Array("first".utf8))) }
        let inspect = Task { try await connection.inspect(queue: queue) }
        publish.cancel()
        inspect.cancel()
        await #expect(throws: CancellationError.self) { try await publish.value }
        await #expect(throws: CancellationError.self) { try await inspect.value }

        proxy.thaw()
        // Confirmed after the cancelled one, on the same channel: both are in the queue, and the
        // confirms still line up with their publishes.
        try await connection.publish(OutgoingMessage(routingKey: queue, body: Array("second".utf8)))
        #expect(try await connection.inspect(queue: queue).messageCount == 2)
        _ = try await connection.delete(queue: queue)
        await connection.close()
        try await proxy.stop()
    }

    @Test("with the broker silent, a cancelled batch publish returns at once with every unconfirmed message cancelled; its messages still arrive")
    func cancelledBatchWhileBrokerSilent() async throws {
        try TestEnvironment.requireServices()
        let proxy = try await FaultProxy.start(target: 5672)
        let endpoint = try AMQPEndpoint(url: "amqp://guest:guest@127.0.0.1:\(proxy.port)/%2F")
        let connection = try #require(Self.connection(to: endpoint, "silent-batch"))
        try await connection.waitUntilConnected(timeout: hangGuard)
        let queue = TestEnvironment.uniqueQueue("cancel-batch")
        try await connection.declare([.queue(QueueDeclaration(name: queue, durable: false, arguments: ["x-expires": .int32(120_000)]))],
                                     remember: false)

        try await proxy.freeze()
        let batch = Task { await connection.publish(batch: (0..<3).map { OutgoingMessage(routingKey: queue, body: [UInt8($0)]) }) }
        batch.cancel()
        let outcomes = await batch.value
        #expect(outcomes.count == 3)
        for outcome in outcomes {
            guard case let .failure(error) = outcome else { Issue.record("a message confirmed by a frozen broker"); continue }
            #expect(error.code == .cancelled)
        }

        proxy.thaw()
        // The cancelled batch was still published, and confirms line up after it.
        try await connection.publish(OutgoingMessage(routingKey: queue, body: Array("after".utf8)))
        #expect(try await connection.inspect(queue: queue).messageCount == 4)
        _ = try await connection.delete(queue: queue)
        await connection.close()
        try await proxy.stop()
    }

    @Test("with no broker to connect to, waitUntilConnected, a declare and a publish end with CancellationError when cancelled")
    func cancelledWhileUnreachable() async throws {
        // Nothing listens on port 1.
        let endpoint = try AMQPEndpoint(url: "amqp://guest:guest@127.0.0.1:1/%2F")
        let connection = try #require(Self.connection(to: endpoint, "unreachable"))
        let connected = Task { try await connection.waitUntilConnected(timeout: 3600) }
        let declare = Task {
            try await connection.declare([.queue(QueueDeclaration(name: "conveyor-test.never", durable: false))], remember: false)
        }
        let publish = Task { try await connection.publish(OutgoingMessage(routingKey: "conveyor-test.never", body: [1])) }
        try await eventually(timeout: 60, "the connection failing to connect") { connection.lastError != nil }
        connected.cancel()
        declare.cancel()
        publish.cancel()
        await #expect(throws: CancellationError.self) { try await connected.value }
        await #expect(throws: CancellationError.self) { try await declare.value }
        await #expect(throws: CancellationError.self) { try await publish.value }
        await connection.close()
    }
}
