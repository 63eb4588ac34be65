import AMQP
import Testing
import TestSupport

/// Acknowledging and rejecting deliveries: each settlement reaches the broker and settles
/// exactly the deliveries it names.
@Suite("AMQP settlements against the real broker")
struct AMQPSettlementTests {
    @Test("a rejected and requeued delivery comes back marked redelivered")
    func rejectRequeue() async throws {
        try await TestBroker.withConnection("reject") { connection in
            try await TestBroker.withQueue(on: connection, "reject") { queue in
                let inbox = DeliveryInbox()
                try await connection.consume(queue: queue, handler: inbox.handler)
                try await connection.publish(OutgoingMessage(routingKey: queue, body: Array("again".utf8)))
                let first = try #require(try await inbox.wait(for: 1).first)
                #expect(first.redelivered == false)
                connection.reject(first, requeue: true)
                let second = try await inbox.wait(for: 2)[1]
                #expect(second.redelivered == true)
                #expect(second.body == Array("again".utf8))
                connection.ack(second)
                try await connection.cancelConsumers()
            }
        }
    }

    @Test("acknowledging a batch out of order settles every delivery in it, and only those")
    func ackBatch() async throws {
        try await TestBroker.withConnection("ack-batch") { connection in
            try await TestBroker.withQueue(on: connection, "ack-batch") { queue in
                _ = await connection.publish(batch: (0..<5).map { OutgoingMessage(routingKey: queue, body: [UInt8($0)]) })
                // Closing the consumer sends the acknowledgements, then the broker requeues what is unsettled.
                try await TestBroker.withConnection("ack-batch-consumer") { consumer in
                    let inbox = DeliveryInbox()
                    try await consumer.consume(queue: queue, handler: inbox.handler)
                    let deliveries = try await inbox.wait(for: 5)
                    // 0, 1 and 3 acknowledged in one call (3 ahead of the still open 2); 2 and 4 left open.
                    consumer.ack([deliveries[3], deliveries[0], deliveries[1]])
                }
                try await eventually(timeout: hangGuard, "the two unsettled deliveries are back in the queue") {
                    try await connection.inspect(queue: queue).messageCount == 2
                }
                let again = DeliveryInbox()
                try await connection.consume(queue: queue, handler: again.handler)
                let left = try await again.wait(for: 2)
                #expect(Set(left.map(\.body)) == [[2], [4]])
                left.forEach(connection.ack)
                try await connection.cancelConsumers()
            }
        }
    }

    @Test("a rejected delivery without requeue is dropped")
    func rejectDrop() async throws {
        try await TestBroker.withConnection("reject-drop") { connection in
            try await TestBroker.withQueue(on: connection, "reject-drop") { queue in
                try await connection.publish(OutgoingMessage(routingKey: queue, body: [1]))
                let inbox = DeliveryInbox()
                try await TestBroker.withConnection("reject-drop-consumer") { consumer in
                    try await consumer.consume(queue: queue, handler: inbox.handler)
                    let first = try #require(try await inbox.wait(for: 1).first)
                    consumer.reject(first, requeue: false)
                }
                // Had the message been left unsettled or requeued, closing the consumer would have put it back.
                let status = try await connection.inspect(queue: queue)
                #expect(status.messageCount == 0)
                #expect(inbox.deliveries.count == 1)
            }
        }
    }
}
