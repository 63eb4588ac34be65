import AMQP
import Conveyor
import Foundation
import Synchronization
import Testing
import TestSupport

/// A typed task for the tests: arguments travel as kwargs, output is a Codable struct.
struct Multiply: TaskDefinition {
    struct Arguments: Codable, Sendable {
        var x: Int
        var y: Int
        var note: String?
    }
    struct Output: Codable, Sendable, Equatable {
        var product: Int
        var note: String?
    }
    static let name = "test.multiply"
}

/// Counts executions per task id across the in-process worker's tasks.
final class ExecutionCounter: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    func hit(_ id: String) { counts.withLock { $0[id, default: 0] += 1 } }
    func count(_ id: String) -> Int { counts.withLock { $0[id] ?? 0 } }
}

@Suite("Enqueue → worker → result, on real RabbitMQ and Redis")
struct EnqueueToResultTests {
    @Test("an untyped task sent by name returns its result")
    func untypedTask() async throws {
        let queue = TestEnvironment.uniqueQueue("untyped")
        let worker = try await TestWorker(queue: queue)
        let client = try testClient(queue: queue)
        let sum = try await client.send(taskNamed: "conveyor.add", args: [2, 40]).get(timeout: hangGuard)
        #expect(sum == 42)
        let echoed = try await client.send(taskNamed: "conveyor.echo", args: ["é", 1.5, nil, ["a": [1, 2]]], kwargs: ["k": true])
            .get(timeout: hangGuard)
        #expect(echoed == ["args": ["é", 1.5, nil, ["a": [1, 2]]], "kwargs": ["k": true]])
        await client.close()
        try await worker.stop()
    }

