import AMQP
import Foundation
import IOSupport
import Logging
import Redis
import Synchronization

/// Enqueues tasks to RabbitMQ in Celery's wire format and reads their results from Redis.
///
/// `send` returns only after the broker confirmed the message. One client holds one publisher
/// connection, one Redis connection and, once you wait for a result, one shared pub/sub
/// connection; share it across the process.
///
/// ```swift
/// let client = try ConveyorClient()
/// let handle = try await client.send(taskNamed: "conveyor.add", args: [2, 3])
/// let sum = try await handle.get(timeout: 10)   // 5
/// ```
public final class ConveyorClient: Sendable {
    public let configuration: ConveyorConfiguration
    let publisher: TaskPublisher
    let redis: RedisConnection
    /// Task states in Redis.
    public let results: ResultStore
    private let waiter: ResultWaiter
    private let logger: Logger

    /// - Parameters:
    ///   - configuration: where the broker and Redis are; defaults to the environment.
    ///   - name: shown as the connection name on the broker.
    public convenience init(configuration: ConveyorConfiguration = .fromEnvironment(), name: String = "conveyor-client",
                            logger: Logger = Logger(label: "conveyor.client")) throws {
        try self.init(configuration: configuration, name: name, logger: logger, redisHost: nil)
    }

    /// - Parameter redisHost: steps the Redis connection instead of a thread of its own (a
    ///   worker's loop).
    init(configuration: ConveyorConfiguration, name: String, logger: Logger, redisHost: (any IOHost)?) throws {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        publisher = try TaskPublisher(configuration: configuration, name: name, logger: logger)
        let endpoint = try configuration.resultEndpoint()
        redis = try RedisConnection(configuration: .init(endpoint: endpoint, name: name, queueTimeout: configuration.connectTimeout),
                                    logger: logger, host: redisHost)
        results = ResultStore(redis: redis, ttl: configuration.resultTTL)
        waiter = ResultWaiter(store: results, endpoint: endpoint, logger: logger)
    }

    /// Connects to the broker and Redis now, throwing `brokerUnavailable` or
    /// `backendUnavailable` with the reason instead of waiting on the first send.
    /// - Parameter timeout: seconds, 0 or more (infinity waits as long as a sleep can, a
    ///   century; NaN or negative throws `invalidArguments`); the configuration's when nil.
    public func connect(timeout: Double? = nil) async throws {
        let timeout = try Self.checkedWait(timeout ?? configuration.connectTimeout, "connect timeout")
        try await publisher.connect(timeout: timeout)
        try await pingBackend(timeout: timeout)
    }

    /// Connects to the broker only, for what needs nothing from Redis (purging a queue, reading
    /// dead letters, sending without waiting), so it works while Redis is down.
    /// - Parameter timeout: as for `connect(timeout:)`.
    public func connectBroker(timeout: Double? = nil) async throws {
        try await publisher.connect(timeout: try Self.checkedWait(timeout ?? configuration.connectTimeout, "connect timeout"))
    }

    /// Checks the result store answers.
    /// - Parameter timeout: seconds, 0 or more, as for `connect(timeout:)`.
    public func pingBackend(timeout: Double) async throws {
        let timeout = try Self.checkedWait(timeout, "ping timeout")
        do {
            try await redis.ping(timeout: timeout)
        } catch let error as RedisError {
            throw ConveyorError(.backendUnavailable, "result store unavailable: \(error.message)")
        }
    }

    /// Sends a task by name with JSON arguments.
    public func send(taskNamed name: String, args: [JSON] = [], kwargs: JSONObject = [:], options: TaskOptions = .init()) async throws -> TaskHandle {
        let message = try options.message(task: name, args: args, kwargs: kwargs)
        if let unique = options.unique {
            return try await sendUnique(message, queue: options.queue ?? configuration.defaultQueue, options: options, unique: unique)
        }
        try await publish(message, queue: options.queue ?? configuration.defaultQueue)
        return TaskHandle(id: message.id, client: self)
    }

