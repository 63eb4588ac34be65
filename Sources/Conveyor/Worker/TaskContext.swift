import AMQP
import Foundation
import Logging

/// What a running task knows about itself, and what it may do (send child tasks, report
/// progress, notice cancellation).
public struct TaskContext: Sendable {
    public let id: String
    public let name: String
    public let args: [JSON]
    public let kwargs: JSONObject
    /// How many times this task has been retried before this run.
    public let retries: Int
    /// Headers beyond Celery's own, as sent.
    public let headers: FieldTable
    public let eta: Date?
    public let expires: Date?
    public let rootId: String
    public let parentId: String?
    public let queue: String
    /// The broker delivered this message before (a worker died or a connection dropped).
    public let redelivered: Bool
    /// The worker's node name.
    public let hostname: String
    /// A logger tagged with the task's id and name. Made when asked for (most tasks never log),
    /// so a body that logs in a loop should keep it in a local.
    public var logger: Logger {
        var logger = workerLogger
        logger[metadataKey: "task"] = .string(name)
        logger[metadataKey: "id"] = .string(id)
        return logger
    }
    let workerLogger: Logger
    let client: ConveyorClient
    /// Its subprocesses, and the reporter that throttles `progress(done:total:info:)` (one run,
    /// one reporter).
    let scope = RunScope()

    /// Positional argument `index`, or keyword argument `name`, decoded as `T`.
    ///
    /// Throws `TaskArgumentError` (Python `TypeError`) when missing or of the wrong type.
    public func argument<T: Decodable>(_ index: Int, _ keyword: String? = nil, as type: T.Type) throws -> T {
        let value: JSON
        if index < args.count {
            value = args[index]
        } else if let keyword, let named = kwargs[keyword] {
            value = named
        } else {
            throw TaskArgumentError("\(name)() missing required argument '\(keyword ?? "#\(index)")'")
        }
        do {
            return try value.decode(T.self)
        } catch {
            throw TaskArgumentError("\(name)() argument '\(keyword ?? "#\(index)")' must be \(T.self), got \(value.text(.compact))")
        }
    }

    /// Throws `CancellationError` once the task was cancelled (soft time limit, revoke,
    /// cold shutdown). Long loops should call it now and then.
    public func checkCancellation() throws {
        try Task.checkCancellation()
    }

    /// Whether the task was cancelled.
    public var isCancelled: Bool { Task.isCancelled }

    /// Sends a child task: its `parent_id` is this task, its `root_id` this task's root.
    public func send(taskNamed name: String, args: [JSON] = [], kwargs: JSONObject = [:], options: TaskOptions = .init()) async throws -> TaskHandle {
        var options = options
        options.parentId = options.parentId ?? id
        options.rootId = options.rootId ?? rootId
        return try await client.send(taskNamed: name, args: args, kwargs: kwargs, options: options)
    }

    /// Stores a custom state (e.g. `PROGRESS` with `{"current": 3, "total": 10}`) that
    /// `conveyor result` and Python's `AsyncResult.state`/`.info` show while the task runs.
    public func updateState(_ state: TaskState, meta: JSON) async throws {
        try await client.results.store(ResultMeta(taskId: id, status: state, result: meta, children: .null, parentId: parentId))
    }
}
