import AMQP
import Conveyor
import Foundation
import Logging
import Synchronization
import Testing
import TestSupport

/// Raw AMQP access for publishing what no well-behaved client would, and reading dead letters.
struct RawBroker {
    let connection: AMQPConnection

    init() throws {
        var logger = Logger(label: "test.raw")
        logger.logLevel = .warning
        connection = try AMQPConnection(configuration: .init(endpoints: try AMQPEndpoint.list(TestEnvironment.brokerURL), name: "test-raw"),
                                        logger: logger)
    }

    /// Publishes a message with Celery-like properties that the test then breaks.
    func publish(queue: String, headers: FieldTable, body: [UInt8], contentType: String? = "application/json") async throws {
        let properties = BasicProperties(contentType: contentType, contentEncoding: "utf-8", headers: headers, deliveryMode: 2,
                                         priority: 0, correlationId: headers["id"]?.stringValue)
        try await connection.publish(OutgoingMessage(routingKey: queue, properties: properties, body: body))
    }

    /// Takes every message from `queue` (acknowledging them).
    func drain(_ queue: String, expecting count: Int, timeout: Double = hangGuard) async throws -> [Delivery] {
        let received = Mutex<[Delivery]>([])
        let connection = self.connection
        let tag = try await connection.consume(queue: queue, options: ConsumerOptions(prefetch: 100)) { delivery in
            received.withLock { $0.append(delivery) }
            connection.ack(delivery)
        }
        _ = tag
        try await eventually(timeout: timeout, "\(count) messages in \(queue)") { received.withLock { $0.count } >= count }
        try await connection.cancelConsumers()
        return received.withLock { $0 }
    }
}

func celeryHeaders(task: String?, id: String?) -> FieldTable {
    var headers: FieldTable = ["lang": .string("py")]
    if let task { headers["task"] = .string(task) }
    if let id { headers["id"] = .string(id) }
    headers["retries"] = .int32(0)
    headers["timelimit"] = .array([.void, .void])
    return headers
}

