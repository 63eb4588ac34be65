import AMQP
import Foundation
import Logging
import Synchronization

/// Publishes task messages on one confirm-mode connection, declaring each work queue (and the
/// delay cascade) the first time it is used, and routing future tasks into the cascade.
final class TaskPublisher: Sendable {
    let connection: AMQPConnection
    private let configuration: ConveyorConfiguration
    private let declared = Mutex<Set<String>>([])
    private let logger: Logger

    init(configuration: ConveyorConfiguration, name: String, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        connection = try AMQPConnection(
            configuration: .init(endpoints: try configuration.brokerEndpoints(), name: name, confirms: true,
                                 publishTimeout: configuration.publishTimeout, operationTimeout: configuration.connectTimeout),
            logger: logger)
    }

    /// Waits for the broker, or throws `brokerUnavailable` with the reason.
    func connect(timeout: Double) async throws {
        do {
            try await connection.waitUntilConnected(timeout: timeout)
        } catch let error as AMQPError {
            throw ConveyorError(.brokerUnavailable, "broker unavailable: \(error.message)")
        }
    }

    /// Declares the delay cascade once per process connection.
    func ensureCascade() async throws {
        let key = "\u{0}cascade"
        if declared.withLock({ $0.contains(key) }) { return }
        try await ensure(key: key, DelayedDelivery.declarations(queueType: configuration.queueType))
    }

    /// Declares a work queue (after the cascade) unless already done on this connection.
    func ensure(queue: String) async throws {
        if declared.withLock({ $0.contains(queue) }) { return }
        try WorkQueue.validate(name: queue)
        try await ensureCascade()
        let work = WorkQueue(name: queue, type: configuration.queueType, maxPriority: configuration.maxPriority)
        try await ensure(key: queue, work.declarations)
    }

    /// Declares arbitrary topology once under `key`.
    func ensure(key: String, _ declarations: [TopologyDeclaration]) async throws {
        if declared.withLock({ $0.contains(key) }) { return }
        do {
            try await connection.declare(declarations)
        } catch let error as AMQPError {
            throw TaskPublisher.translate(error, queue: key)
        }
        declared.withLock { _ = $0.insert(key) }
    }

    /// The AMQP message for `message`: straight to `queue`, or into the delay cascade when its
    /// ETA is at least a second away.
    func outgoing(_ message: TaskMessage, queue: String, now: Date = Date()) -> OutgoingMessage {
        if let eta = message.eta {
            let delay = eta.timeIntervalSince(now)
            if delay >= 1 {
                // Past the cascade's reach (a far ETA from a message): its longest delay; the
                // worker that receives it then delays it again.
                let seconds = delay < Double(DelayedDelivery.maxDelay) ? Int(delay.rounded(.up)) : DelayedDelivery.maxDelay
                return message.outgoing(queue: queue, exchange: DelayedDelivery.entryExchange,
                                        routingKey: DelayedDelivery.routingKey(delay: seconds, queue: queue))
            }
        }
        return message.outgoing(queue: queue)
    }

    /// Publishes and returns once the broker confirmed.
    func publish(_ message: TaskMessage, queue: String) async throws {
        if configuration.createMissingQueues { try await ensure(queue: queue) } else if message.eta != nil { try await ensureCascade() }
        do {
            try await connection.publish(outgoing(message, queue: queue))
        } catch let error as AMQPError {
            throw TaskPublisher.translate(error, queue: queue)
        }
    }

    /// Publishes many; each result in order.
    func publish(batch: [(TaskMessage, String)]) async -> [Result<Void, ConveyorError>] {
        var failures: [String: ConveyorError] = [:]
        for queue in Set(batch.map(\.1)) {
            do {
                if configuration.createMissingQueues { try await ensure(queue: queue) } else { try await ensureCascade() }
            } catch {
                failures[queue] = error as? ConveyorError ?? ConveyorError(.publishFailed, "\(error)")
            }
        }
        let now = Date()
        var indices: [Int] = []
        var messages: [OutgoingMessage] = []
        for (index, (message, queue)) in batch.enumerated() where failures[queue] == nil {
            indices.append(index)
            messages.append(outgoing(message, queue: queue, now: now))
        }
        var results: [Result<Void, ConveyorError>] = batch.map { _, queue in
            failures[queue].map { .failure($0) } ?? .success(())
        }
        let outcomes = await connection.publish(batch: messages)
        for (position, outcome) in outcomes.enumerated() {
            let index = indices[position]
            results[index] = outcome.mapError { TaskPublisher.translate($0, queue: batch[index].1) }
        }
        return results
    }

    static func translate(_ error: AMQPError, queue: String) -> ConveyorError {
        switch error.code {
        case .unroutable:
            return ConveyorError(.unroutable, "queue '\(queue)' does not exist: \(error.message)")
        case .nacked:
            return ConveyorError(.publishFailed, error.message)
        case .confirmTimeout, .cancelled:
            return ConveyorError(.outcomeUnknown, error.message)
        case .preconditionFailed, .notFound, .accessRefused, .resourceLocked:
            return ConveyorError(.invalidConfiguration, "broker refused to declare '\(queue)': \(error.message)")
        case .closed:
            return ConveyorError(.closed, error.message)
        case .messageTooLarge:
            return ConveyorError(.messageTooLarge, error.message)
        case .invalidMessage:
            return ConveyorError(.invalidMessage, error.message)
        default:
            return ConveyorError(.brokerUnavailable, "broker unavailable: \(error.message)")
        }
    }
}
