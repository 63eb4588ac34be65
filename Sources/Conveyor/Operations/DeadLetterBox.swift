import AMQP
import Foundation
import Logging
import Redis
import Synchronization

/// A message in a dead-letter queue, with why it is there.
public struct DeadLetter: Sendable {
    /// The task id, when the message had one.
    public var taskId: String?
    /// The task name, when the message had one.
    public var task: String?
    /// Machine-readable reason (`unknown-task`, `poison`, `retries-exhausted` …).
    public var reason: String
    /// One line for people.
    public var error: String
    public var deadAt: Date?
    /// The queue it came from (where `replay` sends it).
    public var originQueue: String?
    public var worker: String?
    public var properties: BasicProperties
    public var body: [UInt8]
}

/// Reads and steers a queue's dead letters: list them, send them back to work, drop them.
///
/// Listing takes messages on a private connection and closes it without acknowledging, so the
/// broker puts every one back; `replay` publishes each chosen message (reason headers removed,
/// `retries` reset) to its origin queue and acknowledges it from the dead letters only after the
/// broker confirmed the copy, so a message is never in neither place. Before that it clears the
/// task's stored result (the FAILURE that sent it here) and its poison count, so the replay runs
/// afresh and `wait`/`AsyncResult.get()` wait for the new outcome instead of returning the old one.
public struct DeadLetterBox: Sendable {
    let client: ConveyorClient

    public init(client: ConveyorClient) {
        self.client = client
    }

    /// `celery` and `celery.dead` both name the dead-letter queue `celery.dead`.
    public static func deadLetterQueue(for queue: String) -> String {
        queue.hasSuffix(".dead") ? queue : WorkQueue.deadLetterName(for: queue)
    }

    /// Up to `limit` dead letters, oldest first, left in place.
    public func list(queue: String, limit: Int = 100) async throws -> [DeadLetter] {
        try await session(queue: queue, limit: limit) { letters in
            (letters.map(\.1), [])
        }
    }

    /// Sends dead letters back to their origin queues: all of them (every one there when the call
    /// began, `limit` at a time), or those with these task ids among the first `limit`.
    /// - Returns: how many were replayed.
    public func replay(queue: String, taskIds: Set<String>? = nil, limit: Int = 10_000) async throws -> Int {
        try await sweep(queue: queue, all: taskIds == nil, limit: limit) { try await replayBatch(queue: queue, taskIds: taskIds, limit: $0) }
    }

    private func replayBatch(queue: String, taskIds: Set<String>?, limit: Int) async throws -> Int {
        try await session(queue: queue, limit: limit) { letters -> ([Bool], [Delivery]) in
            var done: [Delivery] = []
            for (delivery, letter) in letters where taskIds == nil || letter.taskId.map({ taskIds?.contains($0) ?? false }) == true {
                var properties = letter.properties
                var headers = properties.headers ?? [:]
                headers.entries.removeAll { $0.key.hasPrefix("x-conveyor-") || $0.key == "x-death" }
                if headers["retries"] != nil { headers["retries"] = .int32(0) }
                properties.headers = headers
                let origin = letter.originQueue ?? String(Self.deadLetterQueue(for: queue).dropLast(".dead".count))
                if let taskId = letter.taskId {
                    do {
                        try await client.results.resetForReplay(taskId)
                    } catch let error as RedisError {
                        throw ConveyorError(.backendUnavailable, "result store unavailable: \(error.message)")
                    }
                }
                try await client.publisher.ensure(queue: origin)
                try await client.brokerConnection.publish(OutgoingMessage(routingKey: origin, properties: properties, body: letter.body))
                done.append(delivery)
            }
            return (done.map { _ in true }, done)
        }.count
    }

    /// Deletes dead letters for good: all of them (every one there when the call began, `limit`
    /// at a time), or those with these task ids among the first `limit`.
    /// - Returns: how many were dropped.
    public func drop(queue: String, taskIds: Set<String>? = nil, limit: Int = 10_000) async throws -> Int {
        try await sweep(queue: queue, all: taskIds == nil, limit: limit) { batchLimit in
            try await session(queue: queue, limit: batchLimit) { letters -> ([Bool], [Delivery]) in
                let chosen = letters.filter { taskIds == nil || $0.1.taskId.map({ taskIds?.contains($0) ?? false }) == true }.map(\.0)
                return (chosen.map { _ in true }, chosen)
            }.count
        }
    }

    /// How many dead letters wait in `queue`'s dead-letter queue.
    public func count(queue: String) async throws -> Int {
        let name = Self.deadLetterQueue(for: queue)
        do {
            return Int(try await client.brokerConnection.inspect(queue: name, timeout: client.configuration.connectTimeout).messageCount)
        } catch let error as AMQPError where error.code == .notFound {
            throw ConveyorError(.invalidConfiguration, "dead-letter queue '\(name)' does not exist")
        } catch let error as AMQPError {
            throw TaskPublisher.translate(error, queue: name)
        }
    }

    /// One batch for chosen ids; for all, batches until every letter there at the start is
    /// handled (not the ones that arrive meanwhile, such as a replayed task failing again).
    private func sweep(queue: String, all: Bool, limit: Int, _ batch: (Int) async throws -> Int) async throws -> Int {
        guard all else { return try await batch(limit) }
        let initial = try await count(queue: queue)
        var total = 0
        while total < initial {
            let handled = try await batch(min(limit, initial - total))
            guard handled > 0 else { break }
            total += handled
        }
        return total
    }

    /// Takes up to `limit` messages from the dead-letter queue on a private connection, lets
    /// `body` pick what to return and which deliveries to acknowledge (remove), then closes the
    /// connection so every other message goes back to the queue.
    private func session<T: Sendable>(queue: String, limit: Int,
                                      _ body: @Sendable ([(Delivery, DeadLetter)]) async throws -> ([T], [Delivery])) async throws -> [T] {
        let name = Self.deadLetterQueue(for: queue)
        var logger = Logger(label: "conveyor.dead")
        logger.logLevel = .error
        let connection = try AMQPConnection(
            configuration: .init(endpoints: try client.configuration.brokerEndpoints(), name: "conveyor dead-letters", confirms: false),
            logger: logger)
        defer { Task { await connection.close() } }
        let expected = min(limit, try await count(queue: queue))
        guard expected > 0 else { return [] }
        let received = Mutex<[Delivery]>([])
        try await connection.consume(queue: name, options: ConsumerOptions(prefetch: UInt16(clamping: expected))) { delivery in
            received.withLock { $0.append(delivery) }
        }
        let deadline = Date().addingTimeInterval(10)
        while received.withLock({ $0.count }) < expected && Date() < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        let deliveries = Array(received.withLock { $0 }.prefix(expected))
        let (result, remove) = try await body(deliveries.map { ($0, DeadLetter(delivery: $0)) })
        for delivery in remove { connection.ack(delivery) }
        await connection.close()
        return result
    }
}

extension DeadLetter {
    init(delivery: Delivery) {
        let headers = delivery.properties.headers ?? [:]
        taskId = headers["id"]?.stringValue
        task = headers["task"]?.stringValue
        reason = headers[DeadLetterHeader.reason]?.stringValue ?? "unknown"
        error = headers[DeadLetterHeader.error]?.stringValue ?? ""
        deadAt = headers[DeadLetterHeader.time]?.stringValue.flatMap(ISO8601.parse)
        originQueue = headers[DeadLetterHeader.queue]?.stringValue
        worker = headers[DeadLetterHeader.worker]?.stringValue
        properties = delivery.properties
        body = delivery.body
    }
}
