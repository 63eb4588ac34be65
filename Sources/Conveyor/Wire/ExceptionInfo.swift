/// An exception as Celery stores it in results:
/// `{"exc_type": "ValueError", "exc_message": ["bad"], "exc_module": "builtins"}`.
///
/// A Python client rebuilds the class from module and type; when the module is not loaded there
/// it synthesizes one in `celery.exceptions` with the same name, so `AsyncResult.get()` raises
/// an exception carrying our message either way.
public struct ExceptionInfo: Sendable, Hashable, CustomStringConvertible {
    /// The class name, e.g. `ValueError` or `TimeLimitExceeded`.
    public var type: String
    /// The module, e.g. `builtins` or `celery.exceptions`.
    public var module: String?
    /// The exception's arguments (usually one message).
    public var arguments: [JSON]

    public init(type: String, module: String?, arguments: [JSON]) {
        self.type = type
        self.module = module
        self.arguments = arguments
    }

    /// A one-argument exception.
    public init(type: String, module: String?, message: String) {
        self.init(type: type, module: module, arguments: [.string(message)])
    }

    /// The first argument as text (what Python's `str(exc)` shows for one argument).
    public var message: String {
        if arguments.count == 1, let s = arguments[0].string { return s }
        if arguments.isEmpty { return "" }
        return arguments.map { $0.string ?? $0.text(.compact) }.joined(separator: ", ")
    }

    public var description: String { "\(type)(\(message))" }

    /// The Celery JSON form.
    public var json: JSON {
        ["exc_type": .string(type), "exc_message": .array(arguments), "exc_module": module.map(JSON.string) ?? .null]
    }

    /// Reads Celery's JSON form; nil if `json` is not one.
    public init?(json: JSON) {
        guard let type = json["exc_type"]?.string else { return nil }
        self.type = type
        self.module = json["exc_module"]?.string
        switch json["exc_message"] {
        case let .array(items)?: arguments = items
        case let value?: arguments = value.isNull ? [] : [value]
        case nil: arguments = []
        }
    }

    // Celery's own exceptions, which Python clients import and raise as themselves.
    static func notRegistered(_ name: String) -> ExceptionInfo {
        ExceptionInfo(type: "NotRegistered", module: "celery.exceptions", message: name)
    }

    static func revoked(_ reason: String) -> ExceptionInfo {
        ExceptionInfo(type: "TaskRevokedError", module: "celery.exceptions", message: reason)
    }

    static func timeLimitExceeded(_ seconds: Double) -> ExceptionInfo {
        ExceptionInfo(type: "TimeLimitExceeded", module: "billiard.exceptions", arguments: [.double(seconds)])
    }
}
