import AMQP

/// The broker-side delay cascade of Celery 5.5+'s "native delayed delivery"
/// (`kombu/transport/native_delayed_delivery.py`), with the same names, so Python clients that
/// use it and Swift workers agree.
///
/// A delay of `d` seconds is written as 28 binary digits in the routing key
/// (`0.0.…1.0.1.<queue>`). Level `L` (topic exchange and queue `celery_delayed_L`) holds a
/// message for `2^L` seconds when bit `L` is 1 (queue TTL, then dead-lettered to level `L-1`)
/// and passes it straight on when the bit is 0. After level 0 the message reaches
/// `celery_delayed_delivery`, which routes it by the remaining words to its work queue. Delays
/// never sit in a worker's memory, survive broker restarts (durable queues, persistent
/// messages), reach about 8.5 years, and have no head-of-line blocking (each queue has one TTL).
public enum DelayedDelivery {
    /// Number of levels (binary digits).
    public static let levels = 28
    /// The longest delay the cascade can express, seconds.
    public static let maxDelay = (1 << levels) - 1
    /// Where delayed messages leave the cascade.
    public static let deliveryExchange = "celery_delayed_delivery"
    /// Where delayed messages enter (the highest level).
    public static let entryExchange = levelName(levels - 1)

    /// `celery_delayed_<level>`.
    public static func levelName(_ level: Int) -> String { "celery_delayed_\(level)" }

    /// The routing key for a delay: 28 binary digits, most significant first, then the queue.
    public static func routingKey(delay seconds: Int, queue: String) -> String {
        let clamped = min(max(seconds, 0), maxDelay)
        var words: [String] = []
        words.reserveCapacity(levels + 1)
        for bit in stride(from: levels - 1, through: 0, by: -1) {
            words.append((clamped >> bit) & 1 == 1 ? "1" : "0")
        }
        words.append(queue)
        return words.joined(separator: ".")
    }

    /// The exchanges, queues and bindings of the cascade, declared as kombu declares them.
    /// Queues already declared with another type (say, quorum by a Python worker) are accepted
    /// as they are.
    public static func declarations(queueType: QueueType) -> [TopologyDeclaration] {
        var result: [TopologyDeclaration] = []
        var routingKey = "1.#"
        for level in stride(from: levels - 1, through: 0, by: -1) {
            let name = levelName(level)
            result.append(.exchange(ExchangeDeclaration(name: name, type: "topic", durable: true)))
            var arguments: FieldTable = [
                "x-queue-type": .string(queueType.rawValue),
                "x-overflow": .string("reject-publish"),
                "x-message-ttl": .int64(Int64(1 << level) * 1000),
                "x-dead-letter-exchange": .string(level > 0 ? levelName(level - 1) : deliveryExchange),
            ]
            if queueType == .quorum { arguments["x-dead-letter-strategy"] = .string("at-least-once") }
            result.append(.queue(QueueDeclaration(name: name, durable: true, arguments: arguments, acceptExisting: true)))
            result.append(.queueBinding(queue: name, exchange: name, routingKey: routingKey))
            routingKey = "*." + routingKey
        }
        routingKey = "0.#"
        for level in stride(from: levels - 1, through: 1, by: -1) {
            result.append(.exchangeBinding(destination: levelName(level - 1), source: levelName(level), routingKey: routingKey))
            routingKey = "*." + routingKey
        }
        result.append(.exchange(ExchangeDeclaration(name: deliveryExchange, type: "topic", durable: true)))
        result.append(.exchangeBinding(destination: deliveryExchange, source: levelName(0), routingKey: routingKey))
        return result
    }

    /// Binds a work queue to the end of the cascade. The pattern is exactly 28 digit words and
    /// then the queue name, so `celery` does not also catch messages for `x.celery`.
    public static func binding(for queue: String) -> TopologyDeclaration {
        let pattern = Array(repeating: "*", count: levels).joined(separator: ".") + "." + queue
        return .queueBinding(queue: queue, exchange: deliveryExchange, routingKey: pattern)
    }
}
