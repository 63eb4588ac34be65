import Conveyor
import Foundation
import IOSupport

/// Section 1: publishing N tasks with publisher confirms, Conveyor vs Python Celery vs rabbitmq-c.
struct PublishSection {
    let bench: BenchContext

    /// How many tasks call `send` at once in the single-API row.
    static let senders = 64
    static let ceilingWindow = 1_000

    static func plan(_ sizes: BenchSizes) -> [Row] {
        let ceiling = "publish.ceiling"
        return [
            Row(key: "publish.conveyor.send", section: "publish", label: "Conveyor send(), \(senders) concurrent tasks",
                unit: .tasksPerSecond, count: sizes.publishCount, celery: "publish.celery", ceiling: ceiling,
                note: "each send awaits its own confirm"),
            Row(key: "publish.conveyor.batch", section: "publish", label: "Conveyor send(batch:), \(Table.grouped(sizes.batchSize)) per call",
                unit: .tasksPerSecond, count: sizes.publishCount, celery: "publish.celery", ceiling: ceiling),
            Row(key: "publish.celery", section: "publish", label: "Celery 5.7 send_task loop (default: no confirms)",
                unit: .tasksPerSecond, count: sizes.celeryPublishCount, ceiling: ceiling,
                note: "Celery's default confirm_publish=False"),
            Row(key: "publish.celery.confirm", section: "publish", label: "Celery 5.7 send_task loop, confirm_publish=True",
                unit: .tasksPerSecond, count: sizes.celeryPublishCount, celery: "publish.celery", ceiling: ceiling),
            Row(key: ceiling, section: "publish", label: "rabbitmq-c, sliding window of \(Table.grouped(ceilingWindow)) confirms",
                unit: .tasksPerSecond, count: sizes.publishCount, note: "ceiling; persistent, mandatory, same message"),
        ]
    }

    func run() async {
        let sizes = bench.sizes
        for repetition in 1...sizes.repetitions {
            await bench.measure("publish.conveyor.send") {
                try await bench.withQueue("publish") { queue in
                    try await bench.publishWithSend(queue: queue, count: sizes.publishCount, senders: Self.senders)
                }
            }
            await bench.measure("publish.conveyor.batch") {
                try await bench.withQueue("publish") { queue in
                    try await bench.publishWithBatch(queue: queue, count: sizes.publishCount, batchSize: sizes.batchSize)
                }
            }
            await bench.measure("publish.ceiling") {
                try await bench.withQueue("publish") { queue in
                    try await bench.publishCeiling(queue: queue, count: sizes.publishCount, label: "publish-ceiling-\(repetition)")
                }
            }
            for confirm in [false, true] {
                await bench.measure(confirm ? "publish.celery.confirm" : "publish.celery") {
                    try await bench.withQueue("publish") { queue in
                        let label = "publish-celery\(confirm ? "-confirm" : "")-\(repetition)"
                        let run = try await bench.runCeleryClient("publish", queue: queue, count: sizes.celeryPublishCount, warmup: 10,
                                                                  confirm: confirm, label: label, as: TimedRun.self)
                        try await bench.expectDepth(queue, run.count + 10)
                        return run.rate
                    }
                }
            }
        }
    }
}

extension BenchContext {
    /// `send` from `senders` concurrent tasks, each awaiting its own confirm.
    /// - Returns: tasks per second.
    func publishWithSend(queue: String, count: Int, senders: Int, payload: Int? = nil) async throws -> Double {
        _ = try await client.send(taskNamed: "conveyor.add", args: [0, 0], options: TaskOptions(queue: queue))  // warm-up
        let started = monotonicSeconds()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for sender in 0..<senders {
                group.addTask {
                    for index in stride(from: sender, to: count, by: senders) {
                        let request = BenchTask.request(index, payload: payload, queue: queue)
                        _ = try await self.client.send(taskNamed: request.name, args: request.args, options: request.options)
                    }
                }
            }
            try await group.waitForAll()
        }
        let seconds = monotonicSeconds() - started
        try await expectDepth(queue, count + 1)
        return Double(count) / seconds
    }

    /// `send(batch:)` in calls of `batchSize`, one after another.
    /// - Returns: tasks per second.
    func publishWithBatch(queue: String, count: Int, batchSize: Int, payload: Int? = nil) async throws -> Double {
        _ = try await client.send(taskNamed: "conveyor.add", args: [0, 0], options: TaskOptions(queue: queue))  // warm-up
        let batches = stride(from: 0, to: count, by: batchSize).map { start in
            (start..<min(start + batchSize, count)).map { BenchTask.request($0, payload: payload, queue: queue) }
        }
        let started = monotonicSeconds()
        for batch in batches {
            for outcome in await client.send(batch: batch) {
                if case let .failure(error) = outcome { throw BenchError("send(batch:) failed: \(error)") }
            }
        }
        let seconds = monotonicSeconds() - started
        try await expectDepth(queue, count + 1)
        return Double(count) / seconds
    }

    /// The C publisher with a sliding confirm window.
    /// - Returns: tasks per second.
    func publishCeiling(queue: String, count: Int, payload: Int? = nil, label: String) async throws -> Double {
        let run = try await runCeiling(["publish", "--queue", queue, "--count", "\(count)", "--window", "\(PublishSection.ceilingWindow)",
                                        "--payload", "\(payload ?? 0)"], label: label)
        try await expectDepth(queue, count)
        return run.rate
    }

    /// Throws unless `queue` holds `expected` messages (every publish really arrived).
    func expectDepth(_ queue: String, _ expected: Int) async throws {
        let depth = try await depth(of: queue, expected: expected)
        guard depth == expected else { throw BenchError("\(queue) holds \(depth) messages, expected \(expected)") }
    }
}
