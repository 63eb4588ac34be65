import Foundation

/// Section 9 (issue 15): Conveyor at scale, one repetition each, only with `--only scale` (and in
/// `--smoke`, tiny): a backlog of 1,000,000 queued no-op tasks drained against 20,000, with the
/// worker's RSS idle and at its peak during each drain; 1 KB and 100 KB payloads echoed, each
/// against the C ceiling of the same shape (100 KB also with `--loops 2`); eight worker processes
/// on one queue, with the smallest and largest share one of them took.
struct ScaleSection {
    let bench: BenchContext

    static let processes = 8
    /// The loops of the 100 KB row's second run.
    static let loops = 2

    static func plan(_ sizes: BenchSizes) -> [Row] {
        let backlog = Table.grouped(sizes.backlogCount), baseline = Table.grouped(sizes.backlogBaseline)
        let concurrency = EndToEndSection.conveyorConcurrency
        return [
            Row(key: "scale.backlog.baseline", section: "scale", label: "drain \(baseline) queued no-op tasks, 1 worker",
                unit: .tasksPerSecond, count: sizes.backlogBaseline, note: "--concurrency \(concurrency)"),
            Row(key: "scale.backlog.large", section: "scale", label: "drain \(backlog) queued no-op tasks, 1 worker",
                unit: .tasksPerSecond, count: sizes.backlogCount, note: "queued first (untimed); rate vs the \(baseline) row above"),
            Row(key: "scale.rss.idle", section: "scale", label: "  worker RSS idle", unit: .megabytes,
                note: "same flags, \(sizes.idleSettle) s after ready, empty queue"),
            Row(key: "scale.rss.baseline", section: "scale", label: "  worker RSS peak, \(baseline) drain", unit: .megabytes,
                note: "VmRSS sampled every 100 ms"),
            Row(key: "scale.rss.large", section: "scale", label: "  worker RSS peak, \(backlog) drain", unit: .megabytes,
                note: "flat: within 10% of idle"),
            Row(key: "scale.payload.1k", section: "scale", label: "e2e: conveyor.echo, 1 KB payload", unit: .tasksPerSecond,
                count: sizes.kilobytePayloadCount, ceiling: "scale.ceiling.1k", note: "the result carries the payload back"),
            Row(key: "scale.payload.100k", section: "scale", label: "e2e: conveyor.echo, 100 KB payload", unit: .tasksPerSecond,
                count: sizes.hundredKilobytePayloadCount, ceiling: "scale.ceiling.100k"),
            Row(key: "scale.payload.100k.loops", section: "scale", label: "e2e: conveyor.echo, 100 KB payload, --loops \(loops)",
                unit: .tasksPerSecond, count: sizes.hundredKilobytePayloadCount, ceiling: "scale.ceiling.100k",
                note: "vs the row above: a loop per core"),
            Row(key: "scale.ceiling.1k", section: "scale", label: "e2e ceiling, 1 KB payload (echoed)", unit: .tasksPerSecond,
                count: sizes.kilobytePayloadCount),
            Row(key: "scale.ceiling.100k", section: "scale", label: "e2e ceiling, 100 KB payload (echoed)", unit: .tasksPerSecond,
                count: sizes.hundredKilobytePayloadCount),
            Row(key: "scale.processes", section: "scale", label: "e2e: \(processes) worker processes on one queue, total",
                unit: .tasksPerSecond, count: sizes.processesCount, ceiling: "e2e.ceiling",
                note: "--concurrency \(concurrency) each; vs 1 process: e2e.conveyor"),
            Row(key: "scale.processes.min", section: "scale", label: "  fewest tasks one of them ran", unit: .count,
                note: "fair share: \(sizes.processesCount / processes) each"),
            Row(key: "scale.processes.max", section: "scale", label: "  most tasks one of them ran", unit: .count),
        ]
    }

    func run() async {
        let sizes = bench.sizes
        let conveyor = WorkerKind.conveyor(concurrency: EndToEndSection.conveyorConcurrency)
        await bench.measure("scale.rss.idle") { try await idleMegabytes(conveyor) }
        for (row, count) in [("baseline", sizes.backlogBaseline), ("large", sizes.backlogCount)] {
            do {
                // 300 s for 20,000; the large backlog may drain at a quarter of the usual rate.
                let run = try await bench.drain(conveyor, count: count, label: "scale-backlog-\(row)",
                                                timeout: max(300, Double(count) / 2_000))
                bench.report.record("scale.backlog.\(row)", run.rate)
                bench.report.record("scale.rss.\(row)", run.peakMegabytes)
            } catch {
                bench.report.fail("scale.backlog.\(row)", Self.explained(error))
                bench.report.fail("scale.rss.\(row)", error)
            }
        }
        for (name, payload, count) in [("1k", 1_000, sizes.kilobytePayloadCount), ("100k", 100_000, sizes.hundredKilobytePayloadCount)] {
            await bench.measure("scale.payload.\(name)") {
                try await bench.drain(conveyor, count: count, payload: payload, label: "scale-echo-\(name)").rate
            }
            if name == "100k" {
                let looped = WorkerKind.conveyor(concurrency: EndToEndSection.conveyorConcurrency, loops: Self.loops)
                await bench.measure("scale.payload.100k.loops") {
                    try await bench.drain(looped, count: count, payload: payload, label: "scale-echo-100k-loops").rate
                }
            }
            await bench.measure("scale.ceiling.\(name)") {
                try await bench.drain(.ceiling(count: count, echo: true), count: count, payload: payload, label: "scale-ceiling-\(name)").rate
            }
        }
        do {
            let run = try await bench.drain(conveyor, processes: Self.processes, count: sizes.processesCount, label: "scale-processes",
                                            countShares: true)
            guard run.succeeded.reduce(0, +) == sizes.processesCount else {
                throw BenchError("the workers report \(run.succeeded) succeeded, not \(sizes.processesCount) in all")
            }
            bench.report.record("scale.processes", run.rate)
            bench.report.record("scale.processes.min", Double(run.succeeded.min() ?? 0))
            bench.report.record("scale.processes.max", Double(run.succeeded.max() ?? 0))
            bench.report.annotate("scale.processes.max", "each: \(run.succeeded.map(String.init).joined(separator: " "))")
        } catch {
            for key in ["scale.processes", "scale.processes.min", "scale.processes.max"] { bench.report.fail(key, error) }
        }
    }

    /// A worker's RSS with nothing to do: started on an empty queue with the drain's flags.
    private func idleMegabytes(_ kind: WorkerKind) async throws -> Double {
        try await bench.withQueue("idle") { queue in
            let worker = try await bench.startWorker(kind, queue: queue, label: "scale-idle")
            try? await Task.sleep(for: .milliseconds(Int(bench.sizes.idleSettle * 1000)))
            let megabytes = ProcessMemory.residentMegabytes(ProcessMemory.tree(of: worker.process.pid))
            await worker.process.stop()
            return megabytes
        }
    }

    /// A blocked broker fails the backlog's enqueue (the client's publish timeout) instead of
    /// hanging; says what to look at.
    private static func explained(_ error: any Error) -> any Error {
        let text = "\(error)"
        guard text.contains("blocking publishers") else { return error }
        return BenchError("RabbitMQ blocked publishers while the backlog was queued (a memory or disk alarm: "
            + "rabbitmqctl status shows the alarm and the limits; free disk or memory and run again): \(text)")
    }
}
