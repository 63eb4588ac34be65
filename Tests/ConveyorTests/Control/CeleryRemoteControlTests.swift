@testable import Conveyor
import Foundation
import Testing
import TestSupport

/// Python's `celery inspect` and `celery control` (Celery 5.7, unchanged) against a Swift worker.
@Suite("Celery remote control (pidbox) on a Swift worker")
struct CeleryRemoteControlTests {
    @Test("celery inspect ping, stats, active, registered and active_queues describe the Swift worker")
    func inspectDescribesWorker() async throws {
        try TestEnvironment.requirePython()
        let queue = TestEnvironment.uniqueQueue("pidbox-inspect")
        let node = "test@\(queue)"
        let tasks = GatedTasks()
        let worker = try await TestWorker(queue: queue, concurrency: 3) { tasks.register(&$0) }
        try await worker.waitForRemoteControl()
        let client = try testClient(queue: queue)
        let running = try await client.send(taskNamed: GatedTasks.name, args: [7], kwargs: ["label": "x"])
        try await eventually(timeout: hangGuard, "the gated task started") { tasks.startedCount == 1 }

        #expect(try await inspect("ping", node: node) == ["ok": "pong"])

        let stats = try #require(try await inspect("stats", node: node))
        #expect(stats["pid"] == .int(Int64(ProcessInfo.processInfo.processIdentifier)))
        #expect(stats["total"]?[GatedTasks.name] == 1)
        #expect(stats["pool"]?["max-concurrency"] == 3)
        #expect(stats["pool"]?["processes"] == [.int(Int64(ProcessInfo.processInfo.processIdentifier))])
        let endpoint = try #require(try TestEnvironment.configuration(queue: queue).brokerEndpoints().first)
        #expect(stats["broker"]?["hostname"] == .string(endpoint.host))
        #expect(stats["broker"]?["port"] == .int(Int64(endpoint.port)))
        #expect(stats["broker"]?["transport"] == "amqp")
        #expect(stats["prefetch_count"] == .int(Int64(worker.worker.options.effectivePrefetch)))
        #expect(stats["clock"]?.string.flatMap { Int($0) }.map { $0 > 0 } == true)
        #expect(stats["rusage"]?["utime"]?.double != nil)

        let active = try #require(try await inspect("active", node: node)?.array)
        #expect(active.count == 1)
        let info = try #require(active.first)
        #expect(info["id"] == .string(running.id))
        #expect(info["name"] == .string(GatedTasks.name))
        #expect(info["args"] == [7])
        #expect(info["kwargs"] == ["label": "x"])
        #expect(info["hostname"] == .string(node))
        #expect(info["worker_pid"] == .int(Int64(ProcessInfo.processInfo.processIdentifier)))
        #expect(info["time_start"]?.double != nil)
        #expect(info["delivery_info"]?["routing_key"] == .string(queue))

        let registered = try #require(try await inspect("registered", node: node)?.array?.compactMap(\.string))
        #expect(registered == worker.worker.registry.names)
        #expect(registered.contains(GatedTasks.name) && registered.contains("conveyor.add"))

        let queues = try #require(try await inspect("active_queues", node: node)?.array)
        #expect(queues.map { $0["name"] } == [.string(queue)])
        #expect(queues.first?["exchange"]?["type"] == "direct")
        #expect(queues.first?["routing_key"] == .string(queue))

        let found = try #require(try await inspect("query_task", [running.id], node: node))
        #expect(found[running.id]?[0] == "active")

        tasks.gate.release()
        #expect(try await running.get(timeout: hangGuard) == "opened")
        await client.close()
        try await worker.stop()
    }

