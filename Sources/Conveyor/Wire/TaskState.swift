/// A task state as Celery names it (`celery/states.py`). Custom states (e.g. `PROGRESS`) are
/// allowed; `PENDING` is never stored (a missing key means pending).
public struct TaskState: RawRepresentable, Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }

    public static let pending: TaskState = "PENDING"
    public static let received: TaskState = "RECEIVED"
    public static let started: TaskState = "STARTED"
    public static let success: TaskState = "SUCCESS"
    public static let failure: TaskState = "FAILURE"
    public static let retry: TaskState = "RETRY"
    public static let revoked: TaskState = "REVOKED"
    public static let rejected: TaskState = "REJECTED"

    /// SUCCESS, FAILURE or REVOKED: the task will not change state any more.
    public var isReady: Bool { self == .success || self == .failure || self == .revoked }
    /// FAILURE or REVOKED: waiting for the value should raise.
    public var propagates: Bool { self == .failure || self == .revoked }
    /// RETRY, FAILURE or REVOKED: the stored result is an exception.
    public var isException: Bool { self == .retry || self == .failure || self == .revoked }

    public var description: String { rawValue }
}
