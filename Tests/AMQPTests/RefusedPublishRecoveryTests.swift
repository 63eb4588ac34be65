import AMQP
import Foundation
import IOSupport
import Testing
import TestSupport

/// A broker that refuses publishes (`basic.nack`) for a while, as RabbitMQ does during a
/// quorum-queue failover, here made with a full `x-overflow: reject-publish` queue that the test
/// empties when it chooses.
@Suite("A publish the broker refuses is tried again on a fresh channel until it is taken or its time is up")
struct RefusedPublishRecoveryTests {
    static let refusedLog = "amqp publish refused by broker (basic.nack); trying again on a fresh channel"
    static let movedLog = "amqp publishing moved to a fresh channel"

    private func withRefusingQueue<T>(_ label: String, refusedRetry: Backoff,
                                      _ body: (AMQPConnection, LogRecorder, String) async throws -> T) async throws -> T {
        try TestEnvironment.requireServices()
        let recorder = LogRecorder()
        let configuration = AMQPConnection.Configuration(
            endpoints: try AMQPEndpoint.list(TestEnvironment.brokerURL), name: "amqp-tests-\(label)", rpcTimeout: 5,
            publishTimeout: 20, operationTimeout: 10, refusedRetry: refusedRetry)
        let connection = try AMQPConnection(configuration: configuration, logger: recorder.logger(label: "amqp-tests"))
        do {
            try await connection.waitUntilConnected(timeout: hangGuard)
            let queue = TestEnvironment.uniqueQueue(label)
            let arguments: FieldTable = ["x-max-length": .int32(1), "x-overflow": .string("reject-publish"), "x-expires": .int32(120_000)]
            try await connection.declare([.queue(QueueDeclaration(name: queue, durable: false, arguments: arguments))], remember: false)
            // The one message the queue holds; every publish after it is refused until it goes.
            try await connection.publish(OutgoingMessage(routingKey: queue, body: Array("first".utf8)))
            // A queue left behind by a failing test expires by itself (x-expires).
            let result = try await body(connection, recorder, queue)
            _ = try? await connection.delete(queue: queue)
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw error
        }
    }

    @Test("refused until the queue has room, then taken once, after tries on fresh channels")
    func takenOnceRoomIsMade() async throws {
        try await withRefusingQueue("refused-then-taken", refusedRetry: Backoff(base: 0.05, cap: 0.2, floor: 0.02)) { connection, recorder, queue in
            let second = Task { try await connection.publish(OutgoingMessage(routingKey: queue, body: Array("second".utf8))) }
            // Refused at least twice, the second time already on a fresh channel: the queue is still full.
            try await eventually(timeout: hangGuard, "a refusal and a try on a fresh channel") {
                recorder.count(Self.refusedLog, where: "queue", is: queue) >= 1 && recorder.count(Self.movedLog) >= 2
            }
            #expect(try await connection.inspect(queue: queue).messageCount == 1)
            #expect(try await connection.purge(queue: queue) == 1)
            try await second.value
            #expect(try await connection.inspect(queue: queue).messageCount == 1, "the refused message is in the queue exactly once")
            // The connection itself never went down: refusals are handled on channels.
            #expect(recorder.count("amqp connection lost") == 0)
        }
    }

    @Test("refused until its timeout, it fails saying the broker refused it, and the connection goes on publishing")
    func failsWithReasonAtTimeout() async throws {
        // The next try would be due after the timeout: the message is held, refused, when time is up.
        try await withRefusingQueue("refused-until-timeout", refusedRetry: Backoff(base: 60, cap: 60, floor: 60)) { connection, recorder, queue in
            do {
                try await connection.publish(OutgoingMessage(routingKey: queue, body: Array("second".utf8)), timeout: 3)
                Issue.record("a publish to a full reject-publish queue succeeded")
            } catch let error as AMQPError {
                #expect(error.code == .nacked)
                #expect(error.message.contains("refused") && error.message.contains("reject-publish"), "\(error.message)")
            }
            #expect(recorder.count(Self.refusedLog, where: "queue", is: queue) >= 1)
            #expect(try await connection.inspect(queue: queue).messageCount == 1)
            #expect(try await connection.purge(queue: queue) == 1)
            try await connection.publish(OutgoingMessage(routingKey: queue, body: Array("third".utf8)))
            #expect(try await connection.inspect(queue: queue).messageCount == 1)
            #expect(recorder.count("amqp connection lost") == 0)
        }
    }
}
