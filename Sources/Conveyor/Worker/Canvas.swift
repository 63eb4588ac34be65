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
        var plan = CanvasPlan()
        let expander = expander(parent: message)
        for callback in message.callbacks ?? [] {
            expander.expand(callback, parentValue: value, into: &plan)
        }
        if var chain = message.chain, let next = chain.popLast() {
            expander.expand(next, parentValue: value, remainingChain: chain, into: &plan)
        }
        do {
            try await publish(plan)
        } catch {
            log(.error, "callback not published", id: message.id, task: message.task, ["error": "\(error)"])
            throw error
        }
    }

    /// Publishes errbacks with the failed task's id as their first argument.
    /// - Parameter failedId: the id errbacks receive: the task's own, or a chord body's that
    ///   failed without running.
    func dispatchErrbacks(_ errbacks: [Signature], failedId: String, parent: TaskMessage) async {
        let expander = expander(parent: parent)
        for errback in errbacks {
            var plan = CanvasPlan()
            expander.expand(errback, parentValue: .string(failedId), into: &plan)
            do {
                try await publish(plan)
            } catch {
                log(.error, "errback not published", id: parent.id, task: parent.task, ["errback": "\(errback.task ?? "?")", "error": "\(error)"])
            }
        }
    }

    /// Publishes errbacks of a failed task with its id.
    func dispatchErrbacks(of message: TaskMessage) async {
        await dispatchErrbacks(message.errbacks ?? [], failedId: message.id, parent: message)
    }

    /// Expands signatures as applied from `parent`'s run.
    func expander(parent: TaskMessage) -> CanvasExpander {
        CanvasExpander(defaultQueue: configuration.defaultQueue, parent: parent)
    }

    /// Records the sizes of the chords a plan starts, then publishes its messages in order.
    func publish(_ plan: CanvasPlan) async throws {
        for chord in plan.chordSizes {
            try await client.results.setChordSize(groupId: chord.groupId, size: chord.size)
        }
        for (child, queue) in plan.messages {
            try await client.publish(child, queue: queue)
        }
    }
}
