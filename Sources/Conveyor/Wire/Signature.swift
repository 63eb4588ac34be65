/// A Celery signature (`add.s(1, 2)`): a task name with arguments and options, as JSON.
///
/// Kept as the JSON object it arrived as, so options we do not interpret travel on unchanged
/// when we dispatch it (links, chains, errbacks).
public struct Signature: Sendable, Hashable {
    /// The signature object: `{"task", "args", "kwargs", "options", "subtask_type", "immutable"}`.
    public var json: JSONObject

    public init(json: JSONObject) { self.json = json }

    /// A signature with Celery's key order.
    public init(task: String, args: [JSON] = [], kwargs: JSONObject = [:], options: JSONObject = [:], immutable: Bool = false) {
        var object = JSONObject()
        object.appendUnchecked("task", .string(task))
        object.appendUnchecked("args", .array(args))
        object.appendUnchecked("kwargs", .object(kwargs))
        object.appendUnchecked("options", .object(options))
        object.appendUnchecked("subtask_type", .null)
        object.appendUnchecked("immutable", .bool(immutable))
        json = object
    }

    public var task: String? { json["task"]?.string }
    public var args: [JSON] { json["args"]?.array ?? [] }
    public var kwargs: JSONObject { json["kwargs"]?.object ?? [:] }
    public var options: JSONObject { json["options"]?.object ?? [:] }
    /// Immutable signatures (`.si()`) do not receive the parent's return value.
    public var immutable: Bool { json["immutable"]?.bool ?? false }
    /// `chain`, `group`, `chord` or nil for a plain task.
    public var subtaskType: String? { json["subtask_type"]?.string }
    /// The task id frozen into the options, if any.
    public var taskId: String? { options["task_id"]?.string }
    /// The queue named in the options, if any.
    public var queue: String? { options["queue"]?.string }

    /// Reads a list of signatures from an embed field (`null` → nil).
    static func list(_ json: JSON?) -> [Signature]? {
        guard let items = json?.array else { return nil }
        return items.compactMap { $0.object.map(Signature.init(json:)) }
    }
}
