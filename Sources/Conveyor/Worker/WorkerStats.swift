import Foundation
import Synchronization

/// Counters a worker keeps about itself, published in its heartbeat.
final class WorkerStats: Sendable {
    struct Snapshot: Sendable {
        var succeeded = 0
        var failed = 0
        var revoked = 0
        var deadLettered = 0
        var duplicatesSkipped = 0
        var requeued = 0
        var delayed = 0
        var retried = 0
        /// Runs sent to run again later without counting a retry (`TaskDeferral`).
        var deferred = 0
        /// Deferrals by reason (`rate-limit`, `lock`, …).
        var deferredByReason: [String: Int] = [:]
        var byTask: [String: Int] = [:]
    }
    private let counters = Mutex(Snapshot())
    let startedAt = Date()

    func record(_ keyPath: WritableKeyPath<Snapshot, Int>, task: String? = nil) {
        counters.withLock { s in
            s[keyPath: keyPath] += 1
            if let task { s.byTask[task, default: 0] += 1 }
        }
    }

    /// Counts one event for each of `tasks` (a batch), under one lock.
    func record(_ keyPath: WritableKeyPath<Snapshot, Int>, tasks: some Sequence<String>) {
        counters.withLock { s in
            for task in tasks {
                s[keyPath: keyPath] += 1
                s.byTask[task, default: 0] += 1
            }
        }
    }

    /// Counts a deferral under its reason (capped: reasons are few and short by convention,
    /// and a body may pass anything).
    func recordDeferral(reason: String, task: String) {
        let key = reason.cappedUTF8(64)
        counters.withLock { s in
            s.deferred += 1
            if s.deferredByReason[key] != nil || s.deferredByReason.count < 32 { s.deferredByReason[key, default: 0] += 1 }
        }
    }

    var snapshot: Snapshot { counters.withLock { $0 } }
}

/// What a worker publishes about itself in Redis (`conveyor:worker:<hostname>`), for
/// `conveyor status`.
public struct WorkerHeartbeat: Sendable {
    public var hostname: String
    public var pid: Int
    public var queues: [String]
    public var concurrency: Int
    public var active: Int
    public var succeeded: Int
    public var failed: Int
    public var deadLettered: Int
    /// Runs deferred without counting a retry, by reason (`rate-limit`, `lock`, …).
    public var deferred: [String: Int]
    public var startedAt: Date
    public var sentAt: Date
    public var state: String
    public var tasks: [String]

    /// The Redis key of a worker's heartbeat.
    public static func key(_ hostname: String) -> String { "conveyor:worker:" + hostname }
    /// The set of worker names that have sent heartbeats.
    public static let registryKey = "conveyor:workers"
    /// The set of queues workers and clients have declared.
    public static let queuesKey = "conveyor:queues"

    var json: JSON {
        [
            "hostname": .string(hostname), "pid": .int(Int64(pid)), "queues": .array(queues.map(JSON.string)),
            "concurrency": .int(Int64(concurrency)), "active": .int(Int64(active)), "succeeded": .int(Int64(succeeded)),
            "failed": .int(Int64(failed)), "dead_lettered": .int(Int64(deadLettered)),
            "deferred": .object(JSONObject(deferred.sorted { $0.key < $1.key }.map { (key: $0.key, value: JSON.int(Int64($0.value))) })),
            "started_at": .string(ISO8601.format(startedAt)), "sent_at": .string(ISO8601.format(sentAt)),
            "state": .string(state), "tasks": .array(tasks.map(JSON.string)),
        ]
    }

    init(hostname: String, pid: Int, queues: [String], concurrency: Int, active: Int, succeeded: Int, failed: Int,
         deadLettered: Int, deferred: [String: Int], startedAt: Date, sentAt: Date, state: String, tasks: [String]) {
        self.hostname = hostname
        self.pid = pid
        self.queues = queues
        self.concurrency = concurrency
        self.active = active
        self.succeeded = succeeded
        self.failed = failed
        self.deadLettered = deadLettered
        self.deferred = deferred
        self.startedAt = startedAt
        self.sentAt = sentAt
        self.state = state
        self.tasks = tasks
    }

    /// Reads a stored heartbeat.
    public init?(json: JSON) {
        guard let hostname = json["hostname"]?.string else { return nil }
        self.hostname = hostname
        pid = Int(json["pid"]?.int ?? 0)
        queues = json["queues"]?.array?.compactMap(\.string) ?? []
        concurrency = Int(json["concurrency"]?.int ?? 0)
        active = Int(json["active"]?.int ?? 0)
        succeeded = Int(json["succeeded"]?.int ?? 0)
        failed = Int(json["failed"]?.int ?? 0)
        deadLettered = Int(json["dead_lettered"]?.int ?? 0)
        var deferred: [String: Int] = [:]
        for (reason, count) in json["deferred"]?.object ?? [:] { if let count = count.int { deferred[reason] = Int(count) } }
        self.deferred = deferred
        startedAt = json["started_at"]?.string.flatMap(ISO8601.parse) ?? Date(timeIntervalSince1970: 0)
        sentAt = json["sent_at"]?.string.flatMap(ISO8601.parse) ?? Date(timeIntervalSince1970: 0)
        state = json["state"]?.string ?? "unknown"
        tasks = json["tasks"]?.array?.compactMap(\.string) ?? []
    }
}
