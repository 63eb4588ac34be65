import Conveyor
import Foundation
import Synchronization
import Testing
import TestSupport

/// A task that goes through the delay cascade more than once. RabbitMQ silently drops a
/// message dead-lettered into a queue its `x-death` history names (cycle detection): a copy
/// that kept the history of its first trip vanished on a second one through the same levels
/// (2.5 s: levels 1 then 0; the second time level 0 is in the history). Seen as rate-limited
/// tasks that never came back. (Under a second a copy does not go through the cascade at all.)
@Suite("Delay cascade: a task may go through it again and again")
struct CascadeRoundTripTests {
    @Test("deferred twice by 2.5 s (levels 1 and 0 both times): the task still runs to the end")
    func deferredTwice() async throws {
        let queue = TestEnvironment.uniqueQueue("cascade-defer")
        let runs = Mutex(0)
        let worker = try await TestWorker(queue: queue) { registry in
            registry.register("test.cascade-defer") { context in
                let run = runs.withLock { runs -> Int in
                    runs += 1
                    return runs
                }
                if run == 1 { throw context.deferral(after: 2.5, reason: "first") }
                if run == 2 { throw context.deferral(after: 2.5, reason: "second") }
                return .int(Int64(run))
            }
        }
        let client = try testClient(queue: queue)
        #expect(try await client.send(taskNamed: "test.cascade-defer").get(timeout: hangGuard) == 3)
        await client.close()
        try await worker.stop()
    }

    @Test("retried twice after 2.5 s: the third run's result arrives")
    func retriedTwice() async throws {
        let queue = TestEnvironment.uniqueQueue("cascade-retry")
        let worker = try await TestWorker(queue: queue) { registry in
            registry.register("test.cascade-retry") { context in
                switch context.retries {
                case 0: throw context.retry(after: 2.5, because: TaskFailure("first"))
                case 1: throw context.retry(after: 2.5, because: TaskFailure("second"))
                default: return .int(Int64(context.retries))
                }
            }
        }
        let client = try testClient(queue: queue)
        #expect(try await client.send(taskNamed: "test.cascade-retry").get(timeout: hangGuard) == 2)
        await client.close()
        try await worker.stop()
    }

    /// A message that arrives with a future ETA (an older Celery client's, or one that came out of
    /// the cascade early) and a dead-letter history naming the cascade's levels, as RabbitMQ
    /// writes it: the worker moves it into the cascade, and a copy that kept that history would be
    /// dropped at level 0 as a dead-letter cycle.
    @Test("a delivery with a future ETA and an x-death history naming the cascade is delayed without it and runs")
    func delayedWithDeathHistory() async throws {
        let queue = TestEnvironment.uniqueQueue("cascade-xdeath")
        let worker = try await TestWorker(queue: queue)
        let client = try testClient(queue: queue)
        let raw = try RawBroker()
        let id = TaskID.make()
        var headers = celeryHeaders(task: "conveyor.add", id: id)
        headers["eta"] = .string(ISO8601.format(Date().addingTimeInterval(2.5)))
        let now = Date()
        headers["x-death"] = .array([1, 0].map { level in
            .table([
                "count": .int64(1), "reason": .string("expired"), "queue": .string(DelayedDelivery.levelName(level)),
                "time": .timestamp(UInt64(now.timeIntervalSince1970)), "exchange": .string(DelayedDelivery.levelName(level)),
                "routing-keys": .array([.string(DelayedDelivery.routingKey(delay: 3, queue: queue))]),
            ])
        })
        headers["x-first-death-queue"] = .string(DelayedDelivery.levelName(1))
        headers["x-first-death-reason"] = .string("expired")
        headers["x-first-death-exchange"] = .string(DelayedDelivery.levelName(1))
        try await raw.publish(queue: queue, headers: headers, body: Array(#"[[2, 3], {}, {}]"#.utf8))
        let result = try await client.wait(for: id, timeout: hangGuard)
        #expect(result.state == .success)
        #expect(result.value == 5)
        await raw.connection.close()
        await client.close()
        try await worker.stop()
    }
}
