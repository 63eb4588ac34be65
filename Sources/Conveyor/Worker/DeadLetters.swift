import AMQP
import Foundation

/// Header names on dead-lettered messages.
public enum DeadLetterHeader {
    /// Machine-readable reason (`unknown-task`, `malformed-body`, `content-type` …).
    public static let reason = "x-conveyor-reason"
    /// One line for people.
    public static let error = "x-conveyor-error"
    /// When it was dead-lettered (ISO-8601).
    public static let time = "x-conveyor-dead-at"
    /// The queue it came from.
    public static let queue = "x-conveyor-origin-queue"
    /// The exchange and routing key it was delivered with.
    public static let exchange = "x-conveyor-origin-exchange"
    public static let routingKey = "x-conveyor-origin-routing-key"
    /// The worker that gave up on it.
    public static let worker = "x-conveyor-worker"
}

extension Worker {
    /// Publishes a copy of `delivery` (body and properties untouched, reason headers added) to
    /// its queue's dead-letter queue with a confirm, then acknowledges the original. If the copy
    /// cannot be published the original is requeued: a message is never dropped.
    func deadLetter(_ delivery: Delivery, reason: RejectionReason) async {
        var properties = delivery.properties
        var headers = properties.headers ?? [:]
        headers[DeadLetterHeader.reason] = .string(reason.code)
        headers[DeadLetterHeader.error] = .string(reason.detail)
        headers[DeadLetterHeader.time] = .string(ISO8601.format(Date()))
        headers[DeadLetterHeader.queue] = .string(delivery.queue)
        headers[DeadLetterHeader.exchange] = .string(delivery.exchange)
        headers[DeadLetterHeader.routingKey] = .string(delivery.routingKey)
        headers[DeadLetterHeader.worker] = .string(options.hostname)
        properties.headers = headers
        properties.deliveryMode = 2
        // A dead letter must not expire away in its queue.
        properties.expiration = nil
        let copy = OutgoingMessage(exchange: "", routingKey: WorkQueue.deadLetterName(for: delivery.queue), properties: properties,
                                   body: delivery.body, mandatory: true)
        do {
            try await client.publisher.connection.publish(copy)
            stats.record(\.deadLettered)
            let id = delivery.properties.headers?["id"]?.stringValue ?? "?"
            let task = delivery.properties.headers?["task"]?.stringValue ?? "?"
            log(.warning, "task dead-lettered", id: id, task: task, ["reason": "\(reason.code)",
                "dead_letter_queue": "\(WorkQueue.deadLetterName(for: delivery.queue))"])
            consumer.ack(delivery)
        } catch {
            logger.error("dead letter not published; message requeued", metadata: ["error": "\(error)", "reason": "\(reason.code)"])
            try? await Task.sleep(for: .seconds(1))
            consumer.reject(delivery, requeue: true)
        }
    }
}
