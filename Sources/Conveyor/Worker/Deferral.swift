import AMQP
import Foundation

/// Thrown to run a task again later without counting a retry: the task waits on something
/// outside itself (a rate limit, a busy lock, a concurrency cap), not on its own failure.
///
/// The worker publishes the same message again (same id, same `retries`) with an ETA `after`
/// seconds ahead, through the delay cascade, removes the STARTED state its run stored (the task
/// is PENDING again, as before it ran), then acknowledges the delivery. No RETRY is stored and
/// `maxRetries` is not consumed, so a task may be deferred any number of times; its `expires`
/// still ends it.
///
/// ```swift
/// throw context.deferral(after: 2, reason: "repository busy")
/// ```
public struct TaskDeferral: Error, Sendable, CustomStringConvertible {
    /// Seconds to wait: 0 or less runs again at once. NaN, infinity or more than
    /// `DelayedDelivery.maxDelay` makes the task FAILURE (`ConveyorError.Code.invalidArguments`)
    /// when the worker acts on it.
    public var after: Double
    /// Why (logged, and counted per reason in the worker's stats: `rate-limit`, `lock`, …).
    public var reason: String

    public init(after: Double, reason: String) {
        self.after = after
        self.reason = reason
    }

    public var description: String { "deferred \(after) s: \(reason)" }

    /// The delay to publish the copy with.
    /// - Throws: `ConveyorError.Code.invalidArguments` for NaN, infinity or beyond the cascade.
    func checkedDelay() throws -> Double {
        guard !after.isNaN, after <= Double(DelayedDelivery.maxDelay) else {
            throw ConveyorError(.invalidArguments, "deferral(after:) must be at most \(DelayedDelivery.maxDelay) seconds (the delay cascade's reach), not \(after)")
        }
        return max(0, after)
    }
}

extension TaskContext {
    /// Builds the error to throw to run this task again `seconds` from now without counting a
    /// retry (`throw context.deferral(after: 5, reason: "lock busy")`). See `TaskDeferral`.
    public func deferral(after seconds: Double, reason: String) -> TaskDeferral {
        TaskDeferral(after: seconds, reason: reason)
    }
}

extension Worker {
    /// Sends a task to run again `delay` seconds from now without counting a retry: publishes
    /// the same message with a later ETA (confirmed), removes the STARTED state this worker's run
    /// stored when `started` (so waiters see PENDING again), then acknowledges the delivery.
    ///
    /// The copy is a new message, not a redelivery, so it does not count towards poison
    /// detection. A copy that can never be published fails the task (dead letter, FAILURE); one
    /// that cannot be published now requeues the delivery to be tried again.
    func deferRun(_ message: TaskMessage, delivery: Delivery, deferral: TaskDeferral, started: Bool, runtime: String) async {
        let delay: Double
        do {
            delay = try deferral.checkedDelay()
        } catch {
            await recordFailure(message, delivery: delivery, info: .from(error), runtime: runtime)
            return
        }
        var next = message.freshCopy
        next.eta = delay > 0 ? clock.now.addingTimeInterval(delay) : nil
        do {
            try await client.publish(next, queue: delivery.queue)
        } catch let error as ConveyorError where error.code == .messageTooLarge || error.code == .invalidMessage {
            log(.error, "deferred copy cannot be published; task failed", id: message.id, task: message.task, ["error": "\(error)"])
            await recordFailure(message, delivery: delivery, info: .from(error), runtime: runtime)
            return
        } catch {
            log(.warning, "deferred copy not published; task requeued", id: message.id, task: message.task, ["error": "\(error)"])
            requeueLater(delivery)
            return
        }
        if started {
            // Best effort: a STARTED left behind is replaced by the next run's own state.
            try? await client.results.clearStarted(message.id, hostname: options.hostname, pid: processIdentifier)
        }
        stats.recordDeferral(reason: deferral.reason, task: message.task)
        metrics.finished(message.task, queue: delivery.queue, .deferred)
        log(.info, "task deferred", id: message.id, task: message.task, [
            "reason": .string(deferral.reason.cappedUTF8(256)), "delay": .string(secondsText(delay)),
        ])
        consumer.ack(delivery)
    }
}
