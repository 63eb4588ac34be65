import AMQP
import Conveyor
import Foundation
import Logging
import Synchronization
import TestSupport

/// A plain AMQP connection for reading what landed in a queue (dead letters).
struct BrokerProbe {
    let connection: AMQPConnection

    init() throws {
        var logger = Logger(label: "test.interop.probe")
        logger.logLevel = .warning
        connection = try AMQPConnection(
            configuration: .init(endpoints: try AMQPEndpoint.list(TestEnvironment.brokerURL), name: "interop-probe", confirms: false),
            logger: logger)
    }

    /// Consumes (and acknowledges) `count` messages from `queue`.
    func take(_ count: Int, from queue: String, timeout: Double = hangGuard) async throws -> [Delivery] {
        let received = Mutex<[Delivery]>([])
        let connection = self.connection
        try await connection.consume(queue: queue, options: ConsumerOptions(prefetch: 50)) { delivery in
            received.withLock { $0.append(delivery) }
            connection.ack(delivery)
        }
        try await eventually(timeout: timeout, "\(count) message(s) in \(queue)") { received.withLock { $0.count } >= count }
        try await connection.cancelConsumers()
        return received.withLock { $0 }
    }

    func close() async { await connection.close() }
}
