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
    /// Dead-letters `delivery` in the one order that keeps every observer right:
    ///
    /// 1. a copy (body and properties untouched, reason headers added) is published to its
    ///    queue's dead-letter queue and confirmed by the broker;
    /// 2. `record` stores the outcome a client waits for (FAILURE), so whoever sees it can
    ///    already find the letter;
    /// 3. the original is acknowledged.
    ///
    /// If the copy cannot be published, nothing is recorded and the original goes back to its
    /// queue (after a pause, without holding up the caller), to be tried again. `record`
    /// returns false when it could not store and requeued the delivery itself. A message is
    /// never dropped; a letter can exist twice when a later step failed (at-least-once).
    func deadLetter(_ delivery: Delivery, reason: RejectionReason, record: () async -> Bool = { true }) async {
        guard await publishLetter(delivery, reason: reason) else {
            requeueLater(delivery)
            return
        }
        guard await record() else { return }
        stats.record(\.deadLettered)
        let headers = delivery.properties.headers
        log(.warning, "task dead-lettered", id: headers?["id"]?.stringValue ?? "?", task: headers?["task"]?.stringValue ?? "?",
            ["reason": "\(reason.code)", "dead_letter_queue": "\(WorkQueue.deadLetterName(for: delivery.queue))"])
        consumer.ack(delivery)
    }

    /// Publishes the dead-letter copy with a confirm. - Returns: whether the broker has it.
    private func publishLetter(_ delivery: Delivery, reason: RejectionReason) async -> Bool {
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
            return true
        } catch {
            let headers = delivery.properties.headers
            log(.error, "dead letter not published; message requeued", id: headers?["id"]?.stringValue ?? "?",
                task: headers?["task"]?.stringValue ?? "?", ["error": "\(error)", "reason": "\(reason.code)"])
            return false
        }
    }

    /// Puts a delivery back on its queue after a pause, so a failure that repeats (broker
    /// refusing publishes) does not spin, without holding up the batch it came in.
    func requeueLater(_ delivery: Delivery) {
        stats.record(\.requeued)
        let consumer = self.consumer
        Task {
            try? await Task.sleep(for: .seconds(1))
            consumer.reject(delivery, requeue: true)
        }
    }
}
