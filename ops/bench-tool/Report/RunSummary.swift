import Foundation

/// What describes a run around its rows: the header and footnotes of the table, and the
/// `--json` document.
struct RunSummary {
    var smoke: Bool
    var sizes: BenchSizes
    var broker: String
    var redis: String
    var cores: Int
    var seconds: Double
    var date: String

    init(smoke: Bool, sizes: BenchSizes, bench: BenchContext, seconds: Double) {
        self.smoke = smoke
        self.sizes = sizes
        broker = "\(bench.broker.host):\(bench.broker.port)"
        redis = (try? bench.configuration.resultEndpoint()).map { "\($0.host):\($0.port)" } ?? "?"
        cores = ProcessInfo.processInfo.activeProcessorCount
        self.seconds = seconds
        date = ISO8601DateFormatter().string(from: Date())
    }

    var header: [String] {
        [
            "Conveyor vs Python Celery 5.7 vs raw rabbitmq-c/hiredis\(smoke ? " (SMOKE: tiny sizes, numbers mean nothing)" : "")",
            "\(date), \(cores) cores, RabbitMQ \(broker), Redis \(redis), release build, run took \(Int(seconds.rounded())) s.",
            "Throughput rows: median of \(sizes.repetitions) run(s), interleaved; scaling rows: \(sizes.scalingRepetitions) run(s).",
            "Ratios: 'vs Celery' = this row / the matching Celery row; 'vs ceiling' = this row / its raw C ceiling.",
        ]
    }

    var footnotes: [String] {
        [
            "Notes:",
            "- Celery rows use fewer tasks than Conveyor rows (Celery is slower); all rates are tasks/s, so they compare directly.",
            "- Celery runs with its defaults: the client publishes without confirms (confirm_publish=False), the worker acks",
            "  before running a task and prefetches 4 per process. Conveyor confirms every publish and acks after the result is stored.",
            "- Celery's worker runs with --loglevel INFO (for its 'ready.' line; Conveyor's default is info too) and",
            "  --without-mingle --without-gossip (the broker is shared; this also shortens Celery's start).",
            "- End to end is timed from the first worker's ready line to the date_done of the last result stored in Redis.",
        ]
    }

    /// The `--json` document: run metadata, every row, every target.
    func json(rows: [Row], outcomes: [Target.Outcome]) throws -> String {
        struct Document: Encodable {
            var smoke: Bool
            var date: String
            var cores: Int
            var broker: String
            var redis: String
            var seconds: Double
            var repetitions: Int
            var rows: [Row]
            var targets: [Target.Outcome]
        }
        let document = Document(smoke: smoke, date: date, cores: cores, broker: broker, redis: redis, seconds: seconds,
                                repetitions: sizes.repetitions, rows: rows, targets: outcomes)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(document), as: UTF8.self)
    }
}
