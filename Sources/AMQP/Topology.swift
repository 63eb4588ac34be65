/// Something to declare on the broker: exchanges, queues and the bindings between them.
///
/// A connection remembers what it declared and declares it again after every reconnect, so a
/// broker restarted without its definitions gets them back before consumers resubscribe.
public enum TopologyDeclaration: Sendable, Hashable {
    case exchange(ExchangeDeclaration)
    case queue(QueueDeclaration)
    /// Routes messages from `exchange` with `routingKey` to `queue`.
    case queueBinding(queue: String, exchange: String, routingKey: String, arguments: FieldTable = [:])
    /// Routes messages from `source` with `routingKey` to the exchange `destination`.
    case exchangeBinding(destination: String, source: String, routingKey: String, arguments: FieldTable = [:])
}

/// An exchange declaration.
public struct ExchangeDeclaration: Sendable, Hashable {
    public var name: String
    /// `direct`, `topic`, `fanout` or `headers`.
    public var type: String
    public var durable: Bool
    public var autoDelete: Bool
    public var arguments: FieldTable
    /// When the exchange already exists with another type or flags (406), use it as it is.
    public var acceptExisting: Bool

    public init(name: String, type: String = "direct", durable: Bool = true, autoDelete: Bool = false, arguments: FieldTable = [:],
                acceptExisting: Bool = false) {
        self.name = name
        self.type = type
        self.durable = durable
        self.autoDelete = autoDelete
        self.arguments = arguments
        self.acceptExisting = acceptExisting
    }
}

/// A queue declaration.
public struct QueueDeclaration: Sendable, Hashable {
    public var name: String
    public var durable: Bool
    public var exclusive: Bool
    public var autoDelete: Bool
    public var arguments: FieldTable
    /// When the queue already exists with other arguments (406), accept it as it is instead of
    /// failing. For shared infrastructure that another client may have declared differently in
    /// details that do not matter to us (e.g. the delay cascade as quorum vs classic).
    public var acceptExisting: Bool

    public init(name: String, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false,
                arguments: FieldTable = [:], acceptExisting: Bool = false) {
        self.name = name
        self.durable = durable
        self.exclusive = exclusive
        self.autoDelete = autoDelete
        self.arguments = arguments
        self.acceptExisting = acceptExisting
    }
}

/// What a passive declare reports about a queue.
public struct QueueStatus: Sendable, Hashable {
    /// Messages ready for delivery (not counting unacknowledged ones).
    public var messageCount: UInt32
    /// Consumers subscribed right now.
    public var consumerCount: UInt32

    public init(messageCount: UInt32, consumerCount: UInt32) {
        self.messageCount = messageCount
        self.consumerCount = consumerCount
    }
}
