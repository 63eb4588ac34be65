import AMQP
import Foundation
import IOSupport
import Logging

/// How a delivery's outcome is recorded and settled: SUCCESS (batched), retry, FAILURE (with
/// the dead letter first when retries ran out), poison, REVOKED.
extension Worker {
    /// Records how a run ended, then settles its message.
    func record(_ outcome: RunOutcome, of runnable: Runnable, runtime: String) async {
        let message = runnable.message
        let delivery = runnable.delivery
        let policy = runnable.task.defaults.retry
        switch outcome {
        case let .succeeded(value):
            await recordSuccess(runnable, value: value, runtime: runtime)
        case .cancelled where isStopping:
            // Stopped by the worker, not by the task: the redelivery is not an unfinished run.
            try? await client.results.markRequeued(message.id, recordTTL: options.startCountTTL, hostname: options.hostname,
                                                   pid: processIdentifier)
            log(.warning, "task requeued", id: message.id, task: message.task, ["reason": "worker shutting down"])
            stats.record(\.requeued)
            metrics.finished(message.task, queue: delivery.queue, .requeued)
            consumer.reject(delivery, requeue: true)
        case .cancelled:
            await recordRevoked(message, delivery: delivery, reason: "terminated")
        case let .failed(deferral as TaskDeferral):
            await deferRun(message, delivery: delivery, deferral: deferral, started: startedMeta(runnable) != nil, runtime: runtime)
        case let .failed(error):
            await handleFailure(error, message: message, delivery: delivery, policy: policy, runtime: runtime)
        case let .softTimeLimit(limit):
            await handleFailure(SoftTimeLimitExceeded(seconds: limit), message: message, delivery: delivery, policy: policy, runtime: runtime)
        case let .hardTimeLimit(limit):
            await handleFailure(TimeLimitExceeded(seconds: limit), message: message, delivery: delivery, policy: policy, runtime: runtime)
        }
    }

    private func recordSuccess(_ runnable: Runnable, value: JSON, runtime: String) async {
        let (message, delivery) = (runnable.message, runnable.delivery)
        // Celery dispatches links and the chain before storing the result.
        do {
            try await dispatchCallbacks(of: message, value: value)
        } catch let error as ConveyorError where error.code == .messageTooLarge || error.code == .invalidMessage {
            // A follower that can never be published fails the task, as in Celery; requeueing it
            // would run it again and again until poison detection stopped it.
            await recordFailure(message, delivery: delivery, info: .from(error), runtime: runtime)
            return
        } catch {
            log(.warning, "task requeued: a callback was not published", id: message.id, task: message.task)
            requeueLater(delivery)
            return
        }
        await releaseUnique(message)
        if message.chord != nil {
            // A chord's header task: stored, then counted towards its chord, then acknowledged.
            if !runnable.ignoreResult {
                let meta = ResultMeta(taskId: message.id, status: .success, result: value, dateDone: Date(), groupId: message.group,
                                      parentId: message.parentId)
                guard await persist(meta, delivery: delivery) != nil else { return }
            }
            stats.record(\.succeeded, task: message.task)
            log(.info, "task succeeded", id: message.id, task: message.task, ["runtime": .string(runtime)])
            taskSucceeded(message.id, result: value, runtime: runtime)
            await settleChordPart(of: message, delivery: delivery, state: .success, result: value)
            return
        }
        finishSuccess(runnable, value: value, runtime: runtime)
    }

    /// The end of a success that is no chord part, once its followers are published: the result
    /// goes to the flusher (stored in a batch, then acknowledged), or with `ignoreResult` the
    /// message is acknowledged now. Does no I/O of its own.
    func finishSuccess(_ runnable: Runnable, value: JSON, runtime: String) {
        let (message, delivery) = (runnable.message, runnable.delivery)
        if runnable.ignoreResult {
            taskSucceeded(message.id, result: value, runtime: runtime)
            succeeded(message.id, task: message.task, delivery: delivery, runtime: runtime, series: runnable.series)
            return
        }
        consumer.lane(of: delivery).results.submit(ResultFlusher.Item(
            meta: ResultMeta(taskId: message.id, status: .success, result: value, dateDone: Date(), groupId: message.group,
                             parentId: message.parentId),
            runnable: runnable, runtime: runtime))
    }

