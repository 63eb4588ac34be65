import AMQP
import Foundation
import IOSupport
import Synchronization
import Testing
import TestSupport

/// Every state a connection reports, in order.
final class StateLog: Sendable {
    private let states = Mutex<[ConnectionState]>([])

    init(_ connection: AMQPConnection) {
        connection.onStateChange { [self] state in states.withLock { $0.append(state) } }
    }

    var all: [ConnectionState] { states.withLock { $0 } }

    /// The attempt numbers of every `reconnecting` report.
    var reconnectAttempts: [Int] {
        all.compactMap { state in
            if case let .reconnecting(attempt, _, _) = state { return attempt }
            return nil
        }
    }
}

@Suite("A publish that can never succeed fails alone")
struct UnpublishableMessageTests {
    private func connection(_ name: String, maxBodySize: Int = PublishLimits.defaultMaxBodySize, publishTimeout: Double = 10,
                            reconnect: Backoff = Backoff()) throws -> AMQPConnection {
        try TestEnvironment.requireServices()
        let configuration = AMQPConnection.Configuration(
            endpoints: try AMQPEndpoint.list(TestEnvironment.brokerURL), name: "amqp-tests-\(name)", rpcTimeout: 5,
            publishTimeout: publishTimeout, operationTimeout: 10, reconnect: reconnect, maxBodySize: maxBodySize)
        return try AMQPConnection(configuration: configuration, logger: TestBroker.logger)
    }

    private func header(_ bytes: Int) -> BasicProperties {
        // Flags (2) + table length (4) + "task" with its length, kind and string length (10).
        BasicProperties(headers: ["task": .string(String(repeating: "t", count: bytes - 16))])
    }

    @Test("oversized headers, an oversized body and an unencodable property each fail alone; the connection never drops")
    func refusedBeforeWriting() async throws {
        let connection = try connection("unpublishable", maxBodySize: 1 << 20)
        let states = StateLog(connection)
        try await connection.waitUntilConnected(timeout: hangGuard)
        let generation = connection.generation
        let budget = connection.publishLimits.propertiesBudget
        #expect(budget == 131_072 - 20, "RabbitMQ's default frame_max was negotiated")
        try await TestBroker.withQueue(on: connection, "unpublishable") { queue in
            let cases: [(name: String, message: OutgoingMessage, refusal: AMQPError.Code?)] = [
                ("good 1", OutgoingMessage(routingKey: queue, body: Array("1".utf8)), nil),
                ("140 KB header", OutgoingMessage(routingKey: queue, properties: header(140_000), body: [1]), .messageTooLarge),
                ("good 2", OutgoingMessage(routingKey: queue, body: Array("2".utf8)), nil),
                ("headers of exactly the budget", OutgoingMessage(routingKey: queue, properties: header(budget), body: [2]), nil),
                ("one byte over the budget", OutgoingMessage(routingKey: queue, properties: header(budget + 1), body: [3]), .messageTooLarge),
                ("good 3", OutgoingMessage(routingKey: queue, body: Array("3".utf8)), nil),
                ("body over the limit", OutgoingMessage(routingKey: queue, body: [UInt8](repeating: 7, count: (1 << 20) + 1)), .messageTooLarge),
                ("correlation id of 300 bytes",
                 OutgoingMessage(routingKey: queue, properties: BasicProperties(correlationId: String(repeating: "c", count: 300)), body: [4]),
                 .invalidMessage),
                ("good 4", OutgoingMessage(routingKey: queue, body: Array("4".utf8)), nil),
            ]
            let results = await connection.publish(batch: cases.map(\.message))
            for (result, expected) in zip(results, cases) {
                switch (result, expected.refusal) {
                case (.success, nil): break
                case let (.failure(error), code?): #expect(error.code == code, "\(expected.name): \(error.message)")
                case let (.failure(error), nil): Issue.record("\(expected.name) failed: \(error.message)")
                case (.success, _?): Issue.record("\(expected.name) was published")
                }
            }
            // One at a time too: an awaited publish gets the error, the next one goes through.
            let single = await #expect(throws: AMQPError.self) {
                try await connection.publish(OutgoingMessage(routingKey: queue, properties: header(70_000 * 2), body: [5]))
            }
            #expect(single?.code == .messageTooLarge)
            try await connection.publish(OutgoingMessage(routingKey: queue, body: Array("5".utf8)))
            #expect(try await connection.inspect(queue: queue).messageCount == 6)
        }
        #expect(connection.generation == generation, "the connection was never replaced")
        #expect(states.reconnectAttempts.isEmpty, "reconnects: \(states.all)")
        await connection.close()
    }

    @Test("a publish the broker refuses (no such exchange) fails alone after one reconnect; the others are confirmed")
    func brokerRefusal() async throws {
        let connection = try connection("refused")
        let states = StateLog(connection)
        try await connection.waitUntilConnected(timeout: hangGuard)
        try await TestBroker.withQueue(on: connection, "refused") { queue in
            let exchange = "conveyor-test.no-such-exchange.\(UUID().uuidString.prefix(8))"
            let messages = [
                OutgoingMessage(routingKey: queue, body: [1]),
                OutgoingMessage(exchange: exchange, routingKey: queue, body: [2]),
                OutgoingMessage(routingKey: queue, body: [3]),
                OutgoingMessage(routingKey: queue, body: [4]),
            ]
            let results = await connection.publish(batch: messages)
            guard case let .failure(error) = results[1] else {
                Issue.record("a publish to a missing exchange was confirmed")
                return
            }
            #expect(error.code == .notFound)
            #expect(error.message.contains(exchange))
            for index in [0, 2, 3] {
                if case let .failure(other) = results[index] { Issue.record("message \(index) failed: \(other.message)") }
            }
            // At least once: a message whose confirm the closed channel lost goes out again.
            let stored = try await connection.inspect(queue: queue).messageCount
            #expect(stored >= 3)
        }
        // The channel close costs one reconnect, not one per re-publish.
        #expect(states.reconnectAttempts == [1], "\(states.all)")
        await connection.close()
    }

    @Test("a message the broker refuses for a reason that names no message is retried with a growing backoff, never a tight loop, until its deadline")
    func unidentifiedRefusalBacksOff() async throws {
        let connection = try connection("unidentified", publishTimeout: 3, reconnect: Backoff(base: 0.05, cap: 0.4, floor: 0.01))
        let states = StateLog(connection)
        try await connection.waitUntilConnected(timeout: hangGuard)
        try await TestBroker.withQueue(on: connection, "unidentified") { queue in
            // RabbitMQ refuses a CC header that is not an array of strings, without saying which message.
            let bad = OutgoingMessage(routingKey: queue, properties: BasicProperties(headers: ["CC": .int32(5)]), body: [1])
            let error = await #expect(throws: AMQPError.self) { try await connection.publish(bad) }
            #expect(error?.code == .connectionLost || error?.code == .confirmTimeout, "\(String(describing: error))")
            try await connection.publish(OutgoingMessage(routingKey: queue, body: [2]))
        }
        let attempts = states.reconnectAttempts
        // Each successful connect was followed by the same refusal; the count never started over.
        #expect(attempts.count >= 2, "\(states.all)")
        #expect(attempts == Array(1...max(1, attempts.count)), "\(attempts)")
        await connection.close()
    }
}
