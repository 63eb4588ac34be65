import AMQP

/// A work queue declared exactly as Celery declares it: durable queue `name`, bound to a
/// durable direct exchange `name` with routing key `name`. Anything else and RabbitMQ refuses
/// the other side's declaration with PRECONDITION_FAILED.
public struct WorkQueue: Sendable, Hashable {
    /// The priorities RabbitMQ accepts as `x-max-priority`.
    public static let maxPriorities = 1...255

    public var name: String
    public var type: QueueType
    /// `x-max-priority` of a classic queue, clamped to `WorkQueue.maxPriorities` when declared
    /// (`ConveyorConfiguration.validate()` refuses values outside it).
    public var maxPriority: Int?

    public init(name: String, type: QueueType = .classic, maxPriority: Int? = nil) {
        self.name = name
        self.type = type
        self.maxPriority = maxPriority
    }

    /// Where messages this queue cannot complete are kept, with the reason in their headers.
    public var deadLetterQueue: String { WorkQueue.deadLetterName(for: name) }

    /// The dead-letter queue of `queue`.
    public static func deadLetterName(for queue: String) -> String { queue + ".dead" }

    /// Queue arguments, as Celery sets them (ints as AMQP `I`).
    public var arguments: FieldTable {
        var arguments = FieldTable()
        if type == .quorum { arguments["x-queue-type"] = .string("quorum") }
        if let maxPriority, type == .classic {
            let clamped = min(max(maxPriority, WorkQueue.maxPriorities.lowerBound), WorkQueue.maxPriorities.upperBound)
            arguments["x-max-priority"] = .int32(Int32(clamped))
        }
        return arguments
    }

    /// The queue, its exchange, the binding between them, and its binding to the end of the
    /// delay cascade (so countdowns and retries come back here). The cascade itself
    /// (`DelayedDelivery.declarations`) must be declared first.
    public var declarations: [TopologyDeclaration] {
        [
            // Celery declares a direct exchange; an app using native delayed delivery declares a
            // topic one. Either routes the queue's own routing key, so an existing one is kept.
            .exchange(ExchangeDeclaration(name: name, type: "direct", durable: true, acceptExisting: true)),
            .queue(QueueDeclaration(name: name, durable: true, arguments: arguments)),
            .queueBinding(queue: name, exchange: name, routingKey: name),
            DelayedDelivery.binding(for: name),
        ]
    }

    /// The dead-letter queue: durable, and replicated like its work queue when that is a
    /// quorum queue (a classic dead-letter queue would vanish with the node that hosts it).
    public var deadLetterDeclarations: [TopologyDeclaration] {
        let arguments: FieldTable = type == .quorum ? ["x-queue-type": .string("quorum")] : [:]
        return [.queue(QueueDeclaration(name: deadLetterQueue, durable: true, arguments: arguments))]
    }

    /// Rejects names RabbitMQ or the delay cascade cannot route.
    public static func validate(name: String) throws {
        guard !name.isEmpty else { throw ConveyorError(.invalidConfiguration, "queue name is empty") }
        guard name.utf8.count <= 255 else { throw ConveyorError(.invalidConfiguration, "queue name '\(name)' is longer than 255 bytes") }
        guard !name.hasPrefix("amq.") else { throw ConveyorError(.invalidConfiguration, "queue name '\(name)' uses the reserved prefix amq.") }
        guard !name.contains("*"), !name.contains("#"), !name.hasPrefix("."), !name.hasSuffix("."), !name.contains("..") else {
            throw ConveyorError(.invalidConfiguration, "queue name '\(name)' cannot be routed through the delay cascade (no '*', '#' or empty dot-separated words)")
        }
    }
}
