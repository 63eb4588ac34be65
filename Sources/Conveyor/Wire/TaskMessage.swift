import AMQP
import Foundation

/// One task message in Celery's protocol v2: what to run, with what, and how.
///
/// `TaskMessage+AMQP` turns it into the exact headers, properties and body Celery 5.7 sends,
/// and reads them back from a delivery.
public struct TaskMessage: Sendable {
    public var id: String
    /// The registered task name.
    public var task: String
    public var args: [JSON]
    public var kwargs: JSONObject

    // Body "embed": Celery's canvas plumbing.
    /// Tasks to apply with this one's return value on success (`link`).
    public var callbacks: [Signature]?
    /// Tasks to apply with this one's id on failure (`link_error`).
    public var errbacks: [Signature]?
    /// The rest of a chain, reversed: the last element runs next.
    public var chain: [Signature]?
    /// The chord body this task is a header part of (kept as sent).
    public var chord: JSON?

    // Headers.
    public var lang: String
    public var shadow: String?
    /// Do not run before this time.
    public var eta: Date?
    /// Do not run after this time (stored as REVOKED instead).
    public var expires: Date?
    public var group: String?
    public var groupIndex: Int?
    public var retries: Int
    /// Hard limit (stop waiting, record TimeLimitExceeded) in seconds.
    public var timeLimit: Double?
    /// Soft limit (cancel cooperatively) in seconds.
    public var softTimeLimit: Double?
    public var rootId: String?
    public var parentId: String?
    public var argsrepr: String?
    public var kwargsrepr: String?
    public var origin: String?
    public var ignoreResult: Bool
    public var replacedTaskNesting: Int
    /// Headers beyond Celery's own (custom `headers=` and anything unknown), in order.
    public var extraHeaders: FieldTable

    // Properties.
    public var priority: UInt8?
    public var replyTo: String?
    /// AMQP per-message TTL (milliseconds, as text), set alongside `expires`.
    public var expiration: String?

    public init(id: String = TaskID.make(), task: String, args: [JSON] = [], kwargs: JSONObject = [:]) {
        self.id = id
        self.task = task
        self.args = args
        self.kwargs = kwargs
        lang = "py"
        retries = 0
        ignoreResult = false
        replacedTaskNesting = 0
        extraHeaders = [:]
    }

    /// The name shown in logs (`shadow` if set).
    public var displayName: String { shadow ?? task }
}

extension TaskMessage {
    /// Whether nothing follows this task when it succeeds: no links, no rest of a chain, no
    /// chord it belongs to.
    var endsWithoutFollowers: Bool {
        (callbacks?.isEmpty ?? true) && (chain?.isEmpty ?? true) && chord == nil
    }
}

/// Why a message cannot become a task. It goes to the dead letters with `code` and `detail`.
public struct RejectionReason: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable machine-readable reason (`content-type`, `malformed-body` …).
    public var code: String
    /// One line for people.
    public var detail: String

    public init(code: String, detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code): \(detail)" }

    public static func contentType(_ type: String?) -> RejectionReason {
        RejectionReason(code: "content-type", detail: "content type '\(type ?? "none")' is not accepted (only application/json); body not deserialised")
    }
    public static func contentEncoding(_ encoding: String) -> RejectionReason {
        RejectionReason(code: "content-encoding", detail: "content encoding '\(encoding)' is not accepted (only utf-8)")
    }
    public static func compressed(_ codec: String) -> RejectionReason {
        RejectionReason(code: "compressed", detail: "compressed bodies (\(codec)) are not accepted")
    }
    public static func tooLarge(_ size: Int, limit: Int) -> RejectionReason {
        RejectionReason(code: "too-large", detail: "body of \(size) bytes exceeds the limit of \(limit) bytes")
    }
    public static func missingHeader(_ name: String) -> RejectionReason {
        RejectionReason(code: "missing-header", detail: "header '\(name)' is missing or not a string (not a Celery protocol v2 task)")
    }
    public static func invalidHeader(_ name: String, _ why: String) -> RejectionReason {
        RejectionReason(code: "invalid-header", detail: "header '\(name)' \(why)")
    }
    public static func malformedBody(_ why: String) -> RejectionReason {
        RejectionReason(code: "malformed-body", detail: why)
    }
    public static func unknownTask(_ name: String) -> RejectionReason {
        RejectionReason(code: "unknown-task", detail: "no task named '\(name)' is registered on this worker")
    }
}
