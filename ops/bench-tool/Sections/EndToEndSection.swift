/// Section 2: N no-op tasks queued, then drained into Redis results by Conveyor's worker,
/// Celery's prefork worker and the C ceiling. Also feeds section 4's "RSS under load" rows.
struct EndToEndSection {
    let bench: BenchContext

    static let conveyorConcurrency = 16
    static let celeryConcurrency = 2

    static func plan(_ sizes: BenchSizes) -> [Row] {
        [
            Row(key: "e2e.conveyor", section: "e2e", label: "Conveyor worker, 1 process, --concurrency \(conveyorConcurrency)",
                unit: .tasksPerSecond, count: sizes.endToEndCount, celery: "e2e.celery", ceiling: "e2e.ceiling",
                note: "conveyor.add; acks after the result is stored"),
            Row(key: "e2e.celery", section: "e2e", label: "Celery 5.7 prefork worker, -c \(celeryConcurrency)",
                unit: .tasksPerSecond, count: sizes.celeryEndToEndCount, ceiling: "e2e.ceiling",
                note: "fewer tasks, same rate measure; acks early (Celery default)"),
            Row(key: "e2e.ceiling", section: "e2e", label: "rabbitmq-c + hiredis: consume, SETEX+PUBLISH, ack",
                unit: .tasksPerSecond, count: sizes.endToEndCount, note: "ceiling; prefetch 1,000, pipelined, multiple-ack"),
        ]
    }

    func run() async {
        let sizes = bench.sizes
        for repetition in 1...sizes.repetitions {
            await bench.measure("e2e.conveyor") {
                let run = try await bench.drain(.conveyor(concurrency: Self.conveyorConcurrency), count: sizes.endToEndCount,
                                                label: "e2e-conveyor-\(repetition)")
                bench.report.record("footprint.conveyor.load", run.peakMegabytes)
                return run.rate
            }
            await bench.measure("e2e.ceiling") {
                try await bench.drain(.ceiling(count: sizes.endToEndCount, echo: false), count: sizes.endToEndCount,
                                      label: "e2e-ceiling-\(repetition)").rate
            }
            await bench.measure("e2e.celery") {
                let run = try await bench.drain(.celery(concurrency: Self.celeryConcurrency), count: sizes.celeryEndToEndCount,
                                                label: "e2e-celery-\(repetition)")
                bench.report.record("footprint.celery.load", run.peakMegabytes)
                return run.rate
            }
        }
    }
}
