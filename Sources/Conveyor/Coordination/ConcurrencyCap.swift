import Redis

/// At most `limit` runs of a task at once across the whole fleet, or at most `limit` per value
/// of one of its arguments (e.g. one indexer per repository).
///
/// Each run holds a lease in a Redis sorted set (scored by when it ends, on Redis' clock),
/// renewed while it runs and removed when it ends, so a killed worker's lease ends by itself
/// after `lease`. A run that finds the cap full is deferred (`TaskDeferral`, reason
/// `concurrency`): it waits in the broker's delay cascade, PENDING, not in a worker slot.
///
/// ```swift
/// registry.register("repos.index", defaults: TaskDefaults(concurrencyCap: .init(limit: 1, perArgument: "repository"))) { … }
/// ```
public struct ConcurrencyCap: Sendable, Hashable {
    /// Runs allowed at once: 1 or more.
    public var limit: Int
    /// A keyword argument whose value gets its own cap (nil: one cap for the task).
    public var perArgument: String?
    /// Where the same argument sits when sent positionally (Celery callers may pass either way).
    public var position: Int?
    /// How long a lease lasts without renewal: how long a killed worker's slot stays taken.
    /// Renewed every third of it. 1 ms to 30 days.
    public var lease: Duration
    /// Seconds a run that found the cap full waits before trying again (finite, 0 or more).
    public var retryAfter: Double

    /// - Parameters:
    ///   - limit: runs allowed at once, 1 or more.
    ///   - perArgument: keyword argument to cap per value; nil caps the task as a whole.
    ///   - position: the same argument's index when sent positionally.
    ///   - lease: 1 ms to 30 days (60 s by default).
    ///   - retryAfter: deferral when full, seconds (1 by default).
    public init(limit: Int, perArgument: String? = nil, position: Int? = nil, lease: Duration = .seconds(60), retryAfter: Double = 1) {
        self.limit = limit
        self.perArgument = perArgument
        self.position = position
        self.lease = lease
        self.retryAfter = retryAfter
    }

    /// Checks the numbers (`Worker.init` calls it through `TaskRegistry.validate`).
    /// - Throws: `ConveyorError.Code.invalidConfiguration` naming `task` and the value.
    func validate(task: String) throws {
        func refuse(_ why: String) -> ConveyorError { ConveyorError(.invalidConfiguration, "concurrencyCap of task \(task): \(why)") }
        guard limit >= 1 else { throw refuse("limit must be 1 or more, not \(limit)") }
        if let position, position < 0 { throw refuse("position must be 0 or more, not \(position)") }
        if let perArgument, perArgument.isEmpty { throw refuse("perArgument must not be empty") }
        guard retryAfter.isFinite, retryAfter >= 0, retryAfter <= Double(DelayedDelivery.maxDelay) else {
            throw refuse("retryAfter must be finite seconds in 0...\(DelayedDelivery.maxDelay), not \(retryAfter)")
        }
        do {
            _ = try CoordinationInput.milliseconds(lease, "lease")
        } catch let error as ConveyorError {
            throw refuse(error.message)
        }
    }

    /// The cap's key for a run of `task` with these arguments: the task name, and the
    /// argument's value when capped per argument (a string as it is, anything else as compact
    /// JSON; a missing argument is `null`; values over 200 bytes by their SHA-1). A key that would
    /// still be over 400 bytes (a very long task name) is its SHA-1, so it always fits.
    func key(task: String, args: [JSON], kwargs: JSONObject) -> String {
        var key = task
        if let perArgument {
            let value = kwargs[perArgument] ?? position.flatMap { $0 < args.count ? args[$0] : nil } ?? .null
            var text = value.string ?? value.text(.compact)
            if text.utf8.count > 200 { text = "sha1:" + sha1Hex(text) }
            key = "\(task):\(perArgument)=\(text)"
        }
        return key.utf8.count > 400 ? "sha1:" + sha1Hex(key) : key
    }
}

extension TaskDefaults {
    /// Defaults with a fleet-wide concurrency cap (see `ConcurrencyCap`); the other values as
    /// in `init(timeLimit:softTimeLimit:ignoreResult:retry:)`.
    public init(timeLimit: Double? = nil, softTimeLimit: Double? = nil, ignoreResult: Bool = false, retry: RetryPolicy = .never,
                concurrencyCap: ConcurrencyCap) {
        self.init(timeLimit: timeLimit, softTimeLimit: softTimeLimit, ignoreResult: ignoreResult, retry: retry)
        self.concurrencyCap = concurrencyCap
    }
}

/// SHA-1 in hex, to shorten long key parts (Redis' script naming already computes it; not for
/// anything security-related).
func sha1Hex(_ text: String) -> String { RedisScript(text).sha1 }
