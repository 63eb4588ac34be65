@testable import Conveyor
import Diagnostics
import Foundation
import Logging
import Testing
import TestSupport

/// Workers under rate limits. Every limit here is 1/h with a small burst, so how many tasks
/// run before the limit bites is exact whatever the machine's speed; the held-back ones are
/// checked again every second or two (`rateLimitMaxWait` = 1) and run once the test lifts the
/// limit. Task names are unique per test: run-time limits are fleet-wide.
@Suite("Rate limits on workers: deferred, not run, not retried")
struct RateLimitWorkerTests {
    /// A worker on `queue` whose held-back tasks are checked again within a second.
    private final class LimitedWorker: Sendable {
        let worker: Worker
        let logs = LogRecorder()
        private let runTask: Task<Void, Error>

        init(queue: String, name: String, configuration: ConveyorConfiguration? = nil,
             register: (inout TaskRegistry) throws -> Void) async throws {
            try TestEnvironment.requireServices()
            var registry = TaskRegistry()
            Diagnostics.register(into: &registry)
            try register(&registry)
            var options = WorkerOptions(queues: [queue], concurrency: 8, hostname: "test-\(name)@\(queue)", shutdownGracePeriod: 5,
                                        storeRetryWindow: 10, heartbeatInterval: 1)
            options.rateLimitMaxWait = 1
            worker = try Worker(configuration: configuration ?? TestEnvironment.configuration(queue: queue), options: options,
                                registry: registry, logger: logs.logger(label: "test.limits"))
            let worker = self.worker
            runTask = Task { try await worker.run() }
            try await eventually(timeout: hangGuard, "worker on \(queue) ready") { worker.isReady }
        }

        var deferredByLimit: Int { logs.count("task deferred", where: "reason", is: "rate-limit") }
        var started: Int { logs.count("task started") }

        func stop() async throws {
            worker.shutdown(.warm)
            try await runTask.value
        }
    }

    private func states(_ client: ConveyorClient, _ handles: [TaskHandle]) async throws -> [TaskState] {
        var states: [TaskState] = []
        for handle in handles { states.append(try await client.result(for: handle.id).state) }
        return states
    }

