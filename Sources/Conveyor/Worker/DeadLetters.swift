import AMQP
import Foundation

/// Header names on dead-lettered messages.
public enum DeadLetterHeader {
    /// Machine-readable reason (`unknown-task`, `malformed-body`, `content-type`,
    /// `headers-too-large` …).
    public static let reason = "x-conveyor-reason"
    /// One line for people (at most 1,024 bytes of UTF-8).
    public static let error = "x-conveyor-error"
    /// On a `headers-too-large` letter whose headers were cut to fit: the reason it would
    /// otherwise have had.
    public static let originalReason = "x-conveyor-original-reason"
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
    /// 1. a copy (body and properties untouched, reason headers added; see `DeadLetterCopy`
    ///    for when headers must be cut to fit a frame) is published to its queue's dead-letter
    ///    queue and confirmed by the broker;
    /// 2. `record` stores the outcome a client waits for (FAILURE), so whoever sees it can
    ///    already find the letter;
    /// 3. the original is acknowledged.
    ///
    /// If the copy cannot be published, nothing is recorded and the original goes back to its
    /// queue (after a pause, without holding up the caller), to be tried again. `record`
    /// returns false when it could not store and requeued the delivery itself. A message is
    /// never dropped; a letter can exist twice when a later step failed (at-least-once).
    func deadLetter(_ delivery: Delivery, reason: RejectionReason, record: () async -> Bool = { true }) async {
        guard let sent = await publishLetter(delivery, reason: reason) else {
            requeueLater(delivery)
            return
        }
        guard await record() else { return }
        stats.record(\.deadLettered)
        let headers = delivery.properties.headers
        log(.warning, "task dead-lettered", id: headers?["id"]?.stringValue ?? "?", task: headers?["task"]?.stringValue ?? "?",
            ["reason": "\(sent.code)", "dead_letter_queue": "\(WorkQueue.deadLetterName(for: delivery.queue))"])
        consumer.ack(delivery)
    }

    /// Publishes the dead-letter copy with a confirm.
    /// - Returns: the reason the letter carries once the broker has it; nil when it could not
    ///   be published.
    private func publishLetter(_ delivery: Delivery, reason: RejectionReason) async -> RejectionReason? {
        let connection = client.publisher.connection
        let origin = DeadLetterCopy.Origin(queue: delivery.queue, exchange: delivery.exchange, routingKey: delivery.routingKey,
                                           worker: options.hostname, time: Date())
        var failure: any Error = ConveyorError(.publishFailed, "dead letter not published")
        // A second try only if the limits changed under the first (a reconnect to a broker that
        // negotiated a smaller frame).
        var budget = connection.publishLimits.propertiesBudget
        for _ in 0..<2 {
            let copy = DeadLetterCopy(original: delivery.properties, reason: reason, origin: origin, budget: budget)
            let letter = OutgoingMessage(exchange: "", routingKey: WorkQueue.deadLetterName(for: delivery.queue),
                                         properties: copy.properties, body: delivery.body, mandatory: true)
            do {
                try await connection.publish(letter)
                return copy.reason
            } catch let error as AMQPError where error.code == .messageTooLarge && connection.publishLimits.propertiesBudget < budget {
                failure = error
                budget = connection.publishLimits.propertiesBudget
            } catch {
                failure = error
                break
            }
        }
        let headers = delivery.properties.headers
        log(.error, "dead letter not published; message requeued", id: headers?["id"]?.stringValue ?? "?",
            task: headers?["task"]?.stringValue ?? "?", ["error": "\(failure)", "reason": "\(reason.code)"])
        return nil
    }

    /// Puts a delivery back on its queue after a pause, so a failure that repeats (broker
    /// refusing publishes) does not spin, without holding up the batch it came in.
    func requeueLater(_ delivery: Delivery) {
        stats.record(\.requeued)
        series(of: delivery).finished(.requeued)
        let consumer = self.consumer
        Task {
            try? await Task.sleep(for: .seconds(1))
            consumer.reject(delivery, requeue: true)
        }
    }
}
