import AMQP
import Foundation
import IOSupport
import Logging
import Synchronization
import TestSupport

/// Connections and throw-away queues on the test broker.
enum TestBroker {
    static let logger = Logger(label: "amqp-tests", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A connection to the test broker (not started; the first call starts it).
    static func connection(_ name: String, confirms: Bool = true) throws -> AMQPConnection {
        try TestEnvironment.requireServices()
        let endpoints = try AMQPEndpoint.list(TestEnvironment.brokerURL)
        let configuration = AMQPConnection.Configuration(endpoints: endpoints, name: "amqp-tests-\(name)", confirms: confirms,
                                                         rpcTimeout: 5, publishTimeout: 10, operationTimeout: 10)
        return try AMQPConnection(configuration: configuration, logger: logger)
    }

    /// A connection to a single endpoint with quick reconnects, for failure tests.
    static func connection(to endpoint: AMQPEndpoint, name: String) throws -> AMQPConnection {
        let configuration = AMQPConnection.Configuration(endpoints: [endpoint], name: "amqp-tests-\(name)", rpcTimeout: 2,
                                                         publishTimeout: 2, operationTimeout: 2,
                                                         reconnect: Backoff(base: 0.05, cap: 0.25, floor: 0.02))
        return try AMQPConnection(configuration: configuration, logger: logger)
    }

    /// Starts `connection` and waits until its first attempt has failed, so what a test then
    /// reads (the error a wait or publish reports) does not depend on how fast a loaded machine
    /// gets through that attempt.
    static func firstAttemptFailed(_ connection: AMQPConnection) async throws {
        connection.start()
        try await eventually(timeout: 60, "the first connection attempt to fail") { connection.lastError != nil }
    }

    /// Runs `body` with a connected connection and closes it afterwards, whatever happens.
    static func withConnection<T>(_ name: String, _ body: (AMQPConnection) async throws -> T) async throws -> T {
        let connection = try connection(name)
        do {
            try await connection.waitUntilConnected(timeout: hangGuard)
            let result = try await body(connection)
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw error
        }
    }

    /// Runs `body` with a fresh non-durable queue, deleted afterwards. The queue also expires by
    /// itself two minutes after its last use, should the test process die first.
    static func withQueue<T>(on connection: AMQPConnection, _ label: String, _ body: (String) async throws -> T) async throws -> T {
        let queue = TestEnvironment.uniqueQueue(label)
        try await connection.declare([.queue(QueueDeclaration(name: queue, durable: false, arguments: ["x-expires": .int32(120_000)]))],
                                     remember: false)
        do {
            let result = try await body(queue)
            _ = try? await connection.delete(queue: queue)
            return result
        } catch {
            _ = try? await connection.delete(queue: queue)
            throw error
        }
    }
}

/// Collects what a consumer receives, for the test to wait on.
final class DeliveryInbox: Sendable {
    private let received = Mutex<[Delivery]>([])

    /// Pass this as the consumer's handler.
    var handler: @Sendable (Delivery) -> Void {
        { [self] delivery in received.withLock { $0.append(delivery) } }
    }

    /// Everything received so far.
    var deliveries: [Delivery] { received.withLock { $0 } }

    /// Waits until at least `count` deliveries arrived and returns them all.
    func wait(for count: Int, timeout: Double = hangGuard) async throws -> [Delivery] {
        try await eventually(timeout: timeout, "\(count) deliveries") { self.deliveries.count >= count }
        return deliveries
    }
}
