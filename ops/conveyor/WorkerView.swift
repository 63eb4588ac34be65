import Conveyor
import Foundation

/// How `conveyor status` shows a worker.
enum WorkerView {
    static func json(_ beat: WorkerHeartbeat) -> JSON {
        [
            "hostname": .string(beat.hostname), "pid": .int(Int64(beat.pid)), "state": .string(beat.state),
            "queues": .array(beat.queues.map(JSON.string)), "active": .int(Int64(beat.active)),
            "concurrency": .int(Int64(beat.concurrency)), "succeeded": .int(Int64(beat.succeeded)),
            "failed": .int(Int64(beat.failed)), "dead_lettered": .int(Int64(beat.deadLettered)),
            "deferred": .object(JSONObject(beat.deferred.sorted { $0.key < $1.key }.map { (key: $0.key, value: JSON.int(Int64($0.value))) })),
            "uptime_seconds": .int(Int64(Date().timeIntervalSince(beat.startedAt))),
            "last_heartbeat_seconds_ago": .double((Date().timeIntervalSince(beat.sentAt) * 10).rounded() / 10),
        ]
    }

    /// One line; the counters are as of the last heartbeat (within half a second of a change, every 5 s
    /// when idle), whose age ends the line.
    static func line(_ beat: WorkerHeartbeat) -> String {
        let uptime = Int(Date().timeIntervalSince(beat.startedAt))
        let age = max(0, Date().timeIntervalSince(beat.sentAt))
        return "\(beat.hostname)  \(beat.state)  pid=\(beat.pid)  queues=\(beat.queues.joined(separator: ","))  "
            + "active=\(beat.active)/\(beat.concurrency)  succeeded=\(beat.succeeded)  failed=\(beat.failed)  "
            + "dead=\(beat.deadLettered)  " + deferredText(beat.deferred) + "up=\(uptime)s  as of \(Int(age.rounded()))s ago"
    }

    /// A Python Celery worker, from its pidbox `stats` reply.
    static func json(_ node: CeleryNode) -> JSON {
        [
            "hostname": .string(node.name), "kind": "python", "pid": node.pid.map { .int(Int64($0)) } ?? .null,
            "concurrency": node.concurrency.map { .int(Int64($0)) } ?? .null, "processed": .int(Int64(node.processed)),
            "uptime_seconds": node.uptimeSeconds.map { .int(Int64($0)) } ?? .null,
        ]
    }

    /// One line for a Python Celery worker, marked as such.
    static func line(_ node: CeleryNode) -> String {
        "\(node.name)  online (python)  pid=\(node.pid.map(String.init) ?? "?")  concurrency=\(node.concurrency.map(String.init) ?? "?")  "
            + "processed=\(node.processed)  up=\(node.uptimeSeconds.map(String.init) ?? "?")s"
    }

    /// `deferred=12 (rate-limit 10, lock 2)  `, or nothing when no run was deferred.
    private static func deferredText(_ deferred: [String: Int]) -> String {
        let total = deferred.values.reduce(0, +)
        guard total > 0 else { return "" }
        let parts = deferred.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        return "deferred=\(total) (\(parts.joined(separator: ", ")))  "
    }
}