    /// Sends a typed task; its arguments travel as kwargs.
    public func enqueue<T: TaskDefinition>(_ task: T.Type, _ arguments: T.Arguments, options: TaskOptions = .init()) async throws -> TypedTaskHandle<T.Output> {
        let json: JSON
        do {
            json = try JSON(encoding: arguments)
        } catch {
            throw ConveyorError(.invalidArguments, "cannot encode arguments of \(T.name): \(error)")
        }
        guard case let .object(kwargs) = json else {
            throw ConveyorError(.invalidArguments, "arguments of \(T.name) must encode as a JSON object (they travel as kwargs)")
        }
        return TypedTaskHandle(handle: try await send(taskNamed: T.name, kwargs: kwargs, options: options))
    }

    /// One task of a batch.
    public struct Request: Sendable {
        public var name: String
        public var args: [JSON]
        public var kwargs: JSONObject
        public var options: TaskOptions

        public init(name: String, args: [JSON] = [], kwargs: JSONObject = [:], options: TaskOptions = .init()) {
            self.name = name
            self.args = args
            self.kwargs = kwargs
            self.options = options
        }
    }

    /// Sends many tasks at once, pipelined under one confirm window: far faster than awaiting
    /// `send` one by one. Each outcome comes back in order; a failure of one does not stop the rest.
    /// Cancelling the caller returns at once: tasks not yet confirmed fail with `outcomeUnknown`
    /// (they may still arrive), confirmed ones keep their handles.
    public func send(batch requests: [Request]) async -> [Result<TaskHandle, ConveyorError>] {
        var prepared: [(TaskMessage, String)] = []
        var early: [Int: ConveyorError] = [:]
        for (index, request) in requests.enumerated() {
            if request.options.unique != nil {
                early[index] = ConveyorError(.invalidArguments, "unique tasks are sent one at a time with send(taskNamed:), not in a batch")
                continue
            }
            do {
                prepared.append((try request.options.message(task: request.name, args: request.args, kwargs: request.kwargs),
                                 request.options.queue ?? configuration.defaultQueue))
            } catch {
                early[index] = error as? ConveyorError ?? ConveyorError(.invalidArguments, "\(error)")
            }
        }
        let outcomes = await publisher.publish(batch: prepared)
        var results: [Result<TaskHandle, ConveyorError>] = []
        results.reserveCapacity(requests.count)
        var next = 0
        for index in requests.indices {
            if let error = early[index] {
                results.append(.failure(error))
            } else {
                let id = prepared[next].0.id
                results.append(outcomes[next].map { TaskHandle(id: id, client: self) })
                next += 1
            }
        }
        return results
    }

    /// Publishes a fully built message (for workers dispatching links, chains and retries).
    /// - Throws: `invalidArguments` when its numbers are out of range (an `eta` past the year
    ///   9999, a NaN time limit or header), before anything is sent.
    public func publish(_ message: TaskMessage, queue: String) async throws {
        try message.checkNumbers()
        try await publisher.publish(message, queue: queue)
    }

    /// The task's current state (PENDING when nothing is stored).
    public func result(for taskId: String) async throws -> TaskResult {
        do {
            return TaskResult(id: taskId, meta: try await results.meta(for: taskId))
        } catch let error as RedisError {
            throw ConveyorError(.backendUnavailable, "result store unavailable: \(error.message)")
        }
    }

    /// The current states of many tasks at once (one `MGET` per 1,000 ids).
    public func results(for taskIds: [String]) async throws -> [TaskResult] {
        var out: [TaskResult] = []
        out.reserveCapacity(taskIds.count)
        do {
            for start in stride(from: 0, to: taskIds.count, by: 1000) {
                let chunk = Array(taskIds[start..<min(start + 1000, taskIds.count)])
                let reply = try await redis.send(["MGET"] + chunk.map(ResultMeta.key(for:)))
                let values = reply.array ?? []
                for (index, id) in chunk.enumerated() {
                    let meta = index < values.count ? values[index].bytes.flatMap(ResultMeta.init(bytes:)) : nil
                    out.append(TaskResult(id: id, meta: meta))
                }
            }
        } catch let error as RedisError {
            throw ConveyorError(.backendUnavailable, "result store unavailable: \(error.message)")
        }
        return out
    }

