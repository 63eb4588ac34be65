import Foundation

/// Turns Celery signatures (plain tasks, chains, groups, chords) into messages, as Celery's
/// `Signature.apply_async` would publish them — from a worker applying links, chain steps and
/// chord bodies, or from a client sending a canvas.
struct CanvasExpander: Sendable {
    /// The queue of signatures that name none.
    let defaultQueue: String
    /// The task applying the signature (a worker's current task), or nil for a client.
    let parent: TaskMessage?

    /// Adds the messages of `signature` to `plan`.
    /// - Parameters:
    ///   - parentValue: prepended to the arguments of mutable signatures (the parent's return
    ///     value, or a failed task's id for errbacks); nil applies them as they are.
    ///   - remainingChain: the chain steps still to come after this signature, reversed.
    func expand(_ signature: Signature, parentValue: JSON?, remainingChain: [Signature] = [], into plan: inout CanvasPlan) {
        switch signature.subtaskType {
        case "chain":
            var steps = Signature.list(signature.kwargs["tasks"]) ?? []
            guard !steps.isEmpty else { return }
            // A chain in a group or chord header takes part through its last step, as in Celery.
            for key in ["group_id", "group_index", "chord"] {
                guard let value = signature.options[key], !value.isNull else { continue }
                steps[steps.count - 1].setOption(key, value)
            }
            let first = steps.removeFirst()
            expand(first, parentValue: parentValue, remainingChain: remainingChain + steps.reversed(), into: &plan)
        case "group":
            let members = Signature.list(signature.kwargs["tasks"]) ?? []
            let groupId = signature.taskId ?? TaskID.make()
            for (index, member) in members.enumerated() {
                var member = member
                member.setOption("group_id", .string(groupId))
                member.setOption("group_index", .int(Int64(index)))
                expand(member, parentValue: parentValue, into: &plan)
            }
        case "chord":
            expandChord(signature, parentValue: parentValue, remainingChain: remainingChain, into: &plan)
        default:
            guard let message = message(for: signature, parentValue: parentValue, remainingChain: remainingChain) else { return }
            plan.messages.append((message, queue(of: signature)))
        }
    }

    /// A chord: its header tasks go out with `group`, `group_index` and the frozen body in
    /// `chord`; the rest of an enclosing chain travels with the body (Celery's `chord.run`).
    private func expandChord(_ signature: Signature, parentValue: JSON?, remainingChain: [Signature], into plan: inout CanvasPlan) {
        let kwargs = signature.kwargs
        // The header is a list of signatures, or a group signature (frozen: its id is the group id).
        let headerGroup = kwargs["header"]?.object.map(Signature.init(json:))
        let header = Signature.list(kwargs["header"]) ?? headerGroup.flatMap { Signature.list($0.kwargs["tasks"]) } ?? []
        guard var body = kwargs["body"]?.object.map(Signature.init(json:)) else { return }
        let groupId = headerGroup?.taskId ?? signature.taskId ?? TaskID.make()
        if body.taskId == nil { body.setOption("task_id", .string(TaskID.make())) }
        body.setOption("group_id", .string(groupId))
        if !remainingChain.isEmpty { body.setOption("chain", .array(remainingChain.map { .object($0.json) })) }
        // Links and errbacks of the chord itself belong to its body (Celery's `_add_body_callbacks`).
        for key in ["link", "link_error"] {
            guard let extra = Signature.list(signature.options[key]), !extra.isEmpty else { continue }
            body.setOption(key, .array(((Signature.list(body.options[key]) ?? []) + extra).map { .object($0.json) }))
        }
        guard !header.isEmpty else {
            // An empty header: Celery applies the body at once, with no results.
            expand(body, parentValue: .array([]), into: &plan)
            return
        }
        for (index, member) in header.enumerated() {
            var member = member
            member.setOption("group_id", .string(groupId))
            member.setOption("group_index", .int(Int64(index)))
            member.setOption("chord", .object(body.json))
            expand(member, parentValue: parentValue, into: &plan)
        }
        plan.chordSizes.append((groupId, header.count))
    }

    /// The queue a signature names, or the default.
    func queue(of signature: Signature) -> String {
        let options = signature.options
        return options["queue"]?.string ?? options["queue"]?["name"]?.string ?? options["routing_key"]?.string ?? defaultQueue
    }

    /// The message of a plain task signature, with its options applied.
    func message(for signature: Signature, parentValue: JSON?, remainingChain: [Signature] = []) -> TaskMessage? {
        guard let task = signature.task else { return nil }
        let options = signature.options
        var args = signature.args
        if let parentValue, !signature.immutable { args.insert(parentValue, at: 0) }
        var child = TaskMessage(id: signature.taskId ?? TaskID.make(), task: task, args: args, kwargs: signature.kwargs)
        if let parent {
            child.parentId = parent.id
            child.rootId = parent.rootId ?? parent.id
        } else {
            child.parentId = options["parent_id"]?.string
            child.rootId = options["root_id"]?.string
        }
        // A chain in the options (a chord body's rest of the chain) runs after the ones still to come.
        let chain = remainingChain + (Signature.list(options["chain"]) ?? [])
        if !chain.isEmpty { child.chain = chain }
        child.callbacks = Signature.list(options["link"]).flatMap { $0.isEmpty ? nil : $0 }
        child.errbacks = Signature.list(options["link_error"]).flatMap { $0.isEmpty ? nil : $0 }
        if let chord = options["chord"], !chord.isNull { child.chord = chord }
        child.group = options["group_id"]?.string
        child.groupIndex = options["group_index"]?.int.flatMap { Int(exactly: $0) }
        child.shadow = options["shadow"]?.string
        child.ignoreResult = options["ignore_result"]?.bool ?? false
        if let priority = options["priority"]?.int { child.priority = UInt8(clamping: priority) }
        // Numbers from a message: unusable time limits (NaN, infinite, 0 or less) are none, as
        // when decoding; a countdown is held to the delay cascade's reach; an expiry past the
        // year 9999 is none.
        let usable = { (seconds: Double?) in seconds.flatMap { $0.isFinite && $0 > 0 ? $0 : nil } }
        if let limit = usable(options["time_limit"]?.double) { child.timeLimit = limit }
        if let limit = usable(options["soft_time_limit"]?.double) { child.softTimeLimit = limit }
        if let countdown = usable(options["countdown"]?.double) {
            child.eta = Date().addingTimeInterval(min(countdown, Double(DelayedDelivery.maxDelay)))
        }
        if let eta = options["eta"]?.string.flatMap(ISO8601.parse) { child.eta = eta }
        if let expires = options["expires"] {
            if let seconds = expires.double, case let date = Date().addingTimeInterval(seconds), ISO8601.isRepresentable(date) {
                child.expires = date
            }
            if let date = expires.string.flatMap(ISO8601.parse) { child.expires = date }
        }
        return child
    }
}
