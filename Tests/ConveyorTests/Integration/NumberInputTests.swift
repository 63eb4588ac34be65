import AMQP
@testable import Conveyor
import Foundation
import Logging
import Testing
import TestSupport

/// Numbers a task or a message hands the worker end as an outcome (FAILURE or a dead letter)
/// or are held to what the broker can carry, and the worker keeps serving.
@Suite("Numbers reaching a worker: an outcome, never a crash")
struct NumberInputTests {
    @Test("retry(after:) with infinity, NaN or beyond the delay cascade stores FAILURE naming it; the worker keeps serving")
    func retryAfterOutOfRange() async throws {
        let queue = TestEnvironment.uniqueQueue("retrynum")
        let worker = try await TestWorker(queue: queue) { registry in
            registry.register("numbers.retry") { context in
                let seconds = try context.argument(0, "seconds", as: String.self)
                throw context.retry(after: Double(seconds) ?? 0, maxRetries: 3)
            }
        }
        let client = try testClient(queue: queue)
        for seconds in ["inf", "nan", "1e300", String(DelayedDelivery.maxDelay + 1)] {
            let result = try await client.send(taskNamed: "numbers.retry", args: [.string(seconds)]).wait(timeout: hangGuard)
            #expect(result.state == .failure, "\(seconds)")
            #expect(result.exception?.type == "ConveyorError", "\(seconds): \(String(describing: result.exception))")
            #expect(result.exception?.message.contains("retry(after:)") == true, "\(seconds)")
        }
        #expect(try await client.send(taskNamed: "conveyor.add", args: [40, 2]).get(timeout: hangGuard) == 42)
        await client.close()
        try await worker.stop()
    }

    @Test("a message whose numeric eta lies past the year 9999 is dead-lettered as an invalid header and its client told")
    func numericETAPastTheYear9999() async throws {
        let queue = TestEnvironment.uniqueQueue("etanum")
        let worker = try await TestWorker(queue: queue)
        let client = try testClient(queue: queue)
        let raw = try RawBroker()
        let id = TaskID.make()
        var headers = celeryHeaders(task: "conveyor.add", id: id)
        // RabbitMQ refuses NaN and infinite doubles in headers; 1e300 it carries.
        headers["eta"] = .double(1e300)
        try await raw.publish(queue: queue, headers: headers, body: Array(#"[[1, 2], {}, {}]"#.utf8))
        let result = try await client.wait(for: id, timeout: hangGuard)
        #expect(result.state == .failure)
        let dead = try await raw.drain(WorkQueue.deadLetterName(for: queue), expecting: 1, timeout: hangGuard)
        #expect(dead.first?.properties.headers?[DeadLetterHeader.reason]?.stringValue == "invalid-header")
        #expect(dead.first?.properties.headers?["id"]?.stringValue == id)
        #expect(try await client.send(taskNamed: "conveyor.add", args: [1, 2]).get(timeout: hangGuard) == 3)
        _ = try? await raw.connection.delete(queue: WorkQueue.deadLetterName(for: queue))
        await raw.connection.close()
        await client.close()
        try await worker.stop()
    }

    @Test("numbers in a link's options: unusable time limits and countdowns are none, a countdown past the cascade is its longest delay")
    func linkOptions() throws {
        let configuration = ConveyorConfiguration(brokerURL: "amqp://guest:guest@127.0.0.1:1/%2F", resultURL: "redis://127.0.0.1:1/0")
        let worker = try Worker(configuration: configuration, options: WorkerOptions(queues: ["q"]), registry: TaskRegistry(),
                                logger: Logger(label: "numbers", factory: { _ in SwiftLogNoOpLogHandler() }))
        let parent = TaskMessage(id: "parent", task: "p", args: [], kwargs: [:])
        func child(_ options: JSONObject) throws -> TaskMessage {
            var plan = CanvasPlan()
            worker.expander(parent: parent).expand(Signature(task: "c", options: options), parentValue: 1, into: &plan)
            return try #require(plan.messages.first?.message)
        }
        let unusable = try child(["time_limit": .double(.nan), "soft_time_limit": -1, "countdown": .double(.nan), "expires": 1e300])
        #expect(unusable.timeLimit == nil && unusable.softTimeLimit == nil)
        #expect(unusable.eta == nil && unusable.expires == nil)
        let before = Date()
        let far = try child(["countdown": 1e300, "time_limit": .double(.infinity), "expires": .double(-.infinity)])
        let eta = try #require(far.eta)
        #expect(eta.timeIntervalSince(before) >= Double(DelayedDelivery.maxDelay))
        #expect(eta.timeIntervalSince(Date()) <= Double(DelayedDelivery.maxDelay))
        #expect(far.timeLimit == nil && far.expires == nil)
        let usable = try child(["time_limit": 30, "soft_time_limit": 20, "countdown": 5, "expires": 60])
        #expect(usable.timeLimit == 30 && usable.softTimeLimit == 20)
        #expect(usable.eta != nil && usable.expires != nil)
    }
}
