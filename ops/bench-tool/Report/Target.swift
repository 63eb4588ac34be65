/// A goal from issue 4, checked against the ratios of one run.
struct Target: Encodable, Sendable {
    enum Reference: Encodable, Sendable, Equatable {
        /// The row's matching Celery row.
        case celery
        /// The row's raw C ceiling.
        case ceiling
        /// Another row, by key (a like-for-like comparison the issue does not name).
        case row(String)
        /// None: the limit is in the row's own unit (megabytes, seconds).
        case value
    }

    /// The issue's words.
    var text: String
    var key: String
    var reference: Reference
    /// The ratio `row / reference` must be at least (throughput) or at most (time, memory) this.
    var limit: Double
    var atLeast: Bool
    /// A comparison shown for context; the issue's targets are the others.
    var informational = false

    /// Issue 4, "Targets on this 2-core machine (as ratios from one run)".
    static let issue4: [Target] = [
        Target(text: "End-to-end throughput >= 15x Celery's", key: "e2e.conveyor", reference: .celery, limit: 15, atLeast: true),
        Target(text: "End-to-end throughput >= 70% of the raw ceiling", key: "e2e.conveyor", reference: .ceiling, limit: 0.70,
               atLeast: true),
        Target(text: "Publish with confirms >= 10x Celery's client (single API, send())", key: "publish.conveyor.send",
               reference: .celery, limit: 10, atLeast: true),
        Target(text: "Same, like for like: vs Celery with confirm_publish=True", key: "publish.conveyor.send",
               reference: .row("publish.celery.confirm"), limit: 10, atLeast: true, informational: true),
        Target(text: "Batch API >= 90% of the raw windowed-confirm ceiling", key: "publish.conveyor.batch", reference: .ceiling,
               limit: 0.90, atLeast: true),
        Target(text: "Round-trip p50 <= 1/5 of Celery's", key: "latency.conveyor.p50", reference: .celery, limit: 1.0 / 5,
               atLeast: false),
        Target(text: "Round-trip p99 <= 1/3 of Celery's", key: "latency.conveyor.p99", reference: .celery, limit: 1.0 / 3,
               atLeast: false),
        Target(text: "Worker idle RSS <= 1/5 of Celery's 2-process worker", key: "footprint.conveyor.idle", reference: .celery,
               limit: 1.0 / 5, atLeast: false),
        Target(text: "Worker ready in <= 1/3 of Celery's time", key: "footprint.conveyor.ready", reference: .celery, limit: 1.0 / 3,
               atLeast: false),
    ]

    /// Issue 12: email.send from one worker, against Celery sending the same mail with smtplib.
    static let issue12: [Target] = [
        Target(text: "email.send >= 5x Celery's smtplib task (and >= 800 mails/s, see the row)", key: "email.conveyor",
               reference: .celery, limit: 5, atLeast: true),
    ]

    /// Issue 15, what one run can check: end to end against the ceiling, publishing, the round
    /// trip against the raw round-trip ceiling (same run), the footprint and the scale rows.
    static let issue15: [Target] = [
        Target(text: "End to end (default flags) >= 75% of the raw ceiling", key: "e2e.conveyor", reference: .ceiling, limit: 0.75,
               atLeast: true),
        Target(text: "send(batch:) >= 95% of the publish ceiling", key: "publish.conveyor.batch", reference: .ceiling, limit: 0.95,
               atLeast: true),
        Target(text: "send() from 64 concurrent tasks >= 90% of the publish ceiling", key: "publish.conveyor.send", reference: .ceiling,
               limit: 0.90, atLeast: true),
        Target(text: "Worker idle RSS <= 20 MB", key: "footprint.conveyor.idle", reference: .value, limit: 20, atLeast: false),
        Target(text: "Worker ready in <= 0.05 s", key: "footprint.conveyor.ready", reference: .value, limit: 0.05, atLeast: false),
        Target(text: "Round-trip p50 <= 1.3x the raw round-trip ceiling", key: "latency.conveyor.p50", reference: .ceiling, limit: 1.3,
               atLeast: false),
        Target(text: "Round-trip p99 <= 2x the raw round-trip ceiling", key: "latency.conveyor.p99", reference: .ceiling, limit: 2,
               atLeast: false),
        Target(text: "A large backlog drains at the rate of a small one (>= 0.9x)", key: "scale.backlog.large",
               reference: .row("scale.backlog.baseline"), limit: 0.9, atLeast: true),
        Target(text: "Peak RSS draining the large backlog within 10% of idle", key: "scale.rss.large", reference: .row("scale.rss.idle"),
               limit: 1.1, atLeast: false),
    ]

    /// The outcome of one target in one run.
    struct Outcome: Encodable, Sendable {
        var target: Target
        /// nil when a row it needs was not measured.
        var ratio: Double?
        var passed: Bool?
    }

    /// Checks the target against the finished rows.
    func evaluate(_ rows: [Row]) -> Outcome {
        let row = rows.first { $0.key == key }
        let ratio: Double?
        switch reference {
        case .celery: ratio = row?.vsCelery
        case .ceiling: ratio = row?.vsCeiling
        case let .row(other):
            let reference = rows.first { $0.key == other }?.value
            ratio = row?.value.flatMap { value in reference.flatMap { $0 > 0 ? value / $0 : nil } }
        case .value: ratio = row?.value
        }
        guard let ratio else { return Outcome(target: self, ratio: nil, passed: nil) }
        return Outcome(target: self, ratio: ratio, passed: atLeast ? ratio >= limit : ratio <= limit)
    }
}
