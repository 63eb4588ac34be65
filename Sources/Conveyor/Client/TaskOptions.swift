import AMQP
import Foundation

/// How to send one task. Every field is optional; unset ones take Celery's defaults.
public struct TaskOptions: Sendable {
    /// The queue; the configuration's default queue when nil.
    public var queue: String?
    /// Run no sooner than this many seconds from now (through the broker's delay cascade):
    /// 0 up to `DelayedDelivery.maxDelay` (about 8.5 years).
    public var countdown: Double?
    /// Run no sooner than this time (overrides `countdown`): at most `DelayedDelivery.maxDelay`
    /// seconds ahead, and in the years 1…9999 (`ISO8601.isRepresentable`).
    public var eta: Date?
    /// Discard (store REVOKED) if not started within this many seconds from now: a finite
    /// number (0 or less means already expired) whose end lies in the years 1…9999.
    public var expiresIn: Double?
    /// Discard if not started by this time (overrides `expiresIn`): in the years 1…9999.
    public var expiresAt: Date?
    /// Hard time limit, seconds (finite, above 0): the worker stops waiting and records
    /// TimeLimitExceeded.
    public var timeLimit: Double?
    /// Soft time limit, seconds (finite, above 0): the task is cancelled cooperatively.
    public var softTimeLimit: Double?
    /// Do not store the result.
    public var ignoreResult: Bool
    /// Extra AMQP headers, visible to the task. No NaN or infinite floats: RabbitMQ cannot
    /// deliver them.
    public var headers: FieldTable
    /// Message priority (only on queues declared with a max priority).
    public var priority: UInt8?
    /// Use this task id instead of a new UUID.
    public var taskId: String?
    /// Tasks to run with the result on success (Celery `link`).
    public var link: [Signature]
    /// Tasks to run with the task id on failure (Celery `link_error`).
    public var linkError: [Signature]
    /// An alias for logs and monitors (Celery `shadow`).
    public var shadow: String?
    /// Workflow ids; set for child tasks.
    public var parentId: String?
    public var rootId: String?
    /// Send only if no task with the same unique key is pending or running; otherwise `send`
    /// returns that task's handle (see `Uniqueness`). Not with `send(batch:)`.
    public var unique: Uniqueness?
    /// The unique key (1 to 512 bytes); derived from the task name and arguments when nil.
    public var uniqueKey: String?

    public init(queue: String? = nil, countdown: Double? = nil, eta: Date? = nil, expiresIn: Double? = nil, expiresAt: Date? = nil,
                timeLimit: Double? = nil, softTimeLimit: Double? = nil, ignoreResult: Bool = false, headers: FieldTable = [:],
                priority: UInt8? = nil, taskId: String? = nil, link: [Signature] = [], linkError: [Signature] = [],
                shadow: String? = nil, parentId: String? = nil, rootId: String? = nil, unique: Uniqueness? = nil,
                uniqueKey: String? = nil) {
        self.queue = queue
        self.countdown = countdown
        self.eta = eta
        self.expiresIn = expiresIn
        self.expiresAt = expiresAt
        self.timeLimit = timeLimit
        self.softTimeLimit = softTimeLimit
        self.ignoreResult = ignoreResult
        self.headers = headers
        self.priority = priority
        self.taskId = taskId
        self.link = link
        self.linkError = linkError
        self.shadow = shadow
        self.parentId = parentId
        self.rootId = rootId
        self.unique = unique
        self.uniqueKey = uniqueKey
    }

    /// Builds the protocol v2 message for `task`, as Celery's `send_task` would.
    /// - Throws: `ConveyorError.Code.invalidArguments` when a number or date is out of the
    ///   range its property documents (the options are public `var`s: checked here, when used).
    func message(task: String, args: [JSON], kwargs: JSONObject, now: Date = Date()) throws -> TaskMessage {
        var message = TaskMessage(id: taskId ?? TaskID.make(), task: task, args: args, kwargs: kwargs)
        func refuse(_ why: String) -> ConveyorError { ConveyorError(.invalidArguments, why) }
        if let timeLimit, !(timeLimit.isFinite && timeLimit > 0) { throw refuse("timeLimit must be a finite number of seconds above 0, not \(timeLimit)") }
        if let softTimeLimit, !(softTimeLimit.isFinite && softTimeLimit > 0) {
            throw refuse("softTimeLimit must be a finite number of seconds above 0, not \(softTimeLimit)")
        }
        if let header = TaskMessage.nonFiniteHeader(in: headers) {
            throw refuse("header '\(header)' holds a NaN or infinite number, which RabbitMQ cannot deliver")
        }
        if let countdown, !(0...Double(DelayedDelivery.maxDelay)).contains(countdown) {
            throw refuse("countdown must be seconds in 0...\(DelayedDelivery.maxDelay) (the delay cascade's reach), not \(countdown)")
        }
        if let eta, !ISO8601.isRepresentable(eta) { throw refuse("eta must lie in the years 1...9999, not \(eta.timeIntervalSince1970) s since 1970") }
        message.eta = eta ?? countdown.flatMap { $0 > 0 ? now.addingTimeInterval($0) : nil }
        if let eta = message.eta, eta.timeIntervalSince(now) > Double(DelayedDelivery.maxDelay) {
            throw refuse("ETA is further away than the delay cascade allows (\(DelayedDelivery.maxDelay) s)")
        }
        if let expiresIn, !expiresIn.isFinite { throw refuse("expiresIn must be a finite number of seconds, not \(expiresIn)") }
        let expires = expiresAt ?? expiresIn.map { now.addingTimeInterval($0) }
        if let expires {
            guard ISO8601.isRepresentable(expires) else {
                throw refuse("expiry must lie in the years 1...9999, not \(expires.timeIntervalSince1970) s since 1970")
            }
            message.expires = expires
            // AMQP per-message TTL as well, as Celery does; never negative. In the years 1…9999
            // the milliseconds fit an Int.
            let milliseconds = max(0, Int((expires.timeIntervalSince(now) * 1000).rounded(.down)))
            message.expiration = String(milliseconds)
        }
        message.timeLimit = timeLimit
        message.softTimeLimit = softTimeLimit
        message.ignoreResult = ignoreResult
        message.extraHeaders = headers
        message.priority = priority
        message.shadow = shadow
        message.parentId = parentId
        message.rootId = rootId
        if !link.isEmpty { message.callbacks = link }
        if !linkError.isEmpty { message.errbacks = linkError }
        return message
    }
}
