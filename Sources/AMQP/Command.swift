/// A reply channel from the I/O thread back to an awaiting caller.
struct Completion<Value: Sendable>: Sendable {
    let deadline: Double
    let resume: @Sendable (Result<Value, AMQPError>) -> Void

    func succeed(_ value: Value) { resume(.success(value)) }
    func fail(_ error: AMQPError) { resume(.failure(error)) }
}

/// A consumer the connection keeps subscribed across reconnects.
struct ConsumerRegistration: Sendable {
    let queue: String
    let tag: String
    let options: ConsumerOptions
    let handler: @Sendable (Delivery) -> Void
}

/// One delivery to settle, from the connection incarnation that delivered it.
struct SettleRequest: Sendable {
    let tag: UInt64
    let generation: UInt64
    let settlement: Settlement
}

/// How to settle a delivery.
enum Settlement: Sendable {
    case ack
    case reject(requeue: Bool)
}

/// What callers ask an AMQP I/O thread to do.
enum Command: Sendable {
    case publish([PendingPublish])
    case declare([TopologyDeclaration], remember: Bool, Completion<Void>)
    case consume(ConsumerRegistration, Completion<Void>)
    case cancelConsumers(Completion<Void>)
    /// Stops one consumer, by its tag.
    case cancelConsumer(tag: String, Completion<Void>)
    /// Deliveries to settle, in order (one command for a batch: one lock and at most one wake-up).
    case settle([SettleRequest])
    case inspect(queue: String, Completion<QueueStatus>)
    case purge(queue: String, Completion<UInt32>)
    case deleteQueue(queue: String, Completion<UInt32>)
    case close(Completion<Void>)

    /// The deadline of a command that waits for a connection, if it has one.
    var deadline: Double? {
        switch self {
        case let .declare(_, _, c): return c.deadline
        case let .consume(_, c): return c.deadline
        case let .cancelConsumers(c): return c.deadline
        case let .cancelConsumer(_, c): return c.deadline
        case let .inspect(_, c): return c.deadline
        case let .purge(_, c): return c.deadline
        case let .deleteQueue(_, c): return c.deadline
        case let .close(c): return c.deadline
        case .publish, .settle: return nil
        }
    }

    /// Fails the command's caller, if it has one.
    func fail(_ error: AMQPError) {
        switch self {
        case let .declare(_, _, c): c.fail(error)
        case let .consume(_, c): c.fail(error)
        case let .cancelConsumers(c): c.fail(error)
        case let .cancelConsumer(_, c): c.fail(error)
        case let .inspect(_, c): c.fail(error)
        case let .purge(_, c): c.fail(error)
        case let .deleteQueue(_, c): c.fail(error)
        case let .close(c): c.fail(error)
        case let .publish(items): items.forEach { $0.finish(.failure(error)) }
        case .settle: break
        }
    }
}
