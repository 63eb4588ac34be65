/// An error a task throws to fail with a specific exception as Python sees it.
///
/// Errors that do not conform are stored as `<SwiftTypeName>` in module `conveyor.errors`
/// with their description as the message; Python's `AsyncResult.get()` raises a same-named
/// exception class carrying that message.
public protocol CeleryException: Error {
    /// The exception, as stored in the result.
    var exceptionInfo: ExceptionInfo { get }
}

/// A failure with a message, raised in Python as `RuntimeError(message)` unless another
/// type is named.
public struct TaskFailure: CeleryException, CustomStringConvertible {
    public var exceptionInfo: ExceptionInfo

    /// - Parameters:
    ///   - message: what went wrong.
    ///   - type: the Python exception class name.
    ///   - module: the Python module of that class.
    public init(_ message: String, type: String = "RuntimeError", module: String = "builtins") {
        exceptionInfo = ExceptionInfo(type: type, module: module, message: message)
    }

    public var description: String { exceptionInfo.message }
}

/// Arguments that do not fit the task; raised in Python as `TypeError`.
public struct TaskArgumentError: CeleryException, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var exceptionInfo: ExceptionInfo { ExceptionInfo(type: "TypeError", module: "builtins", message: message) }
    public var description: String { message }
}

extension ExceptionInfo {
    /// How a Swift error is stored in the result backend.
    static func from(_ error: any Error) -> ExceptionInfo {
        if let celery = error as? CeleryException { return celery.exceptionInfo }
        let type = String(describing: Swift.type(of: error)).split(separator: ".").last.map(String.init) ?? "Error"
        return ExceptionInfo(type: type, module: "conveyor.errors", message: String(describing: error))
    }

    /// A Python-shaped traceback string naming where it happened (Swift has no stack to offer).
    func traceback(task: String, id: String, hostname: String) -> String {
        "Traceback (most recent call last):\n  Swift task \(task)[\(id)] on \(hostname)\n\(type): \(message)"
    }
}
