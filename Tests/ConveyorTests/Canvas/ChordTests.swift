import AMQP
@testable import Conveyor
import Foundation
import Logging
import Synchronization
import Testing
import TestSupport

/// Chords on Swift workers, counted in Redis as Celery 5.7 counts them: results in header
/// order, the body dispatched once however the header tasks finish or are redelivered, and a
/// failing header task failing the body with Celery's `ChordError`.
@Suite("Chords")
struct ChordTests {
    /// Counts the runs of a body task and keeps the argument each run got.
    final class BodyRuns: Sendable {
        let runs = Mutex<[JSON]>([])
        func register(_ registry: inout TaskRegistry) {
            registry.register("test.chord-body") { context in
                let value = context.args.first ?? .null
                self.runs.withLock { $0.append(value) }
                return value
            }
        }
    }

    @Test("a chord's body gets the header results in header order")
    func bodyGetsResultsInOrder() async throws {
        let queue = TestEnvironment.uniqueQueue("chord")
        let worker = try await TestWorker(queue: queue)
        let client = try testClient(queue: queue)
        let header = (0..<12).map { Signature(task: "conveyor.add", args: [.int(Int64($0)), 100]) }
        let body = try await client.chord(header: header, body: Signature(task: "conveyor.echo", args: ["tail"]))
        let value = try await body.get(timeout: hangGuard)
        #expect(value["args"] == [.array((0..<12).map { .int(Int64($0 + 100)) }), "tail"])
        await client.close()
        try await worker.stop()
    }