    @Test("celery inspect ping answers while every slot runs a task that does not return")
    func pingAnswersUnderLoad() async throws {
        try TestEnvironment.requirePython()
        let queue = TestEnvironment.uniqueQueue("pidbox-busy")
        let node = "test@\(queue)"
        let tasks = GatedTasks()
        let worker = try await TestWorker(queue: queue, concurrency: 2, prefetch: 4) { tasks.register(&$0) }
        try await worker.waitForRemoteControl()
        let client = try testClient(queue: queue)
        var handles: [TaskHandle] = []
        for _ in 0..<4 { handles.append(try await client.send(taskNamed: GatedTasks.name)) }
        try await eventually(timeout: hangGuard, "every slot runs a gated task") { tasks.startedCount == 2 }

        // A worker whose remote control waited for a free slot would never answer. The timeout is
        // a hang guard (Celery stops at the named node's reply): with Celery's 1 s, a full suite
        // on two busy cores once missed it.
        for _ in 0..<3 {
            let (status, json) = try await celeryCLI(["inspect", "ping", "-d", node, "-t", "30", "--json"])
            #expect(status == 0)
            #expect(json?[node] == ["ok": "pong"])
        }
        // The two waiting for a slot are listed as reserved.
        try await eventually(timeout: hangGuard, "the other two prefetched") { worker.worker.consumer.waiting.count == 2 }
        let reserved = try #require(try await inspect("reserved", node: node)?.array)
        #expect(Set(reserved.compactMap { $0["id"]?.string }) == Set(handles.map(\.id)).subtracting(worker.worker.activeRuns.map(\.runnable.message.id)))
        #expect(reserved.allSatisfy { $0["time_start"] == .null && $0["worker_pid"] == .null })

        tasks.gate.release()
        for handle in handles { #expect(try await handle.get(timeout: hangGuard) == "opened") }
        await client.close()
        try await worker.stop()
    }

    @Test("celery control pool_grow, add_consumer and revoke take effect; shutdown stops the worker without a reply")
    func controlTakesEffect() async throws {
        try TestEnvironment.requirePython()
        let queue = TestEnvironment.uniqueQueue("pidbox-control")
        let extra = TestEnvironment.uniqueQueue("pidbox-added")
        let node = "test@\(queue)"
        // A task of this test's own: the fleet limit set below reaches no other test.
        let limited = "test.limited.\(queue)"
        let worker = try await TestWorker(queue: queue, concurrency: 2) { $0.register(limited) { _ in .null } }
        try await worker.waitForRemoteControl()
        let client = try testClient(queue: queue)

        #expect(try await control("pool_grow", ["3"], node: node) == ["ok": "pool will grow"])
        #expect(worker.worker.slots.capacity == 5)
        #expect(try await inspect("stats", node: node)?["pool"]?["max-concurrency"] == 5)
        #expect(try await control("pool_shrink", ["1"], node: node) == ["ok": "pool will shrink"])
        #expect(worker.worker.slots.capacity == 4)

        // Answered at once, consumed next, as Python's worker does.
        #expect(try await control("add_consumer", [extra], node: node) == ["ok": .string("add consumer \(extra)")])
        var queues: [JSON] = []
        try await eventually(timeout: hangGuard, "the added queue is consumed") {
            queues = try await inspect("active_queues", node: node)?.array ?? []
            return queues.count == 2
        }
        #expect(queues.map { $0["name"] } == [.string(queue), .string(extra)])
        let viaExtra = try await client.send(taskNamed: "conveyor.add", args: [2, 3], options: TaskOptions(queue: extra))
        #expect(try await viaExtra.get(timeout: hangGuard) == 5)

        // rate_limit sets the fleet's limit, as `conveyor limit set` does, and 0 lifts it.
        #expect(try await control("rate_limit", [limited, "5/m"], node: node) == ["ok": "new rate limit set successfully"])
        let limits = try await RateLimitSettings(client: client).list()
        #expect(limits.first { $0.task == limited }?.limit?.rate == "5/m")
        #expect(try await control("rate_limit", [limited, "0"], node: node) == ["ok": "rate limit disabled successfully"])
        #expect(try await RateLimitSettings(client: client).list().contains { $0.task == limited } == false)

        // Revoked before it is sent: the worker must not run it.
        let id = TaskID.make()
        #expect(try await control("revoke", [id], node: node) == ["ok": .string("tasks {'\(id)'} flagged as revoked")])
        #expect(try await inspect("revoked", node: node) == [.string(id)])
        let revoked = try await client.send(taskNamed: "conveyor.add", args: [1, 1], options: TaskOptions(taskId: id))
        try await eventually(timeout: hangGuard, "the revoked task was settled") { worker.worker.stats.snapshot.revoked == 1 }
        #expect(try await client.result(for: revoked.id).state == .revoked)
        #expect(worker.worker.stats.snapshot.succeeded == 1)

        #expect(try await control("cancel_consumer", [extra], node: node) == ["ok": .string("no longer consuming from \(extra)")])
        try await eventually(timeout: hangGuard, "the added queue is no longer consumed") {
            try await inspect("active_queues", node: node)?.array?.map { $0["name"] } == [.string(queue)]
        }

        // Python's worker exits without replying, so Celery reports that no node replied (69).
        let (status, json) = try await celeryCLI(["control", "shutdown", "-d", node, "-t", "1", "--json"])
        #expect(status == 69)
        #expect(json == nil)
        try await eventually(timeout: hangGuard, "the worker stopped consuming") { !worker.worker.isReady }
        try await worker.stop()
        await client.close()
    }

    @Test("an unknown command answers KeyError, and bad arguments are refused as Python refuses them")
    func errorsAsPython() async throws {
        try TestEnvironment.requirePython()
        let queue = TestEnvironment.uniqueQueue("pidbox-errors")
        let worker = try await TestWorker(queue: queue, concurrency: 1)
        try await worker.waitForRemoteControl()
        let node = "test@\(queue)"
        let directory = TestEnvironment.repoRoot.appendingPathComponent("Tests/InteropTests/python").path
        let output = try await PythonScript.run("control_errors.py", [node], environment: ["PYTHONPATH": directory], timeout: hangGuard)
        let line = try #require(output.split(separator: "\n").last { $0.hasPrefix("RESULT ") })
        let replies = try JSON.parse(String(line.dropFirst("RESULT ".count)))
        #expect(replies["no_such_command:{}"] == ["error": "KeyError('no_such_command')"])
        #expect(replies["add_consumer:{}"] == ["error": "TypeError(\"add_consumer() missing 1 required positional argument: 'queue'\")"])
        #expect(replies[#"rate_limit:{"task_name": "conveyor.add", "rate_limit": "ten"}"#]?["error"]?.string?
            .hasPrefix("Invalid rate limit string: ValueError(") == true)
        #expect(replies[#"rate_limit:{"task_name": "nope", "rate_limit": "1/s"}"#] == ["error": "unknown task"])
        #expect(replies[#"pool_grow:{"n": -2}"#]?["error"] != nil)
        #expect(replies[#"time_limit:{"task_name": "nope"}"#] == ["error": "unknown task"])
        #expect(worker.worker.slots.capacity == 1)
        try await worker.stop()
    }
}
