import Foundation

/// A task's stored state in Celery's Redis result-backend format, key
/// `celery-task-meta-<id>`:
/// `{"status", "result", "traceback", "children", "date_done", ["group_id"], ["parent_id"], "task_id"}`.
public struct ResultMeta: Sendable, Hashable {
    public var taskId: String
    public var status: TaskState
    /// The return value, an exception (`ExceptionInfo.json`) or custom state metadata.
    public var result: JSON
    public var traceback: String?
    /// Subtasks this task sent, as Celery result tuples.
    public var children: JSON
    /// When the task became ready (READY states only).
    public var dateDone: Date?
    public var groupId: String?
    public var parentId: String?

    public init(taskId: String, status: TaskState, result: JSON = .null, traceback: String? = nil, children: JSON = .array([]),
                dateDone: Date? = nil, groupId: String? = nil, parentId: String? = nil) {
        self.taskId = taskId
        self.status = status
        self.result = result
        self.traceback = traceback
        self.children = children
        self.dateDone = dateDone
        self.groupId = groupId
        self.parentId = parentId
    }

    /// The Redis key of a task's result.
    public static func key(for taskId: String) -> String { keyPrefix + taskId }
    static let keyPrefix = "celery-task-meta-"

    /// The stored exception, for RETRY, FAILURE and REVOKED.
    public var exception: ExceptionInfo? { status.isException ? ExceptionInfo(json: result) : nil }

    /// The JSON Celery writes, key order included.
    public var json: JSON {
        var object = JSONObject()
        object.reserveCapacity(8)
        object.appendUnchecked("status", .string(status.rawValue))
        object.appendUnchecked("result", result)
        object.appendUnchecked("traceback", traceback.map(JSON.string) ?? .null)
        object.appendUnchecked("children", children)
        object.appendUnchecked("date_done", dateDone.map { .string(ISO8601.format($0)) } ?? .null)
        if let groupId { object.appendUnchecked("group_id", .string(groupId)) }
        if let parentId { object.appendUnchecked("parent_id", .string(parentId)) }
        object.appendUnchecked("task_id", .string(taskId))
        return .object(object)
    }

    /// The bytes stored in Redis and published on the channel of the same name: `json` as
    /// Python writes it, written directly (no object built first, one buffer sized up front; a
    /// result is stored for every task).
    public var serialized: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(224 + taskId.utf8.count + (parentId?.utf8.count ?? 0) + (groupId?.utf8.count ?? 0)
            + (traceback?.utf8.count ?? 0))
        serialize(into: &out)
        return out
    }

    /// `serialized`, appended to `out` (a buffer reused from one result to the next).
    func serialize(into out: inout [UInt8]) {
        func member(_ literal: String, _ value: () -> Void) {
            out.append(contentsOf: literal.utf8)
            value()
        }
        func string(_ text: String?) {
            if let text { JSONWriter.writeString(text, ascii: true, into: &out) } else { out.append(contentsOf: "null".utf8) }
        }
        member("{\"status\": ") { string(status.rawValue) }
        member(", \"result\": ") { JSONWriter.write(result, style: .python, into: &out) }
        member(", \"traceback\": ") { string(traceback) }
        member(", \"children\": ") { JSONWriter.write(children, style: .python, into: &out) }
        member(", \"date_done\": ") {
            guard let dateDone else { return out.append(contentsOf: "null".utf8) }
            out.append(UInt8(ascii: "\""))
            ISO8601.append(dateDone, into: &out)
            out.append(UInt8(ascii: "\""))
        }
        if let groupId { member(", \"group_id\": ") { string(groupId) } }
        if let parentId { member(", \"parent_id\": ") { string(parentId) } }
        member(", \"task_id\": ") { string(taskId) }
        out.append(UInt8(ascii: "}"))
    }

    /// Reads stored meta; nil when the bytes are not a Celery result.
    public init?(bytes: [UInt8]) {
        guard let json = try? JSON.parse(bytes), let status = json["status"]?.string else { return nil }
        self.init(taskId: json["task_id"]?.string ?? "", status: TaskState(rawValue: status), result: json["result"] ?? .null,
                  traceback: json["traceback"]?.string, children: json["children"] ?? .null,
                  dateDone: json["date_done"]?.string.flatMap(ISO8601.parse), groupId: json["group_id"]?.string,
                  parentId: json["parent_id"]?.string)
    }
}
