@testable import Conveyor
import Foundation
import Logging
import Synchronization
import Testing
import TestSupport

/// Priorities as Celery's `task_queue_max_priority` declares them: a backlog drains highest
/// priority first.
@Suite("Priorities")
struct PriorityTests {
    @Test("in a backlog queued before the worker starts, high-priority tasks run before low ones")
    func highPriorityOvertakes() async throws {
        let queue = TestEnvironment.uniqueQueue("priority")
        var configuration = TestEnvironment.configuration(queue: queue)
        configuration.maxPriority = 10
        var logger = Logger(label: "test.client")
        logger.logLevel = .critical
        let client = try ConveyorClient(configuration: configuration, logger: logger)
        for index in 0..<6 {
            _ = try await client.send(taskNamed: "test.order", args: [.string("low-\(index)")], options: TaskOptions(priority: 1))
        }
        for index in 0..<6 {
            _ = try await client.send(taskNamed: "test.order", args: [.string("high-\(index)")], options: TaskOptions(priority: 9))
        }
        let order = Mutex<[String]>([])
        let worker = try await TestWorker(queue: queue, concurrency: 1, prefetch: 1, configuration: configuration) { registry in
            registry.register("test.order") { context in
                let label = try context.argument(0, "label", as: String.self)
                order.withLock { $0.append(label) }
                return .string(label)
            }
        }
        try await eventually(timeout: hangGuard, "all 12 tasks ran") { order.withLock { $0.count } == 12 }
        let ran = order.withLock { $0 }
        #expect(ran == (0..<6).map { "high-\($0)" } + (0..<6).map { "low-\($0)" })
        await client.close()
        try await worker.stop()
    }

    @Test("celery inspect active_queues shows x-max-priority in queue_arguments, as a Python worker with task_queue_max_priority does")
    func activeQueuesArguments() throws {
        var configuration = ConveyorConfiguration(brokerURL: "amqp://guest:guest@127.0.0.1:1/%2F", resultURL: "redis://127.0.0.1:1/0")
        let logger = Logger(label: "priority", factory: { _ in SwiftLogNoOpLogHandler() })
        let plain = try Worker(configuration: configuration, options: WorkerOptions(queues: ["q"]), registry: TaskRegistry(), logger: logger)
        #expect(plain.kombuQueue("q")["queue_arguments"] == .null)
        configuration.maxPriority = 10
        let prioritised = try Worker(configuration: configuration, options: WorkerOptions(queues: ["q"]), registry: TaskRegistry(), logger: logger)
        #expect(prioritised.kombuQueue("q")["queue_arguments"] == ["x-max-priority": 10])
        #expect(prioritised.kombuQueue("q")["max_priority"] == .null)
    }

    @Test("CONVEYOR_QUEUE_MAX_PRIORITY sets the queues' x-max-priority; a value outside 1...255 is refused")
    func environment() throws {
        let configuration = ConveyorConfiguration.fromEnvironment(["CONVEYOR_QUEUE_MAX_PRIORITY": "10"])
        #expect(configuration.maxPriority == 10)
        for bad in ["0", "256", "ten", "-1"] {
            #expect(throws: ConveyorError.self) { try ConveyorConfiguration.fromEnvironment(["CONVEYOR_QUEUE_MAX_PRIORITY": bad]).validate() }
        }
    }
}
