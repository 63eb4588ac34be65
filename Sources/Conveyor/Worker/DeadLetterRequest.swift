/// Thrown by a task to fail at once, without a retry, and dead-letter its message with a reason
/// of the task's choosing (say `smtp-permanent`), so operators can find such failures by reason.
///
/// The worker publishes the dead letter (reason in `x-conveyor-reason`, the error in
/// `x-conveyor-error`), stores FAILURE with `error` as the exception, then acknowledges.
///
/// ```swift
/// throw context.deadLetter(reason: "smtp-permanent", because: TaskFailure("550 5.1.1 no such user"))
/// ```
public struct DeadLetterRequest: Error, Sendable, CustomStringConvertible {
    /// The machine-readable reason: 1 to 64 of `a-z`, `0-9` and `-` (anything else is replaced
    /// with `-`, an empty one is `task-failed`).
    public let reason: String
    /// What went wrong, stored as the task's exception.
    public let error: any Error & Sendable

    /// - Parameters:
    ///   - reason: the dead letter's reason, as `reason` describes.
    ///   - error: the failure, stored as the task's exception.
    public init(reason: String, error: any Error & Sendable) {
        let cleaned = String(reason.lowercased().prefix(64).map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") ? $0 : "-" })
        self.reason = cleaned.isEmpty ? "task-failed" : cleaned
        self.error = error
    }

    /// `reason: error`.
    public var description: String { "\(reason): \(error)" }
}

extension TaskContext {
    /// Builds the error to throw to fail now and dead-letter the message with `reason`
    /// (`throw context.deadLetter(reason: "smtp-permanent", because: error)`). See `DeadLetterRequest`.
    public func deadLetter(reason: String, because error: any Error & Sendable) -> DeadLetterRequest {
        DeadLetterRequest(reason: reason, error: error)
    }
}
