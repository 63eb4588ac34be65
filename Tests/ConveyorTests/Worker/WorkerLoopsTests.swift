import AMQP
@testable import Conveyor
import Foundation
import Testing
import TestSupport

/// A worker with several loops (`WorkerOptions.loops`): each loop consumes with its own
/// connection and its share of the prefetch, and settles what it delivered on that connection.
@Suite("Worker loops")
struct WorkerLoopsTests {
    @Test("the prefetch is split between loops, the remainder to the first, at least one each")
    func prefetchSplit() {
        #expect((0..<3).map { WorkerLane.prefetch(64, lane: $0, of: 3) } == [22, 21, 21])
        #expect((0..<2).map { WorkerLane.prefetch(2, lane: $0, of: 2) } == [1, 1])
        #expect((0..<4).map { WorkerLane.prefetch(65_535, lane: $0, of: 4) }.reduce(0) { $0 + Int($1) } == 65_535)
        #expect(WorkerLane.prefetch(1, lane: 0, of: 1) == 1)
    }

    @Test("loops outside 1...64, or more loops than messages of prefetch, are refused")
    func loopsValidated() throws {
        var options = WorkerOptions(concurrency: 4, prefetch: 2)
        for loops in [0, -1, 65, 3] {
            options.loops = loops
            #expect(throws: ConveyorError.self, "loops \(loops)") { try options.validate() }
        }
        options.loops = 2
        try options.validate()
    }

    @Test("with three loops every task runs once, every loop takes a share, and nothing is left unacknowledged")
    func threeLoopsRunEveryTaskOnce() async throws {
        let queue = TestEnvironment.uniqueQueue("loops")
        let runs = ExecutionCounter()
        let worker = try await TestWorker(queue: queue, concurrency: 8, prefetch: 12, loops: 3) { registry in
            registry.register("test.counted") { context in
                runs.hit(context.id)
                return .int(try context.argument(0, "n", as: Int64.self) * 2)
            }
        }
        let lanes = worker.worker.lanes
        #expect(lanes.count == 3)
        #expect(lanes.map(\.prefetch) == [4, 4, 4])
        let client = try testClient(queue: queue)
        #expect(try await client.brokerConnection.inspect(queue: queue).consumerCount == 3)
        let count = 600
        let sent = await client.send(batch: (0..<count).map { ConveyorClient.Request(name: "test.counted", args: [.int(Int64($0))]) })
        var handles: [TaskHandle] = []
        for outcome in sent { handles.append(try outcome.get()) }
        for (n, handle) in handles.enumerated() {
            #expect(try await handle.get(timeout: hangGuard) == .int(Int64(n) * 2))
        }
        for handle in handles { #expect(runs.count(handle.id) == 1, "runs of \(handle.id)") }
        // Every loop received some; none received one twice (a delivery acknowledged on the
        // wrong connection would close a channel or leave its message unacknowledged, and the
        // broker would deliver it again).
        let received = lanes.map(\.inbox.received)
        #expect(received.allSatisfy { $0 > 0 }, "received per loop: \(received)")
        #expect(received.reduce(0, +) == count, "received per loop: \(received)")
        try await worker.stop()
        #expect(try await client.brokerConnection.inspect(queue: queue).messageCount == 0)
        let stats = worker.worker.stats.snapshot
        #expect(stats.succeeded == count)
        #expect(stats.requeued == 0)
        await client.close()
    }

    @Test("a warm shutdown with two loops lets the running tasks finish and gives back what each loop held")
    func warmShutdownGivesBackEveryLoopsMessages() async throws {
        let queue = TestEnvironment.uniqueQueue("loops-warm")
        let gated = GatedTasks()
        let logs = LogRecorder()
        let worker = try await TestWorker(queue: queue, concurrency: 2, prefetch: 4, gracePeriod: hangGuard, loops: 2,
                                          logs: logs) { registry in
            gated.register(&registry)
        }
        let client = try testClient(queue: queue)
        var handles: [TaskHandle] = []
        for _ in 0..<8 { handles.append(try await client.send(taskNamed: GatedTasks.name)) }
        let lanes = worker.worker.lanes
        // Both slots busy, and each loop's consumer holding its share of the prefetch (2 each).
        try await eventually(timeout: hangGuard, "two running and four received") {
            gated.startedCount == 2 && lanes.map(\.inbox.received) == [2, 2]
        }
        #expect(worker.worker.consumer.waiting.count == 2)
        worker.worker.shutdown(.warm)
        // Once both loops' consumers are cancelled, the broker sends this worker nothing more:
        // then the running tasks may finish (their acks would otherwise free credit for more).
        try await eventually(timeout: hangGuard, "both loops' consumers cancelled") {
            try await client.brokerConnection.inspect(queue: queue).consumerCount == 0
        }
        gated.gate.release()
        try await worker.stop()
        #expect(gated.startedCount == 2)
        let stats = worker.worker.stats.snapshot
        #expect(stats.succeeded == 2)
        // The two waiting for a slot, put back once, after the cancel: the broker did not
        // deliver them here again.
        let notes = logs.all.filter { $0.level >= .info && !$0.message.hasPrefix("task ") }.map { "\($0.message) \($0.metadata)" }
        #expect(stats.requeued == 2, "the worker's log: \(notes)")
        #expect(logs.count("warm shutdown: requeued deliveries waiting for a slot", where: "count", is: "2") == 1)
        // The two that ran are acknowledged; the other six wait in the queue.
        #expect(try await client.brokerConnection.inspect(queue: queue).messageCount == 6)
        await client.close()
    }
}
