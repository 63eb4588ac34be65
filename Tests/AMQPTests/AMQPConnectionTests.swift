import AMQP
import Foundation
import Synchronization
import Testing
import TestSupport

@Suite("AMQP connection against the real broker")
struct AMQPConnectionTests {
    /// Headers holding every value kind, and what a consumer must get back for them.
    static let everyKindHeaders: FieldTable = [
        "lang": .string("py"),
        "bool": .bool(true),
        "i8": .int8(-8),
        "u8": .uint8(200),
        "i16": .int16(-1000),
        "u16": .uint16(60000),
        "i32": .int32(.min),
        "u32": .uint32(.max),
        "i64": .int64(.min),
        "u64": .uint64(.max),
        "float": .float(1.5),
        "double": .double(0.1),
        "decimal": .decimal(scale: 3, value: 1500),
        "string": .string("héllo 😀"),
        "bytes": .bytes([0xFF, 0xFE, 0x00]),
        "utf8-bytes": .bytes(Array("abc".utf8)),
        "timestamp": .timestamp(1_700_000_000),
        "void": .void,
        "array": .array([.int32(1), .string("two"), .void, .array([.bool(false)]), .int64(1 << 40)]),
        "table": .table(["nested": .table(["deep": .int64(1 << 40)]), "empty": .table([:])]),
    ]

    static let everyKindHeadersAsReceived: FieldTable = [
        "lang": .string("py"),
        "bool": .bool(true),
        "i8": .int32(-8),
        "u8": .int32(200),
        "i16": .int32(-1000),
        "u16": .int32(60000),
        "i32": .int32(.min),
        "u32": .int64(4_294_967_295),
        "i64": .int64(.min),
        "u64": .int64(-1),
        "float": .double(1.5),
        "double": .double(0.1),
        "decimal": .double(1.5),
        "string": .string("héllo 😀"),
        "bytes": .bytes([0xFF, 0xFE, 0x00]),
        "utf8-bytes": .string("abc"),
        "timestamp": .int64(1_700_000_000),
        "void": .void,
        "array": .array([.int32(1), .string("two"), .void, .array([.bool(false)]), .int64(1 << 40)]),
        "table": .table(["nested": .table(["deep": .int64(1 << 40)]), "empty": .table([:])]),
    ]

    @Test("a confirmed publish is consumed with every property and header kind intact, and an ack removes it")
    func publishConsumeAck() async throws {
        try await TestBroker.withConnection("publisher") { publisher in
            try await TestBroker.withQueue(on: publisher, "roundtrip") { queue in
                let properties = BasicProperties(
                    contentType: "application/octet-stream", contentEncoding: "binary", headers: Self.everyKindHeaders,
                    deliveryMode: 2, priority: 7, correlationId: "corr-1", replyTo: "reply-here", expiration: "60000",
                    messageId: "message-1", timestamp: 1_700_000_000, type: "kind", appId: "amqp-tests")
                let body = Array("payload \u{0} with a NUL".utf8)
                try await publisher.publish(OutgoingMessage(routingKey: queue, properties: properties, body: body))
                #expect(try await publisher.inspect(queue: queue).messageCount == 1)

                let consumer = try TestBroker.connection("consumer")
                let inbox = DeliveryInbox()
                let delivery: Delivery
                do {
                    try await consumer.consume(queue: queue, handler: inbox.handler)
                    delivery = try #require(try await inbox.wait(for: 1).first)
                } catch {
                    await consumer.close()
                    throw error
                }
                #expect(delivery.queue == queue)
                #expect(delivery.exchange == "")
                #expect(delivery.routingKey == queue)
                #expect(delivery.redelivered == false)
                #expect(delivery.body == body)
                var expected = properties
                expected.headers = Self.everyKindHeadersAsReceived
                #expect(delivery.properties == expected)
                for entry in delivery.properties.headers ?? [:] where Self.everyKindHeadersAsReceived[entry.key] != entry.value {
                    Issue.record("header \(entry.key): got \(entry.value), expected \(String(describing: Self.everyKindHeadersAsReceived[entry.key]))")
                }
                #expect(delivery.properties.headers?.entries.map(\.key) == Self.everyKindHeaders.entries.map(\.key))

                consumer.ack(delivery)
                await consumer.close()
                // Had the ack not reached the broker, closing the consumer would have requeued the message.
                let status = try await publisher.inspect(queue: queue)
                #expect(status.messageCount == 0)
                #expect(status.consumerCount == 0)
            }
        }
    }

