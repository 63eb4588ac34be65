import AMQP
import Foundation
import Redis

/// Where the broker and the result store are, and the defaults every client and worker shares.
///
/// `fromEnvironment()` reads `CONVEYOR_BROKER_URL` (comma-separated = failover list) and
/// `CONVEYOR_RESULT_URL`; flags of the command-line tools override both.
///
/// Every field is a public `var`, so the numbers are checked where the configuration is used:
/// `validate()`, which `ConveyorClient.init` and `Worker.init` call, refuses any outside the
/// range its documentation gives.
public struct ConveyorConfiguration: Sendable {
    /// The default broker URL.
    public static let defaultBrokerURL = "amqp://guest:guest@127.0.0.1:5672/%2F"
    /// The default result-store URL.
    public static let defaultResultURL = "redis://127.0.0.1:6379/0"

    /// One or more `amqp://`/`amqps://` URLs separated by commas.
    public var brokerURL: String
    /// A `redis://` URL.
    public var resultURL: String
    /// The queue tasks go to when none is named (Celery's `task_default_queue`).
    public var defaultQueue: String
    /// How work queues are declared; must match what Python clients declare.
    public var queueType: QueueType
    /// `x-max-priority` for classic work queues (Celery's `task_queue_max_priority`), in
    /// `WorkQueue.maxPriorities` (1…255), or nil.
    public var maxPriority: Int?
    /// How long results live in Redis, seconds (Celery's `result_expires`), in
    /// `ConveyorConfiguration.ttls`; nil keeps them.
    public var resultTTL: Int?
    /// Declare a queue the first time a task is sent to it (Celery's `task_create_missing_queues`).
    /// When false, sending to a queue that does not exist fails with `unroutable`.
    public var createMissingQueues: Bool
    /// How long an enqueue may wait for the broker's confirm, reconnects included, seconds, in
    /// `ConveyorConfiguration.timeouts`.
    public var publishTimeout: Double
    /// How long to wait for the first connection before reporting the server down, seconds, in
    /// `ConveyorConfiguration.timeouts`.
    public var connectTimeout: Double
    /// Largest task body a worker accepts, bytes (1 or more); bigger ones are dead-lettered unread.
    public var maxMessageSize: Int
    /// An environment setting that could not be read (a typo must not silently fall back to the
    /// default); `validate()` reports it.
    var environmentProblem: String?

    /// Lifetimes accepted for what Conveyor keeps in Redis (results, revokes, run counts),
    /// seconds: at least 1 (Redis deletes a key set to expire in 0), at most a century.
    public static let ttls = 1...3_155_760_000
    /// Timeouts accepted, seconds: above 0, at most a day.
    public static let timeouts = 0.001...86_400.0

    /// Every parameter is the field of the same name; `validate()` checks their ranges.
    public init(brokerURL: String = ConveyorConfiguration.defaultBrokerURL, resultURL: String = ConveyorConfiguration.defaultResultURL,
                defaultQueue: String = "celery", queueType: QueueType = .classic, maxPriority: Int? = nil, resultTTL: Int? = 86_400,
                createMissingQueues: Bool = true, publishTimeout: Double = 30, connectTimeout: Double = 10,
                maxMessageSize: Int = 16 << 20) {
        self.brokerURL = brokerURL
        self.resultURL = resultURL
        self.defaultQueue = defaultQueue
        self.queueType = queueType
        self.maxPriority = maxPriority
        self.resultTTL = resultTTL
        self.createMissingQueues = createMissingQueues
        self.publishTimeout = publishTimeout
        self.connectTimeout = connectTimeout
        self.maxMessageSize = maxMessageSize
    }

