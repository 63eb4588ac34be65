/// One decoder under fuzzing: a name for the command line and what to do with one input.
struct FuzzTarget: Sendable {
    let name: String
    let summary: String
    let run: @Sendable ([UInt8]) -> Void

    /// Every target, in the order `ops/fuzz` runs them.
    static let all: [FuzzTarget] = [
        FuzzTarget(name: "task-message", summary: "a delivery's property section and body, decoded, written again and re-read",
                   run: TaskMessageTarget.run),
        FuzzTarget(name: "json", summary: "JSON parsed, written in both styles and parsed again; kombu envelopes; Codable",
                   run: JSONTarget.run),
        FuzzTarget(name: "field-table", summary: "an AMQP field table decoded by rabbitmq-c, converted both ways",
                   run: FieldTableTarget.run),
        FuzzTarget(name: "amqp-url", summary: "broker URLs and failover lists parsed and redacted",
                   run: AMQPURLTarget.run),
        FuzzTarget(name: "redis-url", summary: "Redis URLs parsed and redacted",
                   run: RedisURLTarget.run),
        FuzzTarget(name: "python-repr", summary: "Celery's saferepr of JSON arguments at any length limit",
                   run: PythonReprTarget.run),
        FuzzTarget(name: "iso8601", summary: "ISO-8601 times parsed and written again; any date written",
                   run: ISO8601Target.run),
        FuzzTarget(name: "resp", summary: "Redis replies read by hiredis and converted to RedisReply",
                   run: RESPTarget.run),
    ]

    static func named(_ name: String) -> FuzzTarget? {
        all.first { $0.name == name }
    }
}
