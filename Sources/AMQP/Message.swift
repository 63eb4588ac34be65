import IOSupport

/// A message to publish.
public struct OutgoingMessage: Sendable {
    /// `""` is the default exchange, which routes by queue name.
    public var exchange: String
    public var routingKey: String
    public var properties: BasicProperties
    public var body: [UInt8]
    /// Return the message (and fail the publish) when no queue matches.
    public var mandatory: Bool

    public init(exchange: String = "", routingKey: String, properties: BasicProperties = .init(), body: [UInt8], mandatory: Bool = true) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.properties = properties
        self.body = body
        self.mandatory = mandatory
    }
}

/// A message delivered to a consumer. Settle it with `AMQPConnection.ack`/`reject`.
public struct Delivery: Sendable {
    public var queue: String
    public var consumerTag: String
    public var deliveryTag: UInt64
    public var redelivered: Bool
    public var exchange: String
    public var routingKey: String
    public var properties: BasicProperties
    public var body: [UInt8]
    /// Which incarnation of the connection delivered it; tags die with their connection.
    public var generation: UInt64
    /// The consumer asked for no acknowledgements.
    public var noAck: Bool
    /// When the consumer's I/O thread read it (`monotonicSeconds()`): how long it then waited
    /// for a slot is a worker's `conveyor_task_wait_seconds`.
    public var receivedAt: Double
    /// The delivering connection's `Configuration.origin`: which of its owner's connections to
    /// acknowledge it on.
    public var origin: Int = 0

    public init(queue: String, consumerTag: String, deliveryTag: UInt64, redelivered: Bool, exchange: String,
                routingKey: String, properties: BasicProperties, body: [UInt8], generation: UInt64, noAck: Bool = false,
                receivedAt: Double = monotonicSeconds()) {
        self.queue = queue
        self.consumerTag = consumerTag
        self.deliveryTag = deliveryTag
        self.redelivered = redelivered
        self.exchange = exchange
        self.routingKey = routingKey
        self.properties = properties
        self.body = body
        self.generation = generation
        self.noAck = noAck
        self.receivedAt = receivedAt
    }
}

/// How a consumer subscribes.
public struct ConsumerOptions: Sendable {
    /// Unacknowledged deliveries this consumer may hold (`basic.qos`, per consumer).
    public var prefetch: UInt16
    /// Deliveries need no acknowledgement (pidbox-style control queues).
    public var noAck: Bool
    /// Only this consumer may read the queue.
    public var exclusive: Bool
    public var arguments: FieldTable

    public init(prefetch: UInt16 = 10, noAck: Bool = false, exclusive: Bool = false, arguments: FieldTable = [:]) {
        self.prefetch = prefetch
        self.noAck = noAck
        self.exclusive = exclusive
        self.arguments = arguments
    }
}
