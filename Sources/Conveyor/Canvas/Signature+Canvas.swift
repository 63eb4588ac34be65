/// Celery's canvas primitives as signatures, in the JSON Celery 5.7 writes (`chain`, `group`,
/// `chord` subtask types), so a canvas built in Swift can be embedded in a message and applied
/// by a Python worker, and the other way round.
extension Signature {
    /// Sets one option (`task_id`, `queue`, `priority`, …), keeping the others in order.
    public mutating func setOption(_ name: String, _ value: JSON) {
        var options = self.options
        options[name] = value
        json["options"] = .object(options)
    }

    /// This signature with a task id in its options (Celery's `freeze()`): kept if present.
    public func frozen() -> Signature {
        guard taskId == nil else { return self }
        var copy = self
        copy.setOption("task_id", .string(TaskID.make()))
        return copy
    }

    /// This signature sent to `queue`.
    public func on(queue: String) -> Signature {
        var copy = self
        copy.setOption("queue", .string(queue))
        return copy
    }

    /// `chain(a, b, c)`: each step's return value is prepended to the next one's arguments.
    /// A group followed by another step becomes a chord with that step as its body, as Celery
    /// upgrades it. Every plain step and chord body is frozen, so the chain's result id (its
    /// last step's) is known before it is sent.
    public static func chain(_ steps: [Signature]) -> Signature {
        var upgraded: [Signature] = []
        for step in steps.map(\.frozenForCanvas) {
            if let previous = upgraded.last, previous.subtaskType == "group" {
                upgraded[upgraded.count - 1] = .chord(header: Signature.list(previous.kwargs["tasks"]) ?? [], body: step,
                                                      groupId: previous.taskId)
            } else {
                upgraded.append(step)
            }
        }
        return Signature(task: "celery.chain", kwargs: ["tasks": .array(upgraded.map { .object($0.json) })], subtaskType: "chain")
    }

    /// `group(a, b)`: the tasks run in parallel, each published with the group id and its index.
    /// - Parameter groupId: the group's id; a new UUID when nil.
    public static func group(_ tasks: [Signature], groupId: String? = nil) -> Signature {
        var group = Signature(task: "celery.group", kwargs: ["tasks": .array(tasks.map { .object($0.frozenForCanvas.json) })],
                              subtaskType: "group")
        group.setOption("task_id", .string(groupId ?? TaskID.make()))
        return group
    }

    /// `chord(header, body)`: the body runs once every header task has finished, with their
    /// results in header order as its first argument; it fails with `ChordError` when one of them
    /// failed. The chord's result is the body's.
    /// - Parameter groupId: the header's group id; a new UUID when nil.
    public static func chord(header: [Signature], body: Signature, groupId: String? = nil) -> Signature {
        let body = body.frozenForCanvas
        var headerGroup = group(header, groupId: groupId)
        headerGroup.setOption("chord", .object(body.json))
        var chord = Signature(task: "celery.chord",
                              kwargs: ["kwargs": .object([:]), "header": .object(headerGroup.json), "body": .object(body.json)],
                              subtaskType: "chord")
        chord.setOption("task_id", .string(headerGroup.taskId ?? TaskID.make()))
        return chord
    }

    /// The id of the result this signature ends in: a task's own, a chain's last step's, a
    /// chord's body's; nil for a group (its members each have one) or an unfrozen task.
    public var resultId: String? {
        switch subtaskType {
        case "chain": return Signature.list(kwargs["tasks"])?.last?.resultId
        case "chord": return kwargs["body"]?.object.map(Signature.init(json:))?.resultId
        case "group": return nil
        default: return taskId
        }
    }

    /// Plain tasks frozen; canvases (already built frozen) kept as they are.
    var frozenForCanvas: Signature { subtaskType == nil ? frozen() : self }

    init(task: String, kwargs: JSONObject, subtaskType: String) {
        self.init(task: task, kwargs: kwargs)
        json["subtask_type"] = .string(subtaskType)
    }
}
