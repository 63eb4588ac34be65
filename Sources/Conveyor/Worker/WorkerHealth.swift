import Foundation

/// What a worker writes to its health file (`WorkerOptions.healthFile`, `conveyor-worker
/// --health-file`) and `conveyor health` reads: whether it is connected and consuming, as the
/// worker itself sees it, without a round trip to the broker.
public struct WorkerHealth: Sendable, Equatable {
    /// The worker's overall state.
    public enum Status: String, Sendable {
        /// Connected to the broker and Redis, consuming its queues.
        case ok
        /// Alive but cut off from the broker or Redis (or not consuming yet): it runs no new tasks,
        /// or cannot store their results.
        case degraded
        /// Shutting down: it takes no new tasks.
        case stopping
    }

    /// What the facts below add up to (`status(stopping:broker:consuming:redis:)`).
    public var status: Status
    /// Whether the consumer's broker connection is up.
    public var broker: Bool
    /// Whether the worker consumes its queues.
    public var consuming: Bool
    /// Whether the result store (Redis) connection is up.
    public var redis: Bool
    /// When the worker wrote this.
    public var updatedAt: Date
    /// The worker's process id.
    public var pid: Int
    /// The worker's node name.
    public var hostname: String

    /// The status these facts add up to.
    public static func status(stopping: Bool, broker: Bool, consuming: Bool, redis: Bool) -> Status {
        stopping ? .stopping : broker && consuming && redis ? .ok : .degraded
    }

    /// - Parameters: every parameter is the field of the same name.
    public init(status: Status, broker: Bool, consuming: Bool, redis: Bool, updatedAt: Date, pid: Int, hostname: String) {
        self.status = status
        self.broker = broker
        self.consuming = consuming
        self.redis = redis
        self.updatedAt = updatedAt
        self.pid = pid
        self.hostname = hostname
    }

    /// The file's content.
    public var json: JSON {
        [
            "status": .string(status.rawValue), "broker": .bool(broker), "consuming": .bool(consuming), "redis": .bool(redis),
            "updated_at": .string(ISO8601.format(updatedAt)), "pid": .int(Int64(pid)), "hostname": .string(hostname),
        ]
    }

    /// Reads a health file's content; nil when a field is missing or of the wrong kind.
    public init?(json: JSON) {
        guard let status = json["status"]?.string.flatMap(Status.init(rawValue:)), let broker = json["broker"]?.bool,
              let consuming = json["consuming"]?.bool, let redis = json["redis"]?.bool,
              let updatedAt = json["updated_at"]?.string.flatMap(ISO8601.parse), let pid = json["pid"]?.int,
              let hostname = json["hostname"]?.string
        else { return nil }
        self.init(status: status, broker: broker, consuming: consuming, redis: redis, updatedAt: updatedAt,
                  pid: Int(clamping: pid), hostname: hostname)
    }
}