    @Test("limit set at run time reaches a running worker; the surplus is deferred PENDING without a retry; limit clear lets it all run")
    func runTimeSetAndClear() async throws {
        let queue = TestEnvironment.uniqueQueue("limit-runtime")
        let task = "test.limited.\(UUID().uuidString)"
        let worker = try await LimitedWorker(queue: queue, name: "a") { $0.register(task) { _ in .int(1) } }
        let client = try testClient(queue: queue)
        let settings = RateLimitSettings(client: client)
        let limit = try RateLimit("1/h", burst: 2)
        try await settings.set(limit, for: task)
        try await eventually(timeout: hangGuard, "the worker read the limit") { worker.worker.rateLimits.limit(for: task) == limit }

        var handles: [TaskHandle] = []
        for _ in 0..<5 { handles.append(try await client.send(taskNamed: task)) }
        try await eventually(timeout: hangGuard, "2 ran and 3 were deferred") {
            try await states(client, handles).filter { $0 == .success }.count == 2 && worker.deferredByLimit >= 3
        }
        #expect(try await states(client, handles).filter { $0 == .pending }.count == 3)
        #expect(worker.started == 2)
        #expect(worker.logs.count("task retry") == 0)
        let hostname = worker.worker.options.hostname
        try await eventually(timeout: hangGuard, "the heartbeat counts deferrals under rate-limit") {
            try await Fleet(client: client).workers().first { $0.hostname == hostname }?.deferred["rate-limit"] ?? 0 >= 3
        }

        #expect(try await settings.clear(task: task))
        try await eventually(timeout: hangGuard, "the worker saw the limit go") { worker.worker.rateLimits.limit(for: task) == nil }
        for handle in handles { #expect(try await handle.get(timeout: hangGuard) == 1) }
        #expect(worker.started == 5)
        #expect(worker.logs.count("task retry") == 0)
        await client.close()
        try await worker.stop()
    }

    @Test("a limit in code applies; a run-time limit replaces it; clearing that brings the code's back")
    func codeDefaultAndOverride() async throws {
        let queue = TestEnvironment.uniqueQueue("limit-code")
        let task = "test.limited.\(UUID().uuidString)"
        let inCode = try RateLimit("1/h", burst: 1)
        let worker = try await LimitedWorker(queue: queue, name: "a") { $0.register(task, defaults: TaskDefaults(rateLimit: inCode)) { _ in .int(2) } }
        let client = try testClient(queue: queue)
        let settings = RateLimitSettings(client: client)
        var handles: [TaskHandle] = []
        for _ in 0..<3 { handles.append(try await client.send(taskNamed: task)) }
        try await eventually(timeout: hangGuard, "1 ran and 2 were deferred") {
            try await states(client, handles).filter { $0 == .success }.count == 1 && worker.deferredByLimit >= 2
        }
        #expect(worker.started == 1)

        let raised = try RateLimit("10000/s", burst: 100)
        try await settings.set(raised, for: task)
        try await eventually(timeout: hangGuard, "the worker read the override") { worker.worker.rateLimits.limit(for: task) == raised }
        for handle in handles { #expect(try await handle.get(timeout: hangGuard) == 2) }

        try await settings.clear(task: task)
        try await eventually(timeout: hangGuard, "the code's limit is back") { worker.worker.rateLimits.limit(for: task) == inCode }
        // The debt left at 10000/s is long paid: one late task runs, the next waits an hour again.
        let deferredBefore = worker.deferredByLimit
        let late = [try await client.send(taskNamed: task), try await client.send(taskNamed: task)]
        try await eventually(timeout: hangGuard, "one late task ran and the other was deferred") {
            try await states(client, late).filter { $0 == .success }.count == 1 && worker.deferredByLimit > deferredBefore
        }
        #expect(try await states(client, late).filter { $0 == .pending }.count == 1)
        #expect(worker.started == 4)
        await client.close()
        try await worker.stop()
    }

    @Test("a fleet limit holds across two workers: exactly the burst runs between them")
    func fleetAcrossWorkers() async throws {
        let queue = TestEnvironment.uniqueQueue("limit-fleet")
        let task = "test.limited.\(UUID().uuidString)"
        let limit = try RateLimit("1/h", burst: 3)
        let workers = [
            try await LimitedWorker(queue: queue, name: "a") { $0.register(task, defaults: TaskDefaults(rateLimit: limit)) { _ in .int(3) } },
            try await LimitedWorker(queue: queue, name: "b") { $0.register(task, defaults: TaskDefaults(rateLimit: limit)) { _ in .int(3) } },
        ]
        let client = try testClient(queue: queue)
        var handles: [TaskHandle] = []
        for _ in 0..<8 { handles.append(try await client.send(taskNamed: task)) }
        // Each of the 5 held back is deferred at least twice: checked again after running out of burst.
        try await eventually(timeout: hangGuard, "3 ran and the rest were deferred again and again") {
            try await states(client, handles).filter { $0 == .success }.count == 3 && workers.map(\.deferredByLimit).reduce(0, +) >= 10
        }
        #expect(try await states(client, handles).filter { $0 == .pending }.count == 5)
        #expect(workers.map(\.started).reduce(0, +) == 3)
        await client.close()
        for worker in workers { try await worker.stop() }
    }

    @Test("per-argument limits: each value has its own budget")
    func perArgument() async throws {
        let queue = TestEnvironment.uniqueQueue("limit-arg")
        let task = "test.limited.\(UUID().uuidString)"
        let limit = try RateLimit("1/h", burst: 1, perArgument: "0:domain")
        let worker = try await LimitedWorker(queue: queue, name: "a") {
            $0.register(task, defaults: TaskDefaults(rateLimit: limit)) { context in .string(try context.argument(0, "domain", as: String.self)) }
        }
        let client = try testClient(queue: queue)
        let a = try await client.send(taskNamed: task, args: ["a.example"])
        let b = try await client.send(taskNamed: task, kwargs: ["domain": "b.example"])
        #expect(try await a.get(timeout: hangGuard) == "a.example")
        #expect(try await b.get(timeout: hangGuard) == "b.example")
        let again = try await client.send(taskNamed: task, kwargs: ["domain": "a.example"])
        try await eventually(timeout: hangGuard, "the second a.example was deferred") { worker.deferredByLimit >= 1 }
        #expect(try await client.result(for: again.id).state == .pending)
        let c = try await client.send(taskNamed: task, args: ["c.example"])
        #expect(try await c.get(timeout: hangGuard) == "c.example")
        #expect(worker.started == 3)
        await client.close()
        try await worker.stop()
    }

    @Test("a diagnostic task is limited like any other (per argument value here, so no other test's echo is touched)")
    func diagnosticTask() async throws {
        let queue = TestEnvironment.uniqueQueue("limit-diag")
        let limit = try RateLimit("1/h", burst: 1, perArgument: "0")
        let worker = try await LimitedWorker(queue: queue, name: "a") { try $0.setRateLimit(limit, for: "conveyor.echo") }
        let client = try testClient(queue: queue)
        let value = JSON.string(UUID().uuidString)
        let handles = [try await client.send(taskNamed: "conveyor.echo", args: [value]), try await client.send(taskNamed: "conveyor.echo", args: [value])]
        try await eventually(timeout: hangGuard, "one echo ran and the other was deferred") {
            try await states(client, handles).filter { $0 == .success }.count == 1 && worker.deferredByLimit >= 1
        }
        #expect(try await states(client, handles).filter { $0 == .pending }.count == 1)
        #expect(worker.started == 1)
        await client.close()
        try await worker.stop()
    }

    @Test("scope worker is Celery's meaning: each worker has its own budget")
    func workerScope() async throws {
        let queue = TestEnvironment.uniqueQueue("limit-scope")
        let task = "test.limited.\(UUID().uuidString)"
        let limit = try RateLimit("1/h", burst: 1, scope: .worker)
        let workers = [
            try await LimitedWorker(queue: queue, name: "a") { $0.register(task, defaults: TaskDefaults(rateLimit: limit)) { _ in .int(4) } },
            try await LimitedWorker(queue: queue, name: "b") { $0.register(task, defaults: TaskDefaults(rateLimit: limit)) { _ in .int(4) } },
        ]
        let client = try testClient(queue: queue)
        var handles: [TaskHandle] = []
        for _ in 0..<4 { handles.append(try await client.send(taskNamed: task)) }
        // Deferred copies go round both workers until each has run its one.
        try await eventually(timeout: hangGuard, "each worker ran one and both deferred the rest") {
            try await states(client, handles).filter { $0 == .success }.count == 2 && workers.allSatisfy { $0.deferredByLimit >= 1 }
        }
        #expect(workers.map(\.started) == [1, 1])
        #expect(try await states(client, handles).filter { $0 == .pending }.count == 2)
        await client.close()
        for worker in workers { try await worker.stop() }
    }

    @Test("Redis down: a limited task is deferred (fail closed), never run unlimited")
    func redisDownFailsClosed() async throws {
        let queue = TestEnvironment.uniqueQueue("limit-down")
        let task = "test.limited.\(UUID().uuidString)"
        var configuration = TestEnvironment.configuration(queue: queue)
        configuration.resultURL = "redis://127.0.0.1:1/0"
        configuration.connectTimeout = 1
        let limit = try RateLimit("1000/s", burst: 100)
        let worker = try await LimitedWorker(queue: queue, name: "a", configuration: configuration) {
            $0.register(task, defaults: TaskDefaults(rateLimit: limit)) { _ in .int(5) }
        }
        let client = try testClient(queue: queue)
        _ = try await client.send(taskNamed: task)
        try await eventually(timeout: hangGuard, "the task was deferred twice") { worker.deferredByLimit >= 2 }
        #expect(worker.started == 0)
        await client.close()
        try await worker.stop()
    }
}
