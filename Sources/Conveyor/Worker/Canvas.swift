import AMQP
import Foundation

/// Celery's canvas on the worker side: links on success, errbacks on failure, and the next
/// step of a chain — published with the parent's ids, as `celery/app/trace.py` does.
extension Worker {
    /// Publishes success callbacks and the next chain step with `value`.
    /// - Throws: the first publish error. The caller decides: a follower that can never be
    ///   published fails the task (as in Celery, where sending the links is part of the run);
    ///   any other error requeues it so it runs again (at-least-once) rather than completing
    ///   with its followers lost.
    func dispatchCallbacks(of message: TaskMessage, value: JSON) async throws {
        var outgoing: [(TaskMessage, String)] = []
        for callback in message.callbacks ?? [] {
            outgoing += expand(callback, parentValue: value, parent: message)
        }
        if var chain = message.chain, let next = chain.popLast() {
            outgoing += expand(next, parentValue: value, parent: message, remainingChain: chain)
        }
        for (child, queue) in outgoing {
            do {
                try await client.publish(child, queue: queue)
            } catch {
                log(.error, "callback not published", id: message.id, task: message.task,
                    ["callback": "\(child.task.cappedUTF8(256))", "error": "\(error)"])
                throw error
            }
        }
    }

    /// Publishes errbacks with the failed task's id as their first argument.
    func dispatchErrbacks(of message: TaskMessage) async {
        for errback in message.errbacks ?? [] {
            for (child, queue) in expand(errback, parentValue: .string(message.id), parent: message) {
                do {
                    try await client.publish(child, queue: queue)
                } catch {
                    log(.error, "errback not published", id: message.id, task: message.task, ["errback": "\(child.task)", "error": "\(error)"])
                }
            }
        }
    }

    /// Turns a signature into messages: a plain task, the first step of a nested chain, or
    /// every member of a group.
    func expand(_ signature: Signature, parentValue: JSON, parent: TaskMessage, remainingChain: [Signature] = []) -> [(TaskMessage, String)] {
        switch signature.subtaskType {
        case "chain":
            var steps = signature.kwargs["tasks"]?.array?.compactMap { $0.object.map(Signature.init(json:)) } ?? []
            guard !steps.isEmpty else { return [] }
            let first = steps.removeFirst()
            return expand(first, parentValue: parentValue, parent: parent, remainingChain: remainingChain + steps.reversed())
        case "group":
            let members = signature.kwargs["tasks"]?.array?.compactMap { $0.object.map(Signature.init(json:)) } ?? []
            let groupId = signature.options["task_id"]?.string ?? TaskID.make()
            return members.enumerated().flatMap { index, member -> [(TaskMessage, String)] in
                expand(member, parentValue: parentValue, parent: parent).map { child, queue in
                    var child = child
                    child.group = groupId
                    child.groupIndex = index
                    return (child, queue)
                }
            }
        default:
            guard let task = signature.task else { return [] }
            let options = signature.options
            var child = TaskMessage(id: signature.taskId ?? TaskID.make(), task: task,
                                    args: signature.immutable ? signature.args : [parentValue] + signature.args,
                                    kwargs: signature.kwargs)
            child.parentId = parent.id
            child.rootId = parent.rootId ?? parent.id
            if !remainingChain.isEmpty { child.chain = remainingChain }
            child.callbacks = Signature.list(options["link"]).flatMap { $0.isEmpty ? nil : $0 }
            child.errbacks = Signature.list(options["link_error"]).flatMap { $0.isEmpty ? nil : $0 }
            if let chord = options["chord"], !chord.isNull { child.chord = chord }
            child.group = options["group_id"]?.string
            child.groupIndex = options["group_index"]?.int.map { Int($0) }
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
            let queue = options["queue"]?.string ?? options["queue"]?["name"]?.string
                ?? options["routing_key"]?.string ?? configuration.defaultQueue
            return [(child, queue)]
        }
    }
}
