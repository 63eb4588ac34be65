import AMQP
import Foundation
import Logging
import Synchronization

/// A worker that answered a pidbox `stats` broadcast: a Python Celery worker or a Swift one.
public struct CeleryNode: Sendable {
    /// The node name (`celery@host`).
    public var name: String
    /// Its `stats` reply as sent.
    public var stats: JSON

    /// Whether the node is a Conveyor (Swift) worker, by the pool it reports.
    public var isConveyor: Bool { stats["pool"]?["implementation"]?.string == Worker.poolImplementation }
    /// Its process id.
    public var pid: Int? { stats["pid"]?.int.map { Int($0) } }
    /// Tasks it may run at once (`pool.max-concurrency`).
    public var concurrency: Int? { stats["pool"]?["max-concurrency"]?.int.map { Int($0) } }
    /// Tasks it received since it started, all names together (`stats.total`).
    public var processed: Int {
        // Counts come from any process on the broker: a sum past Int.max saturates, never traps.
        stats["total"]?.object?.reduce(0) { sum, entry in
            let (total, overflow) = sum.addingReportingOverflow(Int(max(0, entry.value.int ?? 0)))
            return overflow ? Int.max : total
        } ?? 0
    }
    /// Seconds since it started.
    public var uptimeSeconds: Int? { stats["uptime"]?.int.map { Int($0) } }
}

extension Fleet {
    /// Seconds `celeryNodes` waits for replies by default (the `celery inspect` CLI's own).
    public static let celeryReplyWait = 1.0

    /// Broadcasts Celery's `stats` on the pidbox exchange, as `celery inspect stats` does, and
    /// collects the replies for `wait` seconds (in 0.1...60): every worker of the broker that
    /// speaks Celery's remote control, Python or Swift, sorted by name.
    /// - Parameter logger: where the broadcast's connection logs (the client's own is private).
    /// - Throws: `ConveyorError.Code.invalidArguments` for a `wait` out of range,
    ///   `.brokerUnavailable` when the broker cannot be reached.
    public func celeryNodes(wait: Double = Fleet.celeryReplyWait,
                            logger: Logger = Logger(label: "conveyor.pidbox-client")) async throws -> [CeleryNode] {
        guard (0.1...60).contains(wait) else { throw ConveyorError(.invalidArguments, "wait must be seconds in 0.1...60, not \(wait)") }
        let configuration = client.configuration
        let connection = try AMQPConnection(
            configuration: .init(endpoints: try configuration.brokerEndpoints(), name: "conveyor pidbox client", confirms: false),
            logger: logger)
        connection.start()
        let id = TaskID.make(), ticket = TaskID.make()
        let queue = "\(id).\(Pidbox.replyExchange)"
        let replies = Mutex<[String: JSON]>([:])
        do {
            try await connection.declare([
                .exchange(ExchangeDeclaration(name: Pidbox.exchange, type: "fanout", durable: false)),
                .exchange(ExchangeDeclaration(name: Pidbox.replyExchange, type: "direct", durable: false)),
                .queue(QueueDeclaration(name: queue, durable: false, exclusive: true, autoDelete: true,
                                        arguments: ["x-expires": .int32(Pidbox.queueExpires), "x-message-ttl": .int32(Pidbox.messageTTL)])),
                .queueBinding(queue: queue, exchange: Pidbox.replyExchange, routingKey: id),
            ], remember: false, timeout: configuration.connectTimeout)
            try await connection.consume(queue: queue, options: ConsumerOptions(prefetch: 0, noAck: true),
                                         timeout: configuration.connectTimeout) { delivery in
                // Replies to another ticket (an earlier broadcast) are dropped, as kombu does.
                guard delivery.properties.headers?["ticket"]?.stringValue == ticket,
                      let body = try? JSON.parse(delivery.body), let nodes = body.object else { return }
                replies.withLock { for (name, reply) in nodes { $0[name] = reply } }
            }
            let message = Pidbox.broadcast("stats", ticket: ticket, replyRoutingKey: id, expires: Date().timeIntervalSince1970 + wait)
            try await connection.publish(message, timeout: configuration.connectTimeout)
            // Celery's collection: whoever answers within the wait.
            try? await Task.sleep(for: .sleeping(seconds: wait))
        } catch {
            await connection.close()
            throw ConveyorError(.brokerUnavailable, "broker unavailable: \((error as? AMQPError)?.message ?? "\(error)")")
        }
        await connection.close()
        return replies.withLock { $0 }.map { CeleryNode(name: $0.key, stats: $0.value) }.sorted { $0.name < $1.name }
    }
}