@Suite("Bad input is dead-lettered with a reason, and nothing is lost")
struct BadInputTests {
    @Test("each kind of bad message lands in the dead letters with its reason while good tasks keep flowing")
    func badMessagesAreDeadLettered() async throws {
        let queue = TestEnvironment.uniqueQueue("bad")
        let worker = try await TestWorker(queue: queue)
        let client = try testClient(queue: queue)
        let raw = try RawBroker()
        let good = Array(#"[[1, 2], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]"#.utf8)
        let huge = [UInt8](repeating: UInt8(ascii: "a"), count: 50 << 20)
        let cases: [(name: String, reason: String, headers: FieldTable, body: [UInt8], contentType: String?)] = [
            ("malformed JSON", "malformed-body", celeryHeaders(task: "conveyor.add", id: UUID().uuidString), Array("[[1, 2], {".utf8), "application/json"),
            ("not a 3-element array", "malformed-body", celeryHeaders(task: "conveyor.add", id: UUID().uuidString), Array("[[1, 2], {}]".utf8), "application/json"),
            ("object body", "malformed-body", celeryHeaders(task: "conveyor.add", id: UUID().uuidString), Array(#"{"args": [1]}"#.utf8), "application/json"),
            ("missing task header", "missing-header", celeryHeaders(task: nil, id: UUID().uuidString), good, "application/json"),
            ("missing id header", "missing-header", celeryHeaders(task: "conveyor.add", id: nil), good, "application/json"),
            ("unknown task", "unknown-task", celeryHeaders(task: "no.such.task", id: UUID().uuidString), good, "application/json"),
            ("pickle", "content-type", celeryHeaders(task: "conveyor.add", id: UUID().uuidString), [0x80, 0x04, 0x95, 0x00], "application/x-python-serialize"),
            ("invalid UTF-8", "malformed-body", celeryHeaders(task: "conveyor.echo", id: UUID().uuidString),
             Array(#"[["bad "#.utf8) + [0xFF, 0xFE] + Array(#""], {}, {}]"#.utf8), "application/json"),
            ("50 MB body", "too-large", celeryHeaders(task: "conveyor.echo", id: UUID().uuidString), huge, "application/json"),
        ]
        var goodHandles: [TaskHandle] = []
        for (index, bad) in cases.enumerated() {
            try await raw.publish(queue: queue, headers: bad.headers, body: bad.body, contentType: bad.contentType)
            goodHandles.append(try await client.send(taskNamed: "conveyor.add", args: [.int(Int64(index)), 100]))
        }
        // The worker kept serving between the bad messages.
        for (index, handle) in goodHandles.enumerated() {
            #expect(try await handle.get(timeout: 60) == .int(Int64(index) + 100))
        }
        let dead = try await raw.drain(WorkQueue.deadLetterName(for: queue), expecting: cases.count, timeout: 60)
        // Nothing lost, nothing extra: every bad message is there exactly once.
        #expect(dead.count == cases.count)
        for bad in cases {
            let id = bad.headers["id"]?.stringValue
            let match = dead.first { delivery in
                delivery.properties.headers?["id"]?.stringValue == id && delivery.body.count == bad.body.count
                    && delivery.properties.headers?["task"]?.stringValue == bad.headers["task"]?.stringValue
            }
            let found = try #require(match, "\(bad.name) is not in the dead letters")
            let headers = found.properties.headers ?? [:]
            #expect(headers[DeadLetterHeader.reason]?.stringValue == bad.reason, "\(bad.name)")
            #expect(headers[DeadLetterHeader.error]?.stringValue?.isEmpty == false, "\(bad.name)")
            #expect(headers[DeadLetterHeader.queue]?.stringValue == queue, "\(bad.name)")
            #expect(headers[DeadLetterHeader.time]?.stringValue.flatMap(ISO8601.parse) != nil, "\(bad.name)")
            #expect(found.body == bad.body, "\(bad.name): body kept byte for byte")
        }
        // A client waiting on a bad message with a task id learns it failed instead of hanging
        // (the letter is confirmed before FAILURE is stored: wait for the outcome itself).
        if let id = cases[0].headers["id"]?.stringValue {
            let result = try await client.wait(for: id, timeout: hangGuard)
            #expect(result.state == .failure)
            #expect(result.exception?.type == "DecodeError")
        }
        if let id = cases[5].headers["id"]?.stringValue {
            let result = try await client.wait(for: id, timeout: hangGuard)
            #expect(result.exception?.type == "NotRegistered")
        }
        let remaining = try await raw.connection.inspect(queue: queue)
        #expect(remaining.messageCount == 0)
        _ = try? await raw.connection.delete(queue: WorkQueue.deadLetterName(for: queue))
        await raw.connection.close()
        await client.close()
        try await worker.stop()
    }

    @Test("absurd numbers in a message (a sleep of 1e300 s, negative and zero time limits) neither crash the worker nor fail the task")
    func absurdNumbers() async throws {
        let queue = TestEnvironment.uniqueQueue("numbers")
        let worker = try await TestWorker(queue: queue)
        let client = try testClient(queue: queue)
        let long = try await client.send(taskNamed: "conveyor.sleep", args: [1e300], options: TaskOptions(softTimeLimit: 0.3))
        #expect(try await long.wait(timeout: hangGuard).exception?.type == "SoftTimeLimitExceeded")
        let raw = try RawBroker()
        var headers = celeryHeaders(task: "conveyor.add", id: TaskID.make())
        // RabbitMQ (Erlang) refuses NaN and infinite doubles itself; the decoding tests cover those.
        headers["timelimit"] = .array([.double(-5), .int32(0)])
        try await raw.publish(queue: queue, headers: headers, body: Array(#"[[20, 22], {}, {}]"#.utf8))
        let id = try #require(headers["id"]?.stringValue)
        try await eventually(timeout: hangGuard, "the task with unusable limits ran") { try await client.result(for: id).state == .success }
        #expect(try await client.result(for: id).get() == 42)
        #expect(try await client.send(taskNamed: "conveyor.add", args: [1, 1]).get(timeout: hangGuard) == 2)
        await raw.connection.close()
        await client.close()
        try await worker.stop()
    }
}
