import ArgumentParser
import Conveyor
import Foundation

/// `conveyor check`: Nagios plugins. Exit 0/1/2/3 (OK, WARNING, CRITICAL, UNKNOWN) with one line,
/// `CONVEYOR QUEUE OK - text | 'depth'=12;100;1000;0;`, bad usage included (3).
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Nagios plugins: exit 0/1/2/3 with one status line and perfdata.",
        discussion: "Bad usage exits 3 (UNKNOWN), as plugins do. Every check answers within --timeout seconds.",
        subcommands: [Queue.self, Workers.self, Broker.self, Redis.self])

    struct Queue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "queue", abstract: "Depth, consumers and dead letters of one queue.")

        @OptionGroup var plugin: PluginOptions

        @Argument(help: "The queue.")
        var name: String

        @Option(help: "WARNING when more messages than this wait.")
        var warnDepth: Int = 100

        @Option(help: "CRITICAL when more messages than this wait.")
        var critDepth: Int = 1000

        @Option(help: "CRITICAL when fewer workers than this consume the queue.")
        var minConsumers: Int = 1

        @Option(help: "WARNING when more dead letters than this are kept (default: not checked).")
        var maxDead: Int?

        @Option(help: "Oldest-message age in seconds: not measured (RabbitMQ does not report it); the check answers UNKNOWN if set.")
        var maxAge: Double?

        func validate() throws {
            guard !name.isEmpty, name.utf8.count <= 255 else { throw ValidationError("the queue name must be 1 to 255 bytes") }
            try checkRange(warnDepth, "--warn-depth", 0...Int(Int32.max))
            try checkRange(critDepth, "--crit-depth", 0...Int(Int32.max))
            guard warnDepth <= critDepth else { throw ValidationError("--warn-depth must not be above --crit-depth") }
            try checkRange(minConsumers, "--min-consumers", 0...100_000)
            try checkRange(maxDead, "--max-dead", 0...Int(Int32.max))
            try checkSeconds(maxAge, "--max-age")
        }

        func run() async throws {
            let client = plugin.client(service: "CONVEYOR QUEUE")
            let (name, warn, crit, minConsumers, maxDead, maxAge) = (name, warnDepth, critDepth, self.minConsumers, maxDead, maxAge)
            await runPlugin(service: "CONVEYOR QUEUE", timeout: plugin.timeout) {
                try await client.connectBroker()
                guard let report = try await Fleet(client: client).queue(name) else {
                    return PluginResult(status: .critical, text: "queue \(name) does not exist")
                }
                return Self.judge(report, warn: warn, crit: crit, minConsumers: minConsumers, maxDead: maxDead, maxAge: maxAge)
            }
        }

        static func judge(_ report: QueueReport, warn: Int, crit: Int, minConsumers: Int, maxDead: Int?, maxAge: Double?) -> PluginResult {
            var status = PluginStatus.ok
            var problems: [String] = []
            if report.ready > crit {
                status = max(status, .critical)
                problems.append("depth \(report.ready) > \(crit)")
            } else if report.ready > warn {
                status = max(status, .warning)
                problems.append("depth \(report.ready) > \(warn)")
            }
            if report.consumers < minConsumers {
                status = max(status, .critical)
                problems.append("consumers=\(report.consumers) < \(minConsumers)")
            }
            // No dead-letter queue yet (it is made with the first dead letter): none kept.
            let dead = report.deadLetters ?? 0
            if let maxDead, dead > maxDead {
                status = max(status, .warning)
                problems.append("dead letters \(dead) > \(maxDead)")
            }
            if maxAge != nil {
                status = max(status, .unknown)
                problems.append("oldest-message age is not measured (RabbitMQ does not report it)")
            }
            let summary = "\(report.name): depth=\(report.ready) consumers=\(report.consumers) dead=\(dead)"
            let data = [perfdata("depth", "\(report.ready)", warn: "\(warn)", crit: "\(crit)"),
                        perfdata("consumers", "\(report.consumers)", crit: "\(minConsumers):"),
                        perfdata("dead", "\(dead)", warn: maxDead.map(String.init) ?? "")]
            return PluginResult(status: status, text: ([summary] + problems).joined(separator: "; "), perfdata: data)
        }
    }

    struct Workers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "workers", abstract: "Conveyor workers alive (heartbeats in Redis).")

        @OptionGroup var plugin: PluginOptions

        @Option(help: "CRITICAL when fewer workers than this are alive.")
        var min: Int = 1

        @Option(help: "Count only workers consuming this queue.")
        var queue: String?

        func validate() throws {
            try checkRange(min, "--min", 0...100_000)
            if let queue, queue.isEmpty || queue.utf8.count > 255 { throw ValidationError("--queue must be 1 to 255 bytes") }
        }

        func run() async throws {
            let client = plugin.client(service: "CONVEYOR WORKERS")
            let (minimum, queue) = (min, queue)
            await runPlugin(service: "CONVEYOR WORKERS", timeout: plugin.timeout) {
                try await client.pingBackend(timeout: client.configuration.connectTimeout)
                let workers = try await Fleet(client: client).workers().filter { queue == nil || $0.queues.contains(queue ?? "") }
                let scope = queue.map { " on \($0)" } ?? ""
                let status: PluginStatus = workers.count < minimum ? .critical : .ok
                let names = workers.isEmpty ? "" : ": " + workers.map(\.hostname).joined(separator: ", ")
                return PluginResult(status: status, text: "\(workers.count) worker(s) alive\(scope) (min \(minimum))\(names)",
                                    perfdata: [perfdata("workers", "\(workers.count)", crit: "\(minimum):")])
            }
        }
    }

    struct Broker: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "broker", abstract: "Can the broker be reached (AMQP handshake)?")

        @OptionGroup var plugin: PluginOptions

        func run() async throws {
            let client = plugin.client(service: "CONVEYOR BROKER")
            await runPlugin(service: "CONVEYOR BROKER", timeout: plugin.timeout) {
                let started = ContinuousClock.now
                try await client.connectBroker()
                let seconds = seconds(since: started)
                return PluginResult(status: .ok, text: "broker answered in \(String(format: "%.3f", seconds)) s",
                                    perfdata: [perfdata("time", String(format: "%.6fs", seconds))])
            }
        }
    }

    struct Redis: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "redis", abstract: "Does the result store (Redis) answer PING?")

        @OptionGroup var plugin: PluginOptions

        func run() async throws {
            let client = plugin.client(service: "CONVEYOR REDIS")
            await runPlugin(service: "CONVEYOR REDIS", timeout: plugin.timeout) {
                let started = ContinuousClock.now
                try await client.pingBackend(timeout: client.configuration.connectTimeout)
                let seconds = seconds(since: started)
                return PluginResult(status: .ok, text: "Redis answered PING in \(String(format: "%.3f", seconds)) s",
                                    perfdata: [perfdata("time", String(format: "%.6fs", seconds))])
            }
        }
    }
}

/// Seconds from `start` to now.
func seconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}
