/// Section 5: how Conveyor's numbers move with worker processes, payload size, worker
/// concurrency and the number of concurrent senders. Each row is compared with the ceiling of
/// the same shape.
struct ScalingSection {
    let bench: BenchContext

    static let concurrencies = [1, 8, 64]
    static let senderCounts = [1, 8]

    static func plan(_ sizes: BenchSizes) -> [Row] {
        let small = "\(sizes.smallPayload) B", large = "\(sizes.largePayload / 1000) KB"
        var rows = [
            Row(key: "scaling.e2e.processes2", section: "scaling", label: "e2e: 2 worker processes x --concurrency 16",
                unit: .tasksPerSecond, count: sizes.scalingCount, ceiling: "e2e.ceiling", note: "vs 1 process: row e2e.conveyor"),
        ]
        rows += concurrencies.map { concurrency in
            Row(key: "scaling.e2e.c\(concurrency)", section: "scaling", label: "e2e: 1 worker, --concurrency \(concurrency)",
                unit: .tasksPerSecond, count: concurrency == 1 ? sizes.slowScalingCount : sizes.scalingCount, ceiling: "e2e.ceiling",
                note: "prefetch \(4 * concurrency)")
        }
        rows += [
            Row(key: "scaling.e2e.small", section: "scaling", label: "e2e: conveyor.echo, \(small) payload", unit: .tasksPerSecond,
                count: sizes.scalingCount, ceiling: "scaling.ceiling.small", note: "the result carries the payload back"),
            Row(key: "scaling.e2e.large", section: "scaling", label: "e2e: conveyor.echo, \(large) payload", unit: .tasksPerSecond,
                count: sizes.largePayloadCount, ceiling: "scaling.ceiling.large"),
            Row(key: "scaling.ceiling.small", section: "scaling", label: "e2e ceiling, \(small) payload (echoed)", unit: .tasksPerSecond,
                count: sizes.scalingCount),
            Row(key: "scaling.ceiling.large", section: "scaling", label: "e2e ceiling, \(large) payload (echoed)", unit: .tasksPerSecond,
                count: sizes.largePayloadCount),
        ]
        rows += senderCounts.map { senders in
            Row(key: "scaling.publish.send\(senders)", section: "scaling", label: "publish: send() from \(senders) concurrent task\(senders == 1 ? "" : "s")",
                unit: .tasksPerSecond, count: senders == 1 ? sizes.slowScalingCount : sizes.scalingCount, ceiling: "publish.ceiling",
                note: senders == 1 ? "each awaits its confirm: one round trip per task" : nil)
        }
        rows += [
            Row(key: "scaling.publish.batch.large", section: "scaling", label: "publish: send(batch:), \(large) payload",
                unit: .tasksPerSecond, count: sizes.largePayloadCount, ceiling: "scaling.publish.ceiling.large"),
            Row(key: "scaling.publish.ceiling.large", section: "scaling", label: "publish ceiling, \(large) payload",
                unit: .tasksPerSecond, count: sizes.largePayloadCount),
        ]
        return rows
    }

    func run() async {
        let sizes = bench.sizes
        let conveyor = WorkerKind.conveyor(concurrency: EndToEndSection.conveyorConcurrency)
        for repetition in 1...sizes.scalingRepetitions {
            let tag = "\(repetition)"
            await bench.measure("scaling.e2e.processes2") {
                try await bench.drain(conveyor, processes: 2, count: sizes.scalingCount, label: "scaling-2proc-\(tag)").rate
            }
            for concurrency in Self.concurrencies {
                await bench.measure("scaling.e2e.c\(concurrency)") {
                    try await bench.drain(.conveyor(concurrency: concurrency), count: concurrency == 1 ? sizes.slowScalingCount : sizes.scalingCount,
                                          label: "scaling-c\(concurrency)-\(tag)").rate
                }
            }
            for (name, payload, count) in [("small", sizes.smallPayload, sizes.scalingCount), ("large", sizes.largePayload, sizes.largePayloadCount)] {
                await bench.measure("scaling.e2e.\(name)") {
                    try await bench.drain(conveyor, count: count, payload: payload, label: "scaling-echo-\(name)-\(tag)").rate
                }
                await bench.measure("scaling.ceiling.\(name)") {
                    try await bench.drain(.ceiling(count: count, echo: true), count: count, payload: payload,
                                          label: "scaling-ceiling-\(name)-\(tag)").rate
                }
            }
            for senders in Self.senderCounts {
                await bench.measure("scaling.publish.send\(senders)") {
                    try await bench.withQueue("publish") { queue in
                        try await bench.publishWithSend(queue: queue, count: senders == 1 ? sizes.slowScalingCount : sizes.scalingCount,
                                                        senders: senders)
                    }
                }
            }
            await bench.measure("scaling.publish.batch.large") {
                try await bench.withQueue("publish") { queue in
                    try await bench.publishWithBatch(queue: queue, count: sizes.largePayloadCount, batchSize: sizes.batchSize,
                                                     payload: sizes.largePayload)
                }
            }
            await bench.measure("scaling.publish.ceiling.large") {
                try await bench.withQueue("publish") { queue in
                    try await bench.publishCeiling(queue: queue, count: sizes.largePayloadCount, payload: sizes.largePayload,
                                                   label: "scaling-publish-ceiling-large-\(tag)")
                }
            }
        }
    }
}