    /// Defaults overridden by `CONVEYOR_BROKER_URL`, `CONVEYOR_RESULT_URL`,
    /// `CONVEYOR_DEFAULT_QUEUE`, `CONVEYOR_QUEUE_TYPE`, `CONVEYOR_RESULT_EXPIRES` (whole
    /// seconds results live in Redis, Celery's `result_expires`, in `ttls`; 0 keeps them) and
    /// `CONVEYOR_QUEUE_MAX_PRIORITY` (`x-max-priority` of work queues, Celery's
    /// `task_queue_max_priority`, 1…255) when set. A value that cannot be read is kept for `validate()` to report, naming it.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> ConveyorConfiguration {
        var configuration = ConveyorConfiguration()
        if let url = environment["CONVEYOR_BROKER_URL"], !url.isEmpty { configuration.brokerURL = url }
        if let url = environment["CONVEYOR_RESULT_URL"], !url.isEmpty { configuration.resultURL = url }
        if let queue = environment["CONVEYOR_DEFAULT_QUEUE"], !queue.isEmpty { configuration.defaultQueue = queue }
        if let type = environment["CONVEYOR_QUEUE_TYPE"], !type.isEmpty {
            if let parsed = QueueType(rawValue: type) {
                configuration.queueType = parsed
            } else {
                configuration.environmentProblem = "CONVEYOR_QUEUE_TYPE must be classic or quorum, not '\(type)'"
            }
        }
        if let text = environment["CONVEYOR_RESULT_EXPIRES"], !text.isEmpty {
            if let seconds = Int(text.trimmingCharacters(in: .whitespaces)), seconds == 0 || ttls.contains(seconds) {
                configuration.resultTTL = seconds == 0 ? nil : seconds
            } else {
                configuration.environmentProblem =
                    "CONVEYOR_RESULT_EXPIRES must be whole seconds in 1...\(ttls.upperBound) (0 keeps results), not '\(text)'"
            }
        }
        if let text = environment["CONVEYOR_QUEUE_MAX_PRIORITY"], !text.isEmpty {
            if let priority = Int(text.trimmingCharacters(in: .whitespaces)), WorkQueue.maxPriorities.contains(priority) {
                configuration.maxPriority = priority
            } else {
                configuration.environmentProblem = "CONVEYOR_QUEUE_MAX_PRIORITY must be a whole number in 1...255, not '\(text)'"
            }
        }
        return configuration
    }

    /// The broker failover list; throws `invalidConfiguration` with the reason.
    public func brokerEndpoints() throws -> [AMQPEndpoint] {
        do {
            return try AMQPEndpoint.list(brokerURL)
        } catch let error as AMQPError {
            throw ConveyorError(.invalidConfiguration, error.message)
        }
    }

    /// `brokerURL` with every password masked, parseable or not (for messages and status lines).
    public var redactedBrokerURL: String { AMQPEndpoint.redact(brokerURL) }

    /// `resultURL` with every password masked, parseable or not (a sentinel list address by address).
    public var redactedResultURL: String { RedisEndpoint.redact(resultURL) }

    /// The result store; throws `invalidConfiguration` with the reason.
    public func resultEndpoint() throws -> RedisEndpoint {
        do {
            return try RedisEndpoint(url: resultURL)
        } catch let error as RedisError {
            throw ConveyorError(.invalidConfiguration, error.message)
        }
    }

    /// Checks everything that can be checked without connecting: the environment, the URLs, the
    /// default queue's name and every number against the range its field documents.
    /// - Throws: `ConveyorError.Code.invalidConfiguration` naming the setting.
    public func validate() throws {
        func refuse(_ why: String) -> ConveyorError { ConveyorError(.invalidConfiguration, why) }
        if let environmentProblem { throw refuse(environmentProblem) }
        if let resultTTL, !Self.ttls.contains(resultTTL) {
            throw refuse("resultTTL must be seconds in 1...\(Self.ttls.upperBound) (nil keeps results), not \(resultTTL)")
        }
        if let maxPriority, !WorkQueue.maxPriorities.contains(maxPriority) {
            throw refuse("maxPriority must be in 1...255, not \(maxPriority)")
        }
        guard Self.timeouts.contains(publishTimeout) else { throw refuse("publishTimeout must be seconds in 0.001...86400, not \(publishTimeout)") }
        guard Self.timeouts.contains(connectTimeout) else { throw refuse("connectTimeout must be seconds in 0.001...86400, not \(connectTimeout)") }
        guard maxMessageSize >= 1 else { throw refuse("maxMessageSize must be at least 1 byte, not \(maxMessageSize)") }
        _ = try brokerEndpoints()
        _ = try resultEndpoint()
        try WorkQueue.validate(name: defaultQueue)
    }
}

/// How work queues are declared on RabbitMQ.
public enum QueueType: String, Sendable, Hashable, CaseIterable {
    /// Classic durable queues (Celery's default).
    case classic
    /// Replicated quorum queues (`x-queue-type: quorum`).
    case quorum
}