    /// Writes a batch of successes, retrying while Redis is unreachable for up to
    /// `storeRetryWindow`, then acknowledges them; requeues them if Redis stays down.
    func storeSuccesses(_ items: [ResultFlusher.Item]) async {
        guard let first = items.first else { return }
        let metas = items.map(\.meta)
        // A flusher's items all come from its own lane.
        let store = consumer.lane(of: first.delivery).store
        let stored: Void? = await withStoreRetries(taskId: first.meta.taskId, delivery: nil) {
            try await store.storeSuccess(metas)
        }
        guard stored != nil else {
            for item in items {
                stats.record(\.requeued)
                item.series.finished(.requeued)
                consumer.reject(item.delivery, requeue: true)
            }
            return
        }
        stats.record(\.succeeded, tasks: items.lazy.map(\.task))
        for item in items {
            item.series.finished(.success)
            log(.info, "task succeeded", id: item.meta.taskId, task: item.task, with: { $0["runtime"] = .string(item.runtime) })
            taskSucceeded(item.meta.taskId, result: item.meta.result, runtime: item.runtime)
        }
        consumer.ack(items.lazy.map(\.delivery))
    }

    private func succeeded(_ id: String, task: String, delivery: Delivery, runtime: String, series: WorkerMetrics.TaskSeries) {
        stats.record(\.succeeded, task: task)
        series.finished(.success)
        log(.info, "task succeeded", id: id, task: task, with: { $0["runtime"] = .string(runtime) })
        consumer.ack(delivery)
    }

    /// A failure: retried when the task asked for it or its policy allows it, otherwise final.
    private func handleFailure(_ error: any Error, message: TaskMessage, delivery: Delivery, policy: RetryPolicy, runtime: String) async {
        if let request = error as? DeadLetterRequest {
            let info = ExceptionInfo.from(request.error)
            await deadLetter(delivery, reason: RejectionReason(code: request.reason, detail: "\(info)")) {
                await self.storeFailure(message, delivery: delivery, info: info, runtime: runtime)
            }
            return
        }
        if let request = error as? RetryRequest {
            let limit = request.maxRetries ?? max(policy.maxRetries, 3)
            if message.retries < limit {
                let delay: Double
                do {
                    delay = try request.delay(policy: policy, retries: message.retries)
                } catch {
                    await recordFailure(message, delivery: delivery, info: .from(error), runtime: runtime)
                    return
                }
                await retry(message, delivery: delivery, after: delay, reason: request.reason ?? request, runtime: runtime)
            } else {
                let reason = request.reason ?? MaxRetriesExceeded(task: message.task, id: message.id, retries: message.retries)
                await recordFailure(message, delivery: delivery, info: .from(reason), runtime: runtime, exhausted: true)
            }
            return
        }
        if policy.allows(error, retries: message.retries) {
            await retry(message, delivery: delivery, after: policy.delay(retries: message.retries), reason: error, runtime: runtime)
            return
        }
        let exhausted = policy.maxRetries > 0 && message.retries >= policy.maxRetries && !(error is TaskArgumentError) && policy.retryOn(error)
        await recordFailure(message, delivery: delivery, info: .from(error), runtime: runtime, exhausted: exhausted)
    }

    /// Publishes the same task again (same id, `retries` + 1, ETA after `delay`, through the
    /// delay cascade), stores RETRY, then acknowledges this delivery.
    private func retry(_ message: TaskMessage, delivery: Delivery, after delay: Double, reason: any Error, runtime: String) async {
        var next = message.freshCopy
        next.retries += 1
        next.eta = delay > 0 ? Date().addingTimeInterval(delay) : nil
        let info = ExceptionInfo.from(reason)
        let meta = ResultMeta(taskId: message.id, status: .retry, result: info.json,
                              traceback: info.traceback(task: message.task, id: message.id, hostname: options.hostname),
                              groupId: message.group, parentId: message.parentId)
        guard await persist(meta, delivery: delivery) != nil else { return }
        do {
            try await client.publish(next, queue: delivery.queue)
        } catch let error as ConveyorError where error.code == .messageTooLarge || error.code == .invalidMessage {
            // A retry copy that can never be published: the failure is final, not requeued to
            // run (and fail to retry) again forever.
            log(.error, "retry cannot be published; task failed", id: message.id, task: message.task, ["error": "\(error)"])
            let reason = error.code == .messageTooLarge
                ? RejectionReason(code: "headers-too-large", detail: "its retry could not be published: \(error.message)")
                : RejectionReason.invalidHeader("id", "makes its retry unpublishable: \(error.message)")
            await deadLetter(delivery, reason: reason) {
                await self.storeFailure(message, delivery: delivery, info: info, runtime: runtime)
            }
            return
        } catch {
            log(.error, "retry not published; task requeued", id: message.id, task: message.task, ["error": "\(error)"])
            requeueLater(delivery)
            return
        }
        stats.record(\.retried, task: message.task)
        metrics.finished(message.task, queue: delivery.queue, .retry)
        taskFailed("task-retried", message, info: info)
        log(.warning, "task retry", id: message.id, task: message.task, [
            "retries": "\(next.retries)", "delay": "\(String(format: "%.3f", delay))", "error": "\(info)", "runtime": "\(runtime)",
        ])
        consumer.ack(delivery)
    }

