import Foundation

/// When and how soon a failed task runs again.
///
/// Retries are Celery retries: the same task id, the `retries` header plus one, the RETRY state
/// stored, and the delay spent in the broker's delay cascade (never in worker memory). The delay
/// is full jitter over a capped exponential: `random(0 ... min(cap, base · 2^retries))`.
///
/// ```swift
/// registry.register("email.send", defaults: TaskDefaults(retry: .exponential(maxRetries: 5, base: 2, cap: 300))) { … }
/// ```
///
/// The numbers are clamped, in `init` and when set later: `maxRetries` to 0 or more, `base` and
/// `cap` to 0…`DelayedDelivery.maxDelay` seconds (NaN is 0), the delays the broker can hold.
public struct RetryPolicy: Sendable {
    /// How many times a task may be retried (Celery's `max_retries`); 0 never retries.
    public var maxRetries: Int { didSet { maxRetries = max(0, maxRetries) } }
    /// First delay ceiling, seconds.
    public var base: Double { didSet { base = RetryPolicy.clampedDelay(base) } }
    /// Largest delay ceiling, seconds.
    public var cap: Double { didSet { cap = RetryPolicy.clampedDelay(cap) } }
    /// Spread delays over `0...ceiling` (full jitter); otherwise wait the ceiling exactly.
    public var jitter: Bool
    /// Which errors are worth retrying. Argument errors (`TaskArgumentError`) never are.
    public var retryOn: @Sendable (any Error) -> Bool

    /// - Parameters:
    ///   - maxRetries: retries allowed after the first run.
    ///   - base: first delay ceiling in seconds.
    ///   - cap: largest delay ceiling in seconds.
    ///   - jitter: full jitter (recommended, so a fleet does not retry in lockstep).
    ///   - retryOn: which errors retry; by default every error except argument errors.
    public init(maxRetries: Int, base: Double = 1, cap: Double = 600, jitter: Bool = true,
                retryOn: @escaping @Sendable (any Error) -> Bool = { _ in true }) {
        self.maxRetries = max(0, maxRetries)
        self.base = RetryPolicy.clampedDelay(base)
        self.cap = RetryPolicy.clampedDelay(cap)
        self.jitter = jitter
        self.retryOn = retryOn
    }

    /// Never retry (the default): a failure is final.
    public static let never = RetryPolicy(maxRetries: 0)

    /// Exponential backoff with full jitter.
    public static func exponential(maxRetries: Int = 3, base: Double = 1, cap: Double = 600,
                                   retryOn: @escaping @Sendable (any Error) -> Bool = { _ in true }) -> RetryPolicy {
        RetryPolicy(maxRetries: maxRetries, base: base, cap: cap, jitter: true, retryOn: retryOn)
    }

    /// The same delay every time.
    public static func fixed(maxRetries: Int = 3, delay: Double) -> RetryPolicy {
        RetryPolicy(maxRetries: maxRetries, base: delay, cap: delay, jitter: false) { _ in true }
    }

    /// Whether `error` after `retries` earlier retries gets another run.
    func allows(_ error: any Error, retries: Int) -> Bool {
        retries < maxRetries && !(error is TaskArgumentError) && retryOn(error)
    }

    /// `seconds` within what the delay cascade can hold; NaN is 0.
    static func clampedDelay(_ seconds: Double) -> Double {
        seconds.isNaN ? 0 : min(max(seconds, 0), Double(DelayedDelivery.maxDelay))
    }

    /// The delay before retry number `retries + 1`, seconds.
    func delay(retries: Int) -> Double {
        var ceiling = base
        for _ in 0..<min(max(retries, 0), 40) where ceiling < cap { ceiling *= 2 }
        ceiling = min(cap, ceiling)
        return jitter ? Double.random(in: 0...ceiling) : ceiling
    }
}

/// Thrown by a task to be run again later (Celery's `self.retry()`), counting against the
/// task's `maxRetries` unless it passes its own.
///
/// ```swift
/// throw context.retry(after: 30, because: error)
/// ```
public struct RetryRequest: Error, CustomStringConvertible {
    /// Seconds to wait; the policy's backoff when nil. At most `DelayedDelivery.maxDelay`
    /// (about 8.5 years); 0 or less retries at once. Checked when the worker acts on it: NaN,
    /// infinity or more than the cascade holds stores FAILURE (`ConveyorError`) instead.
    public var after: Double?
    /// Why, stored with the RETRY state (and in the FAILURE when retries run out).
    public var reason: (any Error)?
    /// Overrides the policy's `maxRetries` for this decision.
    public var maxRetries: Int?

    public init(after: Double? = nil, reason: (any Error)? = nil, maxRetries: Int? = nil) {
        self.after = after
        self.reason = reason
        self.maxRetries = maxRetries
    }

    public var description: String { "retry requested" + (reason.map { ": \($0)" } ?? "") }

    /// The delay to retry after: `after`, checked, or else the policy's backoff.
    /// - Throws: `ConveyorError.Code.invalidArguments` when `after` is NaN, infinite or beyond
    ///   `DelayedDelivery.maxDelay`.
    func delay(policy: RetryPolicy, retries: Int) throws -> Double {
        guard let after else { return policy.delay(retries: retries) }
        guard !after.isNaN, after <= Double(DelayedDelivery.maxDelay) else {
            throw ConveyorError(.invalidArguments, "retry(after:) must be at most \(DelayedDelivery.maxDelay) seconds (the delay cascade's reach), not \(after)")
        }
        return max(0, after)
    }
}

extension TaskContext {
    /// Builds the error to throw to retry this task (`throw context.retry(after: 10)`).
    /// - Parameters:
    ///   - seconds: delay before the retry, at most `DelayedDelivery.maxDelay` (0 or less: at
    ///     once); NaN, infinity or more makes the task FAILURE instead. The policy's backoff when nil.
    ///   - reason: why, stored with RETRY (and with FAILURE when retries run out).
    ///   - maxRetries: overrides the policy's limit for this decision.
    public func retry(after seconds: Double? = nil, because reason: (any Error)? = nil, maxRetries: Int? = nil) -> RetryRequest {
        RetryRequest(after: seconds, reason: reason, maxRetries: maxRetries)
    }
}

/// Celery's `MaxRetriesExceededError`, stored when a task asked to retry past its limit.
struct MaxRetriesExceeded: CeleryException {
    let task: String
    let id: String
    let retries: Int
    var exceptionInfo: ExceptionInfo {
        ExceptionInfo(type: "MaxRetriesExceededError", module: "celery.exceptions",
                      message: "Can't retry \(task)[\(id)] args:() kwargs:{} (retried \(retries) times)")
    }
}
