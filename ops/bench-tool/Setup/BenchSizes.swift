/// How much each row measures. The full run takes a few minutes on 2 cores; the smoke run only
/// checks that every row still works (ops/test runs it).
struct BenchSizes: Sendable {
    /// Repetitions of the throughput rows (sections 1 and 2); the table shows the median.
    var repetitions: Int
    /// Repetitions of the scaling rows (section 5).
    var scalingRepetitions: Int
    /// Tasks per publish run for Conveyor and the ceiling.
    var publishCount: Int
    /// Tasks per publish run for Python Celery (slower, so fewer; the rate is what counts).
    var celeryPublishCount: Int
    /// Tasks per `send(batch:)` call.
    var batchSize: Int
    /// Tasks drained per end-to-end run for Conveyor and the ceiling.
    var endToEndCount: Int
    /// Tasks drained per end-to-end run for Celery.
    var celeryEndToEndCount: Int
    /// Round trips measured (after `warmupRoundTrips`), Conveyor and Celery.
    var roundTrips: Int
    var celeryRoundTrips: Int
    var warmupRoundTrips: Int
    /// Worker starts measured for the footprint rows, and the pause before reading idle RSS.
    var footprintRepetitions: Int
    var idleSettle: Double
    /// Tasks per scaling run; fewer for the slow shapes (one sender, concurrency 1, 10 KB).
    var scalingCount: Int
    var slowScalingCount: Int
    var largePayloadCount: Int
    /// Section 9 (`--only scale`): the large backlog and the one it is compared with, tasks per
    /// 1 KB and 100 KB payload run, and tasks for the eight-process run.
    var backlogCount: Int
    var backlogBaseline: Int
    var kilobytePayloadCount: Int
    var hundredKilobytePayloadCount: Int
    var processesCount: Int
    /// `celery inspect ping` calls per worker in the control rows.
    var pings: Int
    /// Bytes of the two payload sizes compared in the scaling section.
    var smallPayload = 100
    var largePayload = 10_000

    /// The full run (`ops/bench`).
    static let full = BenchSizes(
        repetitions: 3, scalingRepetitions: 3, publishCount: 20_000, celeryPublishCount: 5_000, batchSize: 1_000,
        endToEndCount: 20_000, celeryEndToEndCount: 3_000, roundTrips: 2_000, celeryRoundTrips: 500, warmupRoundTrips: 20,
        footprintRepetitions: 3, idleSettle: 2, scalingCount: 10_000, slowScalingCount: 2_000, largePayloadCount: 5_000,
        backlogCount: 1_000_000, backlogBaseline: 20_000, kilobytePayloadCount: 10_000, hundredKilobytePayloadCount: 2_000,
        processesCount: 40_000,
        pings: 100)

    /// The smoke run (`ops/bench --smoke`): every row, tiny sizes.
    static let smoke = BenchSizes(
        repetitions: 1, scalingRepetitions: 1, publishCount: 200, celeryPublishCount: 100, batchSize: 100,
        endToEndCount: 200, celeryEndToEndCount: 100, roundTrips: 20, celeryRoundTrips: 20, warmupRoundTrips: 2,
        footprintRepetitions: 1, idleSettle: 0.3, scalingCount: 200, slowScalingCount: 100, largePayloadCount: 100,
        backlogCount: 1_000, backlogBaseline: 200, kilobytePayloadCount: 100, hundredKilobytePayloadCount: 20, processesCount: 400,
        pings: 10)
}
