import AMQP
import Conveyor
import Foundation
import Testing
import TestSupport

@Suite("Dead letters exist before the outcome is visible")
struct DeadLetterOrderTests {
    /// With the dead-letter queue gone, no letter can be confirmed: the worker must then store
    /// no FAILURE and keep the messages. Once a worker has declared it again, every FAILURE a
    /// client sees must already have its letter. Waits on the worker's own log events, not time.
    @Test("a letter that cannot be published stores no FAILURE; once it can, the letter is there before FAILURE")
    func letterBeforeOutcome() async throws {
        let queue = TestEnvironment.uniqueQueue("dl-order")
        let client = try testClient(queue: queue)
        let raw = try RawBroker()
        let register: @Sendable (inout TaskRegistry) -> Void = { registry in
            registry.register("test.always-fails", defaults: TaskDefaults(retry: .fixed(maxRetries: 1, delay: 0))) { _ in
                throw Flaky()
            }
        }
        let logs = LogRecorder()
        let first = try await TestWorker(queue: queue, concurrency: 4, poisonAfter: 100, hostname: "dl-order-1@\(queue)", logs: logs,
                                         register: register)
        _ = try await client.brokerConnection.delete(queue: "\(queue).dead")

        // Three paths to the dead letters: unknown task, malformed body, retries exhausted.
        let unknown = try await client.send(taskNamed: "test.nobody-has-this")
        let malformedId = UUID().uuidString.lowercased()
        try await raw.publish(queue: queue, headers: celeryHeaders(task: "conveyor.add", id: malformedId), body: Array("[1, 2".utf8))
        let exhausted = try await client.send(taskNamed: "test.always-fails")
        let ids = [unknown.id, malformedId, exhausted.id]

        for id in ids {
            try await eventually(timeout: 60, "a failed dead-letter publish for \(id)") {
                logs.count("dead letter not published; message requeued", where: "id", is: id) >= 1
            }
        }
        // The letters were refused, so nothing may claim the tasks ended.
        for result in try await client.results(for: ids) { #expect(result.state != .failure, "\(result.id)") }
        try await first.stop()

        // A new worker declares the dead-letter queue again and finishes the job.
        let second = try await TestWorker(queue: queue, concurrency: 4, poisonAfter: 100, hostname: "dl-order-2@\(queue)",
                                          register: register)
        for id in ids {
            let result = try await client.wait(for: id, timeout: 60)
            #expect(result.state == .failure)
            // FAILURE is visible, so its letter must be confirmed already: no waiting here.
            let letters = try await DeadLetterBox(client: client).list(queue: queue)
            #expect(letters.contains { $0.taskId == id }, "no dead letter yet for \(id) though FAILURE is stored")
        }
        let reasons = try await DeadLetterBox(client: client).list(queue: queue).reduce(into: [String: String]()) {
            if let id = $1.taskId { $0[id] = $1.reason }
        }
        #expect(reasons[unknown.id] == "unknown-task")
        #expect(reasons[malformedId] == "malformed-body")
        #expect(reasons[exhausted.id] == "retries-exhausted")
        _ = try await DeadLetterBox(client: client).drop(queue: queue)
        try await second.stop()
        await client.close()
    }
}