    @Test("header tasks finishing at once on two workers, some delivered twice, dispatch the body once with each part once")
    func countedOnceUnderConcurrencyAndRedelivery() async throws {
        let queue = TestEnvironment.uniqueQueue("chord-race")
        let runs = BodyRuns()
        let first = try await TestWorker(queue: queue, concurrency: 8, register: runs.register)
        let second = try await TestWorker(queue: queue, concurrency: 8, hostname: "second@\(queue)", register: runs.register)
        let client = try testClient(queue: queue)
        let chord = Signature.chord(header: (0..<40).map { Signature(task: "conveyor.add", args: [.int(Int64($0)), 1]) },
                                    body: Signature(task: "test.chord-body"))
        var plan = CanvasPlan()
        CanvasExpander(defaultQueue: queue, parent: nil).expand(chord, parentValue: nil, into: &plan)
        let groupId = try #require(plan.chordSizes.first?.groupId)
        try await client.results.setChordSize(groupId: groupId, size: 40)
        // Every fifth header message twice: a redelivery as a crashed worker's broker would make it.
        for (index, (message, queue)) in plan.messages.enumerated() {
            try await client.publish(message, queue: queue)
            if index % 5 == 0 { try await client.publish(message, queue: queue) }
        }
        let body = try await client.wait(for: try #require(chord.resultId), timeout: hangGuard)
        #expect(try body.get() == .array((0..<40).map { .int(Int64($0 + 1)) }))
        // Every delivery dealt with (40 header tasks, 8 copies, the body), the workers stopped
        // and the queue empty: a second dispatch of the body would have run or still be queued.
        let workers = [first.worker, second.worker]
        try await eventually(timeout: hangGuard, "all 49 deliveries settled") {
            workers.map { $0.stats.snapshot.succeeded + $0.stats.snapshot.duplicatesSkipped }.reduce(0, +) == 49
        }
        try await first.stop()
        try await second.stop()
        #expect(try await client.brokerConnection.inspect(queue: queue).messageCount == 0)
        #expect(runs.runs.withLock { $0.count } == 1)
        let claim = try await client.results.redis.send("GET", ChordKeys(groupId: groupId).claim)
        #expect(claim.string == "done")
        await client.close()
    }

    @Test("a header task whose SUCCESS was stored before its worker died is counted from the stored result on redelivery")
    func storedButUncountedPartIsCounted() async throws {
        let queue = TestEnvironment.uniqueQueue("chord-crash")
        let client = try testClient(queue: queue)
        let chord = Signature.chord(header: [Signature(task: "conveyor.add", args: [1, 2]), Signature(task: "conveyor.add", args: [3, 4])],
                                    body: Signature(task: "conveyor.echo"))
        var plan = CanvasPlan()
        CanvasExpander(defaultQueue: queue, parent: nil).expand(chord, parentValue: nil, into: &plan)
        let groupId = try #require(plan.chordSizes.first?.groupId)
        try await client.results.setChordSize(groupId: groupId, size: 2)
        // The first header task ran and stored 3, and its worker died before counting it.
        let crashed = plan.messages[0].message
        try await client.results.store(ResultMeta(taskId: crashed.id, status: .success, result: 3, dateDone: Date(), groupId: groupId))
        let worker = try await TestWorker(queue: queue)
        for (message, queue) in plan.messages { try await client.publish(message, queue: queue) }
        let body = try await client.wait(for: try #require(chord.resultId), timeout: hangGuard)
        #expect(try body.get()["args"] == [[3, 7]])
        await client.close()
        try await worker.stop()
    }

    @Test("a worker that died holding the body's dispatch claim is replaced: the redelivered header task takes the expired claim and publishes")
    func deadClaimerReplaced() async throws {
        let queue = TestEnvironment.uniqueQueue("chord-claim")
        let client = try testClient(queue: queue)
        let chord = Signature.chord(header: [Signature(task: "conveyor.add", args: [1, 2]), Signature(task: "conveyor.add", args: [3, 4])],
                                    body: Signature(task: "conveyor.echo"))
        var plan = CanvasPlan()
        CanvasExpander(defaultQueue: queue, parent: nil).expand(chord, parentValue: nil, into: &plan)
        let groupId = try #require(plan.chordSizes.first?.groupId)
        try await client.results.setChordSize(groupId: groupId, size: 2)
        // Both parts stored and counted; the worker that counted the last one claimed the
        // dispatch and died before publishing the body (its claim expires at once here).
        for (index, (message, _)) in plan.messages.enumerated() {
            let value: JSON = index == 0 ? 3 : 7
            try await client.results.store(ResultMeta(taskId: message.id, status: .success, result: value, dateDone: Date(), groupId: groupId))
            _ = try await client.results.returnChordPart(groupId: groupId, groupIndex: index,
                                                         part: ChordPart(taskId: message.id, state: .success, result: value), token: "dead")
        }
        _ = try await client.results.redis.send("SET", ChordKeys(groupId: groupId).claim, "dead", "EX", 1)
        // The dead worker's header message comes back redelivered.
        let last = plan.messages[1].message
        try await client.publish(last, queue: queue)
        var logger = Logger(label: "test.raw")
        logger.logLevel = .critical
        let raw = try AMQPConnection(configuration: .init(endpoints: try AMQPEndpoint.list(TestEnvironment.brokerURL), name: "test-raw"),
                                     logger: logger)
        let taken = Mutex(false)
        try await raw.consume(queue: queue) { delivery in
            raw.reject(delivery, requeue: true)
            taken.withLock { $0 = true }
        }
        try await eventually(timeout: hangGuard, "the header message taken and requeued") { taken.withLock { $0 } }
        await raw.close()
        let worker = try await TestWorker(queue: queue)
        let body = try await client.wait(for: try #require(chord.resultId), timeout: hangGuard)
        #expect(try body.get()["args"] == [[3, 7]])
        await client.close()
        try await worker.stop()
    }

    @Test("a failing header task fails the body with ChordError and runs the body's errbacks with its id")
    func failingHeaderFailsBody() async throws {
        let queue = TestEnvironment.uniqueQueue("chord-fail")
        let worker = try await TestWorker(queue: queue)
        let client = try testClient(queue: queue)
        let errback = Signature(task: "conveyor.echo").frozen()
        var body = Signature(task: "conveyor.echo")
        body.setOption("link_error", [.object(errback.json)])
        let failing = Signature(task: "conveyor.fail", args: ["boom"]).frozen()
        let handle = try await client.chord(header: [Signature(task: "conveyor.add", args: [1, 1]), failing], body: body)
        let result = try await handle.wait(timeout: hangGuard)
        #expect(result.state == .failure)
        #expect(result.exception == ExceptionInfo(type: "ChordError", module: "celery.exceptions",
                                                  message: "Dependency \(failing.taskId ?? "") raised RuntimeError('boom')"))
        let errbackValue = try await client.wait(for: try #require(errback.taskId), timeout: hangGuard).get()
        #expect(errbackValue["args"] == [.string(handle.id)])
        await client.close()
        try await worker.stop()
    }

    @Test("a group followed by a task in a chain is upgraded to a chord, and a chord in a chain passes its body's result on")
    func nestedCanvases() async throws {
        let queue = TestEnvironment.uniqueQueue("chord-nested")
        let worker = try await TestWorker(queue: queue)
        let client = try testClient(queue: queue)
        // 1 + 1 → group(+10, +20) → echo([12, 22]) → echo's value is the last step's first argument.
        let handle = try await client.chain([
            Signature(task: "conveyor.add", args: [1, 1]),
            .group([Signature(task: "conveyor.add", args: [10]), Signature(task: "conveyor.add", args: [20])]),
            Signature(task: "conveyor.echo"),
            Signature(task: "conveyor.echo", args: ["after"]),
        ])
        let value = try await handle.get(timeout: hangGuard)
        #expect(value["args"] == [["args": [[12, 22]], "kwargs": [:]], "after"])
        // A chain in a chord's header takes part through its last step: (1 + 1) + 10, 5 + 5.
        let chainInHeader = try await client.chord(header: [.chain([Signature(task: "conveyor.add", args: [1, 1]),
                                                                    Signature(task: "conveyor.add", args: [10])]),
                                                             Signature(task: "conveyor.add", args: [5, 5])],
                                                    body: Signature(task: "conveyor.echo"))
        #expect(try await chainInHeader.get(timeout: hangGuard)["args"] == [[12, 10]])
        await client.close()
        try await worker.stop()
    }
}