    /// Sends a task and waits for its result in one go (what `delay().get()` does in Celery).
    ///
    /// The wait starts together with the publish, and a result that arrives before the broker's
    /// confirm is returned at once: a stored result proves the message was enqueued. If the
    /// publish fails instead (unroutable, broker down), that error is thrown.
    public func call(taskNamed name: String, args: [JSON] = [], kwargs: JSONObject = [:], options: TaskOptions = .init(),
                     timeout: Double) async throws -> TaskResult {
        let timeout = try Self.checkedWait(timeout, "result timeout")
        if options.unique != nil {
            // The handle may be another task's (the one holding the key): wait for that one.
            return try await send(taskNamed: name, args: args, kwargs: kwargs, options: options).wait(timeout: timeout)
        }
        let message = try options.message(task: name, args: args, kwargs: kwargs)
        let queue = options.queue ?? configuration.defaultQueue
        let race = FirstOutcome<TaskResult, Error>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<TaskResult, Error>) in
                race.attach(continuation)
                let waiting = Task { race.settle(await Result { try await self.wait(for: message.id, timeout: timeout) }) }
                race.onSettle { waiting.cancel() }
                Task {
                    do {
                        try await self.publish(message, queue: queue)
                    } catch {
                        race.settle(.failure(error))
                    }
                }
            }
        } onCancel: {
            race.settle(.failure(CancellationError()))
        }
    }

    /// Waits until the task is ready (SUCCESS, FAILURE or REVOKED); throws `timeout`.
    /// - Parameter timeout: seconds, 0 or more, as for `connect(timeout:)`.
    public func wait(for taskId: String, timeout: Double) async throws -> TaskResult {
        TaskResult(id: taskId, meta: try await waiter.wait(for: taskId, timeout: try Self.checkedWait(timeout, "result timeout")))
    }

    /// A wait a caller asked for: 0 or more seconds. Infinity is kept (sleeps clamp it to a
    /// century); NaN and negatives are refused rather than read as "no wait".
    static func checkedWait(_ seconds: Double, _ name: String) throws -> Double {
        guard seconds >= 0 else { throw ConveyorError(.invalidArguments, "\(name) must be seconds of 0 or more, not \(seconds)") }
        return seconds
    }

    /// Revokes tasks: workers will not run them (the mark lives in Redis for `ttl` seconds, so
    /// it survives worker restarts), and they are stored as REVOKED now unless already
    /// successful. With `terminate`, workers running them cancel them (and SIGTERM their
    /// subprocesses).
    /// - Parameter ttl: seconds the mark lives, in `ConveyorConfiguration.ttls`; the result
    ///   TTL (or a day) when nil.
    public func revoke(_ taskIds: [String], terminate: Bool = false, ttl: Int? = nil) async throws {
        if let ttl, !ConveyorConfiguration.ttls.contains(ttl) {
            throw ConveyorError(.invalidArguments, "revoke ttl must be seconds in 1...\(ConveyorConfiguration.ttls.upperBound), not \(ttl)")
        }
        do {
            try await results.revoke(taskIds, ttl: ttl ?? configuration.resultTTL ?? 86_400)
            let info = ExceptionInfo.revoked(terminate ? "terminated" : "revoked")
            for id in taskIds {
                try await results.store(ResultMeta(taskId: id, status: .revoked, result: info.json, children: .null, dateDone: Date()))
            }
            if terminate {
                let command: JSON = ["revoke": .array(taskIds.map(JSON.string)), "terminate": true]
                _ = try await redis.send(["PUBLISH", Keys.control, command.text(.compact)])
            }
        } catch let error as RedisError {
            throw ConveyorError(.backendUnavailable, "result store unavailable: \(error.message)")
        }
    }

    /// Declares a work queue now (normally done on first send).
    public func declare(queue: String) async throws {
        try await publisher.ensure(queue: queue)
    }

    /// The publishing AMQP connection, for tools that need raw broker access (inspect, purge).
    public var brokerConnection: AMQPConnection { publisher.connection }

    /// Closes every connection; unconfirmed sends fail with `closed`.
    public func close() async {
        await publisher.connection.close()
        await waiter.close()
        await redis.close()
    }
}
