import Foundation

/// A task's state as read from the result store.
public struct TaskResult: Sendable {
    public var id: String
    public var state: TaskState
    /// The return value on SUCCESS; exception or metadata otherwise.
    public var value: JSON
    public var traceback: String?
    public var dateDone: Date?

    init(id: String, meta: ResultMeta?) {
        self.id = id
        state = meta?.status ?? .pending
        value = meta?.result ?? .null
        traceback = meta?.traceback
        dateDone = meta?.dateDone
    }

    /// The stored exception for RETRY, FAILURE and REVOKED.
    public var exception: ExceptionInfo? { state.isException ? ExceptionInfo(json: value) : nil }

    /// The return value; throws `taskFailed` or `taskRevoked` when the task did not succeed.
    public func get() throws -> JSON {
        switch state {
        case .success:
            return value
        case .failure:
            let info = exception
            throw ConveyorError(.taskFailed, "task \(id) failed: \(info?.description ?? value.text(.compact))", exception: info,
                                traceback: traceback)
        case .revoked:
            throw ConveyorError(.taskRevoked, "task \(id) was revoked: \(exception?.message ?? "")", exception: exception)
        default:
            throw ConveyorError(.timeout, "task \(id) is not finished (state \(state))")
        }
    }

    /// The return value decoded as `T` (kombu envelopes unwrapped).
    public func get<T: Decodable>(as type: T.Type) throws -> T {
        let value = try get()
        do {
            return try value.decode(T.self)
        } catch {
            throw ConveyorError(.decodingFailed, "result of task \(id) is not a \(T.self): \(error)")
        }
    }
}

/// A sent task: its id, and a way to wait for its result.
public struct TaskHandle: Sendable {
    public let id: String
    let client: ConveyorClient

    /// Waits until the task is ready (SUCCESS, FAILURE or REVOKED) and returns its state.
    public func wait(timeout: Double) async throws -> TaskResult {
        try await client.wait(for: id, timeout: timeout)
    }

    /// Waits and returns the value, throwing if the task failed or was revoked.
    public func get(timeout: Double) async throws -> JSON {
        try await wait(timeout: timeout).get()
    }
}

/// A sent typed task.
public struct TypedTaskHandle<Output: Decodable & Sendable>: Sendable {
    public let handle: TaskHandle
    public var id: String { handle.id }

    /// Waits and decodes the value, throwing if the task failed or was revoked.
    public func value(timeout: Double) async throws -> Output {
        try await handle.wait(timeout: timeout).get(as: Output.self)
    }
}

/// A task with typed arguments and result.
///
/// Arguments travel as Celery kwargs (a JSON object), so a Python client calls it with
/// `send_task(name, kwargs={...})`.
public protocol TaskDefinition: Sendable {
    associatedtype Arguments: Codable & Sendable
    associatedtype Output: Codable & Sendable
    /// The registered name, e.g. `repos.index`.
    static var name: String { get }
}