    @Test("a mandatory publish to a queue that does not exist fails as unroutable, naming the queue")
    func unroutable() async throws {
        try await TestBroker.withConnection("unroutable") { connection in
            let missing = TestEnvironment.uniqueQueue("missing")
            let error = await #expect(throws: AMQPError.self) {
                try await connection.publish(OutgoingMessage(routingKey: missing, properties: BasicProperties(correlationId: "c1"), body: [1]))
            }
            #expect(error?.code == .unroutable)
            #expect(error?.message.contains(missing) == true)
            #expect(error?.replyCode == 312)
            // The channel stays usable.
            try await TestBroker.withQueue(on: connection, "after-unroutable") { queue in
                try await connection.publish(OutgoingMessage(routingKey: queue, body: [2]))
                #expect(try await connection.inspect(queue: queue).messageCount == 1)
            }
        }
    }

    @Test("a batch publish reports each message's outcome in order (task messages carry their id as correlation id)")
    func batchWithCorrelationIds() async throws {
        try await TestBroker.withConnection("batch") { connection in
            try await TestBroker.withQueue(on: connection, "batch") { queue in
                let missing = TestEnvironment.uniqueQueue("missing")
                let routable = [true, false, true, true, false, false, true, false, true, true]
                let messages = routable.enumerated().map { index, ok in
                    OutgoingMessage(routingKey: ok ? queue : missing, properties: BasicProperties(correlationId: "id-\(index)"),
                                    body: Array("message \(index)".utf8))
                }
                let results = await connection.publish(batch: messages)
                #expect(results.count == routable.count)
                for (index, (result, ok)) in zip(results, routable).enumerated() {
                    switch result {
                    case .success: #expect(ok, "message \(index) to a missing queue was confirmed")
                    case let .failure(error):
                        #expect(!ok, "message \(index) to an existing queue failed: \(error.message)")
                        #expect(error.code == .unroutable)
                    }
                }
                let status = try await connection.inspect(queue: queue)
                #expect(status.messageCount == UInt32(routable.filter { $0 }.count))
            }
        }
    }

    @Test("a batch publish reports each message's outcome in order, also for messages without a correlation id")
    func batchWithoutCorrelationIds() async throws {
        try await TestBroker.withConnection("batch-plain") { connection in
            try await TestBroker.withQueue(on: connection, "batch-plain") { queue in
                let missing = TestEnvironment.uniqueQueue("missing")
                let routable = (0..<40).map { $0 % 3 != 1 }
                let messages = routable.enumerated().map { index, ok in
                    OutgoingMessage(routingKey: ok ? queue : missing, body: Array("message \(index)".utf8))
                }
                let results = await connection.publish(batch: messages)
                let outcome = results.map { (try? $0.get()) != nil }
                #expect(outcome == routable)
                let status = try await connection.inspect(queue: queue)
                #expect(status.messageCount == UInt32(routable.filter { $0 }.count))
            }
        }
    }

    @Test("inspecting a missing queue fails with notFound and the connection keeps working")
    func inspectMissingQueue() async throws {
        try await TestBroker.withConnection("inspect") { connection in
            let missing = TestEnvironment.uniqueQueue("missing")
            let error = await #expect(throws: AMQPError.self) { try await connection.inspect(queue: missing) }
            #expect(error?.code == .notFound)
            #expect(error?.replyCode == 404)
            #expect(error?.message.contains(missing) == true)
            try await TestBroker.withQueue(on: connection, "after-404") { queue in
                try await connection.publish(OutgoingMessage(routingKey: queue, body: [1]))
                #expect(try await connection.inspect(queue: queue).messageCount == 1)
                // And again: a second refusal is handled the same way.
                let again = await #expect(throws: AMQPError.self) { try await connection.inspect(queue: missing) }
                #expect(again?.code == .notFound)
                try await connection.publish(OutgoingMessage(routingKey: queue, body: [2]))
                #expect(try await connection.inspect(queue: queue).messageCount == 2)
            }
        }
    }

    @Test("re-declaring a queue with other arguments fails with preconditionFailed and the connection keeps working")
    func conflictingDeclare() async throws {
        try await TestBroker.withConnection("conflict") { connection in
            try await TestBroker.withQueue(on: connection, "conflict") { queue in
                let conflicting = QueueDeclaration(name: queue, durable: false, arguments: ["x-expires": .int32(120_000), "x-max-priority": .int32(5)])
                let error = await #expect(throws: AMQPError.self) { try await connection.declare([.queue(conflicting)], remember: false) }
                #expect(error?.code == .preconditionFailed)
                #expect(error?.replyCode == 406)
                #expect(error?.message.contains(queue) == true)
                try await connection.publish(OutgoingMessage(routingKey: queue, body: [1]))
                #expect(try await connection.inspect(queue: queue).messageCount == 1)
                try await TestBroker.withQueue(on: connection, "after-406") { other in
                    let status = try await connection.inspect(queue: other)
                    #expect(status.messageCount == 0)
                }
            }
        }
    }

    @Test("a queue declared with acceptExisting takes the existing queue instead of failing")
    func acceptExisting() async throws {
        try await TestBroker.withConnection("accept-existing") { connection in
            try await TestBroker.withQueue(on: connection, "accept") { queue in
                let different = QueueDeclaration(name: queue, durable: false, arguments: ["x-max-priority": .int32(3)], acceptExisting: true)
                try await connection.declare([.queue(different)], remember: false)
                try await connection.publish(OutgoingMessage(routingKey: queue, body: [1]))
                #expect(try await connection.inspect(queue: queue).messageCount == 1)
            }
        }
    }

    @Test("a 2 MB body round-trips byte for byte")
    func largeBody() async throws {
        try await TestBroker.withConnection("large") { connection in
            try await TestBroker.withQueue(on: connection, "large") { queue in
                var generator = SystemRandomNumberGenerator()
                let body = (0..<(2 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                try await connection.publish(OutgoingMessage(routingKey: queue, body: body))
                let inbox = DeliveryInbox()
                try await connection.consume(queue: queue, handler: inbox.handler)
                let delivery = try #require(try await inbox.wait(for: 1, timeout: hangGuard).first)
                #expect(delivery.body.count == body.count)
                #expect(delivery.body == body)
                connection.ack(delivery)
                try await connection.cancelConsumers()
            }
        }
    }

    @Test("after cancelConsumers no more deliveries arrive; new messages stay in the queue")
    func cancelStopsDeliveries() async throws {
        try await TestBroker.withConnection("cancel") { connection in
            try await TestBroker.withQueue(on: connection, "cancel") { queue in
                let inbox = DeliveryInbox()
                try await connection.consume(queue: queue, handler: inbox.handler)
                try await connection.publish(OutgoingMessage(routingKey: queue, body: [1]))
                let first = try #require(try await inbox.wait(for: 1).first)
                connection.ack(first)
                try await connection.cancelConsumers()
                try await connection.publish(OutgoingMessage(routingKey: queue, body: [2]))
                let status = try await connection.inspect(queue: queue)
                #expect(status.consumerCount == 0)
                #expect(status.messageCount == 1)
                #expect(inbox.deliveries.count == 1)
            }
        }
    }

    @Test("purge empties a queue and delete reports what it held")
    func purgeAndDelete() async throws {
        try await TestBroker.withConnection("purge") { connection in
            let queue = TestEnvironment.uniqueQueue("purge")
            try await connection.declare([.queue(QueueDeclaration(name: queue, durable: false, arguments: ["x-expires": .int32(120_000)]))],
                                         remember: false)
            _ = await connection.publish(batch: (0..<3).map { OutgoingMessage(routingKey: queue, body: [UInt8($0)]) })
            #expect(try await connection.purge(queue: queue) == 3)
            try await connection.publish(OutgoingMessage(routingKey: queue, body: [9]))
            #expect(try await connection.delete(queue: queue) == 1)
            let error = await #expect(throws: AMQPError.self) { try await connection.inspect(queue: queue) }
            #expect(error?.code == .notFound)
        }
    }
}

@Suite("AMQP connection failures say what went wrong")
struct AMQPConnectionFailureTests {
    @Test("waiting for a broker on a closed port fails within the timeout, naming the redacted URL and the refusal")
    func closedPort() async throws {
        let endpoint = try AMQPEndpoint(url: "amqp://guest:s3cret-pw@127.0.0.1:1/")
        let connection = try TestBroker.connection(to: endpoint, name: "closed-port")
        let started = ContinuousClock.now
        try await TestBroker.firstAttemptFailed(connection)
        let error = await #expect(throws: AMQPError.self) { try await connection.waitUntilConnected(timeout: 1.5) }
        let elapsed = ContinuousClock.now - started
        await connection.close()
        // Bounded, not timed: the hang guard, which only a hang reaches (a loaded machine took 41 s).
        #expect(elapsed < .seconds(hangGuard), "waitUntilConnected took \(elapsed)")
        #expect(error?.code == .connectionFailed)
        let message = error?.message ?? ""
        #expect(message.contains("amqp://guest@127.0.0.1:1/%2F"), "message: \(message)")
        #expect(message.lowercased().contains("refused"), "message: \(message)")
        #expect(!message.contains("s3cret-pw"))
        #expect(connection.lastError == nil || connection.lastError?.message.contains("s3cret-pw") == false)
    }

    @Test("a wrong password is reported as a refused login, without the password")
    func wrongPassword() async throws {
        try TestEnvironment.requireServices()
        var endpoint = try #require(try AMQPEndpoint.list(TestEnvironment.brokerURL).first)
        endpoint.password = "wrong-\(UUID().uuidString)"
        let connection = try TestBroker.connection(to: endpoint, name: "wrong-password")
        try await TestBroker.firstAttemptFailed(connection)
        let error = await #expect(throws: AMQPError.self) { try await connection.waitUntilConnected(timeout: 3) }
        await connection.close()
        #expect(error?.code == .loginRefused)
        let message = error?.message.lowercased() ?? ""
        #expect(message.contains("refused") && message.contains("login"), "message: \(message)")
        #expect(message.contains(endpoint.user))
        #expect(!message.contains(endpoint.password.lowercased()))
    }

    @Test("a missing virtual host is reported as a refused login naming the vhost")
    func missingVhost() async throws {
        try TestEnvironment.requireServices()
        var endpoint = try #require(try AMQPEndpoint.list(TestEnvironment.brokerURL).first)
        endpoint.vhost = "no-such-vhost-\(UUID().uuidString.prefix(8))"
        let connection = try TestBroker.connection(to: endpoint, name: "missing-vhost")
        try await TestBroker.firstAttemptFailed(connection)
        let error = await #expect(throws: AMQPError.self) { try await connection.waitUntilConnected(timeout: 3) }
        await connection.close()
        #expect(error?.code == .loginRefused)
        #expect(error?.message.contains(endpoint.vhost) == true, "message: \(error?.message ?? "")")
    }

    @Test("a publish with no broker fails once its timeout passes, saying there is no connection")
    func publishWithoutBroker() async throws {
        let endpoint = try AMQPEndpoint(url: "amqp://guest:guest@127.0.0.1:1/")
        let connection = try TestBroker.connection(to: endpoint, name: "no-broker-publish")
        try await TestBroker.firstAttemptFailed(connection)
        let error = await #expect(throws: AMQPError.self) {
            try await connection.publish(OutgoingMessage(routingKey: "anything", body: [1]), timeout: 0.5)
        }
        await connection.close()
        #expect(error?.code == .connectionLost)
        #expect(error?.message.contains("127.0.0.1:1") == true, "message: \(error?.message ?? "")")
    }
}