    /// Stores FAILURE (and propagates it down the chain), sends errbacks, dead-letters the
    /// message when its retries ran out, then acknowledges.
    /// When retries ran out the dead letter is published first, so a client that sees FAILURE
    /// can already find it.
    func recordFailure(_ message: TaskMessage, delivery: Delivery, info: ExceptionInfo, runtime: String, exhausted: Bool = false) async {
        guard exhausted else {
            if await storeFailure(message, delivery: delivery, info: info, runtime: runtime) { consumer.ack(delivery) }
            return
        }
        let reason = RejectionReason(code: "retries-exhausted", detail: "failed after \(message.retries) retries: \(info)")
        await deadLetter(delivery, reason: reason) {
            await self.storeFailure(message, delivery: delivery, info: info, runtime: runtime)
        }
    }

    /// Stores FAILURE, fails the rest of the chain and sends errbacks.
    /// - Returns: false when Redis stayed down and the delivery was requeued.
    private func storeFailure(_ message: TaskMessage, delivery: Delivery, info: ExceptionInfo, runtime: String) async -> Bool {
        let traceback = info.traceback(task: message.task, id: message.id, hostname: options.hostname)
        let meta = ResultMeta(taskId: message.id, status: .failure, result: info.json, traceback: traceback, dateDone: Date(),
                              groupId: message.group, parentId: message.parentId)
        await releaseUnique(message)
        guard await persist(meta, delivery: delivery) != nil else { return false }
        guard await recordChordPart(of: message, delivery: delivery, state: .failure, result: info.json) else { return false }
        // Celery marks every remaining chain element failed too, so waiting on the chain ends.
        for element in message.chain ?? [] {
            guard let id = element.taskId else { continue }
            _ = await persist(ResultMeta(taskId: id, status: .failure, result: info.json, traceback: traceback, dateDone: Date()),
                              delivery: nil)
        }
        await dispatchErrbacks(of: message)
        stats.record(\.failed, task: message.task)
        metrics.finished(message.task, queue: delivery.queue, .failure)
        taskFailed("task-failed", message, info: info)
        log(.error, "task failed", id: message.id, task: message.task, ["runtime": "\(runtime)", "error": "\(info)",
                                                                          "retries": "\(message.retries)"])
        return true
    }

    func recordPoison(_ message: TaskMessage, delivery: Delivery, unfinished: Int) async {
        let detail = "started \(unfinished + 1) times without finishing (the worker died or lost its broker connection each time)"
        let info = ExceptionInfo(type: "WorkerLostError", module: "billiard.exceptions", message: detail)
        let meta = ResultMeta(taskId: message.id, status: .failure, result: info.json,
                              traceback: info.traceback(task: message.task, id: message.id, hostname: options.hostname),
                              dateDone: Date(), groupId: message.group, parentId: message.parentId)
        log(.error, "task poison", id: message.id, task: message.task, ["detail": "\(detail)"])
        await releaseUnique(message)
        await deadLetter(delivery, reason: RejectionReason(code: "poison", detail: detail)) {
            guard await self.persist(meta, delivery: delivery) != nil else { return false }
            guard await self.recordChordPart(of: message, delivery: delivery, state: .failure, result: info.json) else { return false }
            self.stats.record(\.failed, task: message.task)
            self.metrics.finished(message.task, queue: delivery.queue, .failure)
            return true
        }
    }

    func recordRevoked(_ message: TaskMessage, delivery: Delivery, reason: String) async {
        let info = ExceptionInfo.revoked(reason)
        let meta = ResultMeta(taskId: message.id, status: .revoked, result: info.json, children: .null, dateDone: Date(),
                              groupId: message.group, parentId: message.parentId)
        await releaseUnique(message)
        if !message.ignoreResult {
            guard await persist(meta, delivery: delivery) != nil else { return }
        }
        guard await recordChordPart(of: message, delivery: delivery, state: .revoked, result: info.json) else { return }
        stats.record(\.revoked, task: message.task)
        metrics.finished(message.task, queue: delivery.queue, .revoked)
        sendTaskEvent("task-revoked", id: message.id, ["terminated": .bool(reason == "terminated"),
                                                       "signum": reason == "terminated" ? 15 : .null, "expired": .bool(reason == "expired")])
        log(.info, "task revoked", id: message.id, task: message.task, ["reason": "\(reason)"])
        consumer.ack(delivery)
    }
}
