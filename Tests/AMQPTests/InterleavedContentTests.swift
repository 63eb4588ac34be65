import AMQP
import Foundation
import IOSupport
import Logging
import Testing
import TestSupport

/// A message's content (its header frame and body frames) is read straight from rabbitmq-c's
/// frames. AMQP lets frames of other channels come between a message's content frames; they
/// must be kept and handled afterwards, in order, not lost or read as part of the message.
/// RabbitMQ seldom does it, so a proxy does it on purpose: a `connection.blocked` on channel 0
/// after every content header, a `connection.unblocked` after every last body frame.
@Suite("Frames of another channel inside a message's content")
struct InterleavedContentTests {
    @Test("bodies of one byte to several frames arrive whole, the frames between are handled in order, and the connection lives on")
    func interleavedFrames() async throws {
        try TestEnvironment.requireServices()
        let proxy = try await FaultProxy.start(target: 5672, interleavingAMQP: true)
        let endpoint = try AMQPEndpoint(url: "amqp://guest:guest@127.0.0.1:\(proxy.port)/%2F")
        let recorder = LogRecorder()
        let configuration = AMQPConnection.Configuration(endpoints: [endpoint], name: "amqp-tests-interleaved", rpcTimeout: 30,
                                                         publishTimeout: hangGuard, operationTimeout: hangGuard)
        let connection = try AMQPConnection(configuration: configuration, logger: recorder.logger(label: "interleaved"))
        let inbox = DeliveryInbox()
        // Empty, one byte, a long id-like header, and bodies of one, two and three frames (frame_max is 128 KiB).
        let sizes = [0, 1, 100, 131_064, 131_073, 300_000]
        do {
            try await connection.waitUntilConnected(timeout: hangGuard)
            try await TestBroker.withQueue(on: connection, "interleaved") { queue in
                try await connection.consume(queue: queue, handler: inbox.handler)
                for (index, size) in sizes.enumerated() {
                    let body = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
                    let id = "3c1c8a4e-5a0f-4a4b-9d0e-00000000000\(index)"
                    let properties = BasicProperties(contentType: "application/json", headers: ["id": .string(id), "root_id": .string(id)],
                                                     correlationId: id, replyTo: "f9b1d2c3-0000-4000-8000-000000000000")
                    try await connection.publish(OutgoingMessage(routingKey: queue, properties: properties, body: body))
                }
                let deliveries = try await inbox.wait(for: sizes.count)
                #expect(deliveries.count == sizes.count)
                for (index, size) in sizes.enumerated() {
                    guard index < deliveries.count else { break }
                    let delivery = deliveries[index]
                    let id = "3c1c8a4e-5a0f-4a4b-9d0e-00000000000\(index)"
                    #expect(delivery.body == (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }, "body \(index) of \(size) bytes")
                    #expect(delivery.properties.correlationId == id)
                    #expect(delivery.properties.headers?["root_id"]?.stringValue == id)
                    #expect(delivery.properties.replyTo == "f9b1d2c3-0000-4000-8000-000000000000")
                    #expect(delivery.routingKey == queue)
                    connection.ack(delivery)
                }
                // Every frame in between was handled, blocked before unblocked each time: the
                // last word is unblocked, so this publish is not held back.
                try await eventually(timeout: hangGuard, "every unblocked handled") {
                    recorder.count("amqp publishing unblocked") == sizes.count
                }
                #expect(recorder.count("amqp publishing blocked by broker (resource alarm)") == sizes.count)
                try await connection.publish(OutgoingMessage(routingKey: queue, body: Array("after".utf8)))
                let last = try await inbox.wait(for: sizes.count + 1)
                #expect(last.last?.body == Array("after".utf8))
                if let delivery = last.last { connection.ack(delivery) }
                let words = recorder.all.map(\.message).filter { $0.hasPrefix("amqp publishing") }
                #expect(words.count == 2 * (sizes.count + 1))
                #expect(words.enumerated().allSatisfy { index, word in word.contains("unblocked") == (index % 2 == 1) })
                #expect(connection.generation == 1)
                #expect(recorder.count("amqp connection lost") == 0)
            }
        } catch {
            await connection.close()
            try await proxy.stop()
            throw error
        }
        await connection.close()
        try await proxy.stop()
    }
}