    @Test("call sends and waits in one go, and reports a publish failure instead of waiting")
    func callSendsAndWaits() async throws {
        let queue = TestEnvironment.uniqueQueue("call")
        let worker = try await TestWorker(queue: queue)
        let client = try testClient(queue: queue, createMissingQueues: false)
        for i in 0..<20 {
            let result = try await client.call(taskNamed: "conveyor.add", args: [.int(Int64(i)), 1], timeout: hangGuard)
            #expect(try result.get() == .int(Int64(i) + 1))
        }
        let missing = TestEnvironment.uniqueQueue("call-missing")
        let error = await #expect(throws: ConveyorError.self) {
            _ = try await client.call(taskNamed: "conveyor.add", args: [1, 1], options: TaskOptions(queue: missing), timeout: 60)
        }
        #expect(error?.code == .unroutable)
        await client.close()
        try await worker.stop()
    }

    @Test("a typed task decodes its arguments from kwargs and its output from the result")
    func typedTask() async throws {
        let queue = TestEnvironment.uniqueQueue("typed")
        let worker = try await TestWorker(queue: queue) { registry in
            registry.register(Multiply.self) { arguments, _ in
                Multiply.Output(product: arguments.x * arguments.y, note: arguments.note.map { $0.uppercased() })
            }
        }
        let client = try testClient(queue: queue)
        let handle = try await client.enqueue(Multiply.self, .init(x: 6, y: 7, note: "ok"))
        #expect(try await handle.value(timeout: hangGuard) == Multiply.Output(product: 42, note: "OK"))
        await client.close()
        try await worker.stop()
    }

    @Test("hundreds of concurrent tasks all complete with their own results")
    func concurrentTasks() async throws {
        let queue = TestEnvironment.uniqueQueue("concurrent")
        let worker = try await TestWorker(queue: queue, concurrency: 16)
        let client = try testClient(queue: queue)
        // A batch of 400 and 100 individual sends racing each other.
        let batch = (0..<400).map { ConveyorClient.Request(name: "conveyor.add", args: [.int(Int64($0)), 1000]) }
        async let batched = client.send(batch: batch)
        let singles = try await withThrowingTaskGroup(of: (Int, TaskHandle).self) { group in
            for i in 0..<100 { group.addTask { (i, try await client.send(taskNamed: "conveyor.add", args: [.int(Int64(i)), -1])) } }
            return try await group.reduce(into: [(Int, TaskHandle)]()) { $0.append($1) }
        }
        let sent = await batched
        #expect(sent.count == 400)
        for (i, outcome) in sent.enumerated() {
            let handle = try outcome.get()
            #expect(try await handle.get(timeout: 60) == .int(Int64(i) + 1000))
        }
        for (i, handle) in singles {
            #expect(try await handle.get(timeout: 60) == .int(Int64(i) - 1))
        }
        await client.close()
        try await worker.stop()
    }

    @Test("a failing task stores FAILURE and get() throws with the task's message")
    func failingTask() async throws {
        let queue = TestEnvironment.uniqueQueue("failing")
        let worker = try await TestWorker(queue: queue)
        let client = try testClient(queue: queue)
        let result = try await client.send(taskNamed: "conveyor.fail", args: ["disk on fire"]).wait(timeout: hangGuard)
        #expect(result.state == .failure)
        #expect(result.exception?.type == "RuntimeError")
        #expect(result.exception?.module == "builtins")
        #expect(result.traceback?.contains("disk on fire") == true)
        let error = #expect(throws: ConveyorError.self) { try result.get() }
        #expect(error?.code == .taskFailed)
        #expect(error?.message.contains("disk on fire") == true)
        await client.close()
        try await worker.stop()
    }

    @Test("publishing to a queue that does not exist fails with a clear unroutable error")
    func missingQueue() async throws {
        try TestEnvironment.requireServices()
        let queue = TestEnvironment.uniqueQueue("missing")
        let client = try testClient(queue: queue, createMissingQueues: false)
        let error = await #expect(throws: ConveyorError.self) {
            _ = try await client.send(taskNamed: "conveyor.add", args: [1, 2])
        }
        #expect(error?.code == .unroutable)
        #expect(error?.message.contains(queue) == true)
        #expect(error?.message.contains("does not exist") == true)
        await client.close()
    }

    @Test("a task whose expires header has passed is stored as REVOKED and not run")
    func expiredTask() async throws {
        let queue = TestEnvironment.uniqueQueue("expired")
        let counter = ExecutionCounter()
        let worker = try await TestWorker(queue: queue) { registry in
            registry.register("test.count") { context in
                counter.hit(context.id)
                return .null
            }
        }
        let client = try testClient(queue: queue)
        // As a message that waited in a queue past its expiry arrives (no AMQP TTL to drop it first).
        var message = TaskMessage(task: "test.count")
        message.expires = Date().addingTimeInterval(-5)
        try await client.publish(message, queue: queue)
        let result = try await client.wait(for: message.id, timeout: hangGuard)
        #expect(result.state == .revoked)
        #expect(result.exception?.type == "TaskRevokedError")
        #expect(counter.count(message.id) == 0)

        // With expiresIn the broker also drops it by per-message TTL when nobody takes it in time.
        try await worker.stop()
        let late = try await client.send(taskNamed: "test.count", options: TaskOptions(expiresIn: 0.2))
        try await eventually(timeout: hangGuard, "broker dropped the expired message") {
            try await client.brokerConnection.inspect(queue: queue).messageCount == 0
        }
        #expect(try await client.result(for: late.id).state == .pending)
        #expect(counter.count(late.id) == 0)
        await client.close()
    }

    @Test("a countdown goes through the broker's delay cascade and runs no sooner")
    func countdown() async throws {
        let queue = TestEnvironment.uniqueQueue("countdown")
        let worker = try await TestWorker(queue: queue)
        let client = try testClient(queue: queue)
        let sent = Date()
        let handle = try await client.send(taskNamed: "conveyor.add", args: [1, 1], options: TaskOptions(countdown: 2))
        let result = try await handle.wait(timeout: hangGuard)
        #expect(result.state == .success)
        let elapsed = (result.dateDone ?? Date()).timeIntervalSince(sent)
        #expect(elapsed >= 1.9, "ran after \(elapsed) s")
        await client.close()
        try await worker.stop()
    }

    @Test("a task already stored as SUCCESS is not run again when its message comes back")
    func dedupeGuard() async throws {
        let queue = TestEnvironment.uniqueQueue("dedupe")
        let counter = ExecutionCounter()
        let worker = try await TestWorker(queue: queue) { registry in
            registry.register("test.count") { context in
                counter.hit(context.id)
                return .int(Int64(counter.count(context.id)))
            }
        }
        let client = try testClient(queue: queue)
        let id = UUID().uuidString.lowercased()
        let first = try await client.send(taskNamed: "test.count", options: TaskOptions(taskId: id)).get(timeout: hangGuard)
        #expect(first == 1)
        // The same task id again, as a redelivery or a duplicate publish would bring it.
        _ = try await client.send(taskNamed: "test.count", options: TaskOptions(taskId: id))
        let marker = try await client.send(taskNamed: "conveyor.add", args: [0, 0]).get(timeout: hangGuard)
        #expect(marker == 0)
        try await eventually(timeout: hangGuard, "duplicate settled") { try await client.result(for: id).value == 1 }
        #expect(counter.count(id) == 1)
        await client.close()
        try await worker.stop()
    }

    @Test("link callbacks run with the parent's result, and errbacks with the parent's id")
    func links() async throws {
        let queue = TestEnvironment.uniqueQueue("links")
        let worker = try await TestWorker(queue: queue)
        let client = try testClient(queue: queue)
        let callbackId = UUID().uuidString.lowercased()
        let callback = Signature(task: "conveyor.add", args: [10], options: ["task_id": .string(callbackId), "queue": .string(queue)])
        _ = try await client.send(taskNamed: "conveyor.add", args: [1, 2], options: TaskOptions(link: [callback]))
        #expect(try await client.wait(for: callbackId, timeout: hangGuard).get() == 13)

        let errbackId = UUID().uuidString.lowercased()
        let errback = Signature(task: "conveyor.echo", options: ["task_id": .string(errbackId), "queue": .string(queue)])
        let failed = try await client.send(taskNamed: "conveyor.fail", args: ["nope"], options: TaskOptions(linkError: [errback]))
        let echoed = try await client.wait(for: errbackId, timeout: hangGuard).get()
        #expect(echoed["args"] == [.string(failed.id)])
        await client.close()
        try await worker.stop()
    }

    @Test("a link that can never be published fails its task once (as Celery does) instead of running it again and again")
    func unpublishableLink() async throws {
        let queue = TestEnvironment.uniqueQueue("bad-link")
        let runs = Mutex(0)
        let worker = try await TestWorker(queue: queue) { registry in
            registry.register("test.counted") { _ in
                runs.withLock { $0 += 1 }
                return .int(1)
            }
        }
        let client = try testClient(queue: queue)
        // The follower's task name alone is larger than any AMQP frame's header room.
        let impossible = Signature(task: String(repeating: "x", count: 200_000), options: ["queue": .string(queue)])
        let result = try await client.send(taskNamed: "test.counted", options: TaskOptions(link: [impossible])).wait(timeout: 60)
        #expect(result.state == .failure)
        #expect(result.exception?.message.contains("one frame holds") == true, "\(result.exception?.message.prefix(300) ?? "")")
        #expect(runs.withLock { $0 } == 1)
        // The worker goes on: nothing was stuck behind it.
        #expect(try await client.send(taskNamed: "conveyor.add", args: [2, 2]).get(timeout: 60) == 4)
        #expect(runs.withLock { $0 } == 1)
        await client.close()
        try await worker.stop()
    }

    @Test("a chain embedded in the body runs step by step, each getting the previous result")
    func chain() async throws {
        let queue = TestEnvironment.uniqueQueue("chain")
        let worker = try await TestWorker(queue: queue)
        let client = try testClient(queue: queue)
        let lastId = UUID().uuidString.lowercased()
        // Celery puts the remaining steps reversed in embed.chain: add(2,2) | add(4) | add(8).
        var message = TaskMessage(task: "conveyor.add", args: [2, 2])
        message.chain = [
            Signature(task: "conveyor.add", args: [8], options: ["task_id": .string(lastId)]),
            Signature(task: "conveyor.add", args: [4]),
        ]
        try await client.publish(message, queue: queue)
        #expect(try await client.wait(for: lastId, timeout: hangGuard).get() == 16)
        await client.close()
        try await worker.stop()
    }

    @Test("the soft time limit cancels a cooperative task; the hard limit stops waiting for one that ignores it")
    func timeLimits() async throws {
        let queue = TestEnvironment.uniqueQueue("limits")
        let worker = try await TestWorker(queue: queue) { registry in
            registry.register("test.stubborn") { _ in
                // Ignores cancellation for a while, as blocking code would (briefly: it holds one of
                // the few cooperative threads).
                let until = Date().addingTimeInterval(1.5)
                while Date() < until { usleep(10_000) }
                return "finished late"
            }
        }
        let client = try testClient(queue: queue)
        let soft = try await client.send(taskNamed: "conveyor.sleep", args: [10], options: TaskOptions(softTimeLimit: 0.5)).wait(timeout: hangGuard)
        #expect(soft.state == .failure)
        #expect(soft.exception?.type == "SoftTimeLimitExceeded")
        let hard = try await client.send(taskNamed: "test.stubborn", options: TaskOptions(timeLimit: 0.5)).wait(timeout: hangGuard)
        #expect(hard.state == .failure)
        #expect(hard.exception?.type == "TimeLimitExceeded")
        // The slot was freed: other work still flows while the stubborn body winds down.
        #expect(try await client.send(taskNamed: "conveyor.add", args: [1, 1]).get(timeout: hangGuard) == 2)
        await client.close()
        try await worker.stop()
    }
}