@Suite("A closed AMQP connection answers instead of hanging")
struct AMQPClosedConnectionTests {
    @Test("calls made after close() fail with .closed instead of waiting forever")
    func callsAfterClose() async throws {
        let connection = try TestBroker.connection("closed")
        try await connection.waitUntilConnected(timeout: hangGuard)
        await connection.close()
        #expect(connection.state == .closed)

        let inspect = await Bounded.outcome(within: hangGuard) { try await connection.inspect(queue: "anything", timeout: 1) }
        #expect(inspect != nil, "inspect(queue:) after close() did not return within \(hangGuard) s")
        if let inspect { #expect((inspect.failure as? AMQPError)?.code == .closed, "got \(inspect)") }

        let publish = await Bounded.outcome(within: hangGuard) {
            try await connection.publish(OutgoingMessage(routingKey: "anything", body: [1]), timeout: 1)
        }
        #expect(publish != nil, "publish after close() did not return within \(hangGuard) s")
        if let publish { #expect((publish.failure as? AMQPError)?.code == .closed, "got \(publish)") }

        let secondClose = await Bounded.outcome(within: hangGuard) { await connection.close() }
        #expect(secondClose != nil, "a second close() did not return within \(hangGuard) s")
    }
}

/// Waits a bounded time for calls that might never return.
enum Bounded {
    /// Runs `operation` in a task of its own and waits at most `timeout` seconds for it; nil when
    /// it did not return in time, so a stuck call fails the test instead of hanging the run (the
    /// stuck task is leaked).
    static func outcome<T: Sendable>(within timeout: Double,
                                     _ operation: @escaping @Sendable () async throws -> T) async -> Result<T, any Error>? {
        let box = Mutex<Result<T, any Error>?>(nil)
        Task {
            do {
                let value = try await operation()
                box.withLock { $0 = .success(value) }
            } catch {
                box.withLock { $0 = .failure(error) }
            }
        }
        try? await eventually(timeout: timeout, "the call returned") { box.withLock { $0 } != nil }
        return box.withLock { $0 }
    }
}

extension Result {
    var failure: Failure? {
        if case let .failure(error) = self { return error }
        return nil
    }
}
