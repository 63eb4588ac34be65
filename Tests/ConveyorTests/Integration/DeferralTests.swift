import Conveyor
import Foundation
import Synchronization
import Testing
import TestSupport

@Suite("Deferred runs: run again later without counting a retry")
struct DeferralTests {
    /// The long deferral's copy waits in the delay cascade for an hour (it expires there with the
    /// test's queue gone), so PENDING is checked while nothing can have run it again.
    @Test("a deferred run leaves the task PENDING, stores no RETRY and is counted by reason in the heartbeat")
    func deferredIsPending() async throws {
        let queue = TestEnvironment.uniqueQueue("defer-pending")
        let logs = LogRecorder()
        let worker = try await TestWorker(queue: queue, heartbeatInterval: 1, logs: logs) { registry in
            registry.register("test.defer-long") { context in
                throw context.deferral(after: 3600, reason: "test-wait")
            }
        }
        let client = try testClient(queue: queue)
        let handle = try await client.send(taskNamed: "test.defer-long")
        try await eventually(timeout: hangGuard, "the run deferred") { logs.count("task deferred", where: "id", is: handle.id) == 1 }
        #expect(try await client.result(for: handle.id).state == .pending)
        #expect(logs.count("task retry") == 0)
        let hostname = worker.worker.options.hostname
        try await eventually(timeout: hangGuard, "the heartbeat counts the deferral") {
            try await Fleet(client: client).workers().first { $0.hostname == hostname }?.deferred["test-wait"] == 1
        }
        await client.close()
        try await worker.stop()
    }

    @Test("a deferred task runs again with its retries unchanged and ends as its copy's run ends")
    func deferredRunsAgain() async throws {
        let queue = TestEnvironment.uniqueQueue("defer-again")
        let logs = LogRecorder()
        let runs = Mutex(0)
        let worker = try await TestWorker(queue: queue, logs: logs) { registry in
            registry.register("test.defer-once", defaults: TaskDefaults(retry: .fixed(maxRetries: 0, delay: 0))) { context in
                let run = runs.withLock { runs -> Int in
                    runs += 1
                    return runs
                }
                if run < 3 { throw context.deferral(after: 0, reason: "busy") }
                return .int(Int64(context.retries))
            }
        }
        let client = try testClient(queue: queue)
        // Deferred twice, though its policy allows no retry at all.
        #expect(try await client.send(taskNamed: "test.defer-once").get(timeout: hangGuard) == 0)
        #expect(runs.withLock { $0 } == 3)
        // The worker logs a deferral after its copy is published, so the copy's run can end first.
        try await eventually(timeout: hangGuard, "the second deferral logged") { logs.count("task deferred", where: "reason", is: "busy") >= 2 }
        #expect(logs.count("task deferred", where: "reason", is: "busy") == 2)
        #expect(logs.count("task retry") == 0)
        await client.close()
        try await worker.stop()
    }

    @Test("a deferral by NaN, infinity or beyond the delay cascade stores FAILURE naming it")
    func unusableDelay() async throws {
        let queue = TestEnvironment.uniqueQueue("defer-bad")
        let worker = try await TestWorker(queue: queue) { registry in
            registry.register("test.defer-by") { context in
                throw context.deferral(after: Double(try context.argument(0, as: String.self)) ?? 0, reason: "bad")
            }
        }
        let client = try testClient(queue: queue)
        for delay in ["nan", "inf", "\(DelayedDelivery.maxDelay + 1)"] {
            let result = try await client.send(taskNamed: "test.defer-by", args: [.string(delay)]).wait(timeout: hangGuard)
            #expect(result.state == .failure)
            #expect(result.exception?.message.contains("deferral(after:)") == true)
        }
        await client.close()
        try await worker.stop()
    }
}
