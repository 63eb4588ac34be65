import Conveyor
import Foundation

/// One line of `conveyor top`.
struct TopLine: Equatable {
    var text: String
    var isHeading = false
}

/// What `conveyor top` polls beside the event stream: the fleet's Redis heartbeats, the pidbox
/// `stats` answers and the queues. Refreshed in the background; the view reads the latest.
struct TopSources: Sendable {
    /// Why the event stream's broker connection is down; nil while it is up.
    var brokerError: String?
    /// Why Redis could not be asked; nil while it answers.
    var redisError: String?
    /// Conveyor workers' heartbeats in Redis.
    var heartbeats: [WorkerHeartbeat] = []
    /// The last pidbox `stats` answers (Python and Swift workers).
    var nodes: [CeleryNode] = []
    /// Queues shown, with their report (nil: the queue does not exist).
    var queues: [(name: String, report: QueueReport?)] = []
}

/// `conveyor top`'s screen, from the activity the events gave and the polled sources: a
/// summary line, then workers, per-task counts over the window, running tasks and queues.
/// Pure: the same input gives the same lines, terminal or not.
enum TopView {
    static func lines(_ activity: ActivitySnapshot, _ sources: TopSources, now: Date, interactive: Bool) -> [TopLine] {
        let workers = workerRows(activity, sources, now: now)
        let online = workers.filter { $0.state == "online" }.count
        var summary = "conveyor top  \(clock(now))  broker \(sources.brokerError == nil ? "ok" : "DOWN")"
            + "  results \(sources.redisError == nil ? "ok" : "DOWN")  workers \(online) online  running \(activity.running.count)"
        if interactive { summary += "  (q quits)" }
        var lines = [TopLine(text: summary, isHeading: true)]
        for problem in [sources.brokerError.map { "broker: \($0)" }, sources.redisError.map { "results: \($0)" }].compactMap({ $0 }) {
            lines.append(TopLine(text: problem))
        }

        var table = TextTable([.left("WORKER"), .left("KIND"), .left("STATE"), .right("ACTIVE"), .right("CONCURRENCY"),
                               .right("PROCESSED"), .left("LOAD"), .right("SEEN")])
        for row in workers { table.add(row.cells) }
        lines += section(table, empty: "no worker heard from yet")

        table = TextTable([.left("TASK (last \(activity.window) s)"), .right("RECEIVED"), .right("SUCCEEDED"), .right("FAILED"),
                           .right("RETRIED"), .right("MEAN RUNTIME")])
        for rates in activity.tasks {
            let counts = rates.counts
            table.add([rates.name, "\(counts.received)", "\(counts.succeeded)", "\(counts.failed)", "\(counts.retried)",
                       counts.meanRuntime.map(seconds) ?? "-"])
        }
        lines += section(table, empty: "no task events in the last \(activity.window) s; task events need -E or enable_events")

        table = TextTable([.left("RUNNING"), .left("ID"), .left("WORKER"), .right("RUNTIME")])
        for task in activity.running { table.add([task.name ?? "?", task.id, task.hostname, seconds(task.runtime)]) }
        lines += section(table, empty: "no task running")

        table = TextTable([.left("QUEUE"), .right("READY"), .right("CONSUMERS"), .right("DEAD")])
        for (name, report) in sources.queues {
            guard let report else {
                table.add([name, "-", "-", "-"])
                continue
            }
            table.add([name, "\(report.ready)", "\(report.consumers)", report.deadLetters.map(String.init) ?? "0"])
        }
        lines += section(table, empty: sources.redisError == nil ? "no queue known" : "queues unknown (the fleet's list is in Redis; name them with --queue)")
        return lines
    }

    /// A blank line, the table's heading in bold and its rows, or the heading and `empty`.
    private static func section(_ table: TextTable, empty: String) -> [TopLine] {
        let text = table.lines
        var lines = [TopLine(text: ""), TopLine(text: text[0], isHeading: true)]
        lines += text.count > 1 ? text.dropFirst().map { TopLine(text: $0) } : [TopLine(text: "  (\(empty))")]
        return lines
    }

    struct WorkerRow {
        var hostname: String
        var kind = "?"
        var state = "?"
        var active: Int?
        var concurrency: Int?
        var processed: Int?
        var load: [Double]?
        var seen: Double?

        var cells: [String] {
            [hostname, kind, state, active.map(String.init) ?? "-", concurrency.map(String.init) ?? "-", processed.map(String.init) ?? "-",
             load.map { $0.map { String(format: "%.2f", $0) }.joined(separator: " ") } ?? "-", seen.map { "\(Int($0.rounded()))s ago" } ?? "-"]
        }
    }

    /// Every worker any source knows, by name: liveness and counts from its events, then what its
    /// Redis heartbeat (Swift workers) and its pidbox `stats` answer add.
    static func workerRows(_ activity: ActivitySnapshot, _ sources: TopSources, now: Date) -> [WorkerRow] {
        var rows: [String: WorkerRow] = [:]
        for worker in activity.workers {
            var row = WorkerRow(hostname: worker.hostname)
            row.kind = worker.isConveyor.map { $0 ? "swift" : "python" } ?? "?"
            row.state = worker.state.rawValue
            row.active = worker.active
            row.processed = worker.processed
            row.load = worker.loadAverage
            row.seen = max(0, now.timeIntervalSince(worker.lastSeen))
            rows[worker.hostname] = row
        }
        for beat in sources.heartbeats {
            var row = rows[beat.hostname] ?? WorkerRow(hostname: beat.hostname, state: beat.state,
                                                       seen: max(0, now.timeIntervalSince(beat.sentAt)))
            row.kind = "swift"
            row.concurrency = beat.concurrency
            if row.active == nil { row.active = beat.active }
            rows[beat.hostname] = row
        }
        for node in sources.nodes {
            var row = rows[node.name] ?? WorkerRow(hostname: node.name, state: "online")
            if row.kind == "?" { row.kind = node.isConveyor ? "swift" : "python" }
            row.concurrency = row.concurrency ?? node.concurrency
            row.processed = row.processed ?? node.processed
            rows[node.name] = row
        }
        return rows.values.sorted { $0.hostname < $1.hostname }
    }

    /// `0.004s`, `12.3s`, `4m05s`.
    static func seconds(_ value: Double) -> String {
        guard value.isFinite, value >= 0 else { return "-" }
        if value < 1 { return String(format: "%.3fs", value) }
        if value < 60 { return String(format: "%.1fs", value) }
        let whole = Int(min(value, 1e12))
        return whole < 3600 ? String(format: "%dm%02ds", whole / 60, whole % 60) : String(format: "%dh%02dm", whole / 3600, whole % 3600 / 60)
    }

    /// `13:45:02`, local time.
    private static func clock(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss"
        return formatter.string(from: date)
    }
}
