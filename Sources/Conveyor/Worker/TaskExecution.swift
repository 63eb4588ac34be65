import AMQP
import Foundation
import IOSupport
import Logging

/// The life of one delivery on a worker, from bytes to acknowledgement.
extension Worker {
    func execute(_ delivery: Delivery) async {
        switch TaskMessage.decode(properties: delivery.properties, body: delivery.body, maxBodySize: configuration.maxMessageSize) {
        case let .failure(reason):
            await rejectNow(delivery, reason: reason)
        case let .success(message):
            await execute(message, delivery)
        }
    }

    /// A message that is not a runnable task: tell a waiting client (when there is a task id)
    /// and keep the message in the dead letters with the reason.
    private func rejectNow(_ delivery: Delivery, reason: RejectionReason) async {
        let headers = delivery.properties.headers ?? [:]
        let id = headers["id"]?.stringValue
        let task = headers["task"]?.stringValue ?? "?"
        log(.warning, "task rejected", id: id ?? "?", task: task, ["reason": "\(reason.code)", "detail": "\(reason.detail)"])
        if let id, !id.isEmpty {
            let type = reason.code == "content-type" || reason.code == "compressed" ? "ContentDisallowed" : "DecodeError"
            let info = ExceptionInfo(type: type, module: "kombu.exceptions", message: reason.detail)
            _ = await persist(ResultMeta(taskId: id, status: .failure, result: info.json,
                                         traceback: info.traceback(task: task, id: id, hostname: options.hostname),
                                         dateDone: Date()), delivery: nil)
        }
        await deadLetter(delivery, reason: reason)
    }

    private func execute(_ message: TaskMessage, _ delivery: Delivery) async {
        let now = Date()
        // A future ETA (older Celery clients hold these in worker memory): into the delay cascade.
        if let eta = message.eta {
            let remaining = eta.timeIntervalSince(now)
            if remaining >= 1 {
                await delay(message, delivery: delivery)
                return
            }
            if remaining > 0 { try? await Task.sleep(for: .milliseconds(Int(remaining * 1000))) }
        }
        if let expires = message.expires, expires < Date() {
            await recordRevoked(message, delivery: delivery, reason: "expired")
            return
        }
        guard let task = registry.task(named: message.task) else {
            let info = ExceptionInfo.notRegistered(message.task)
            log(.error, "task unknown", id: message.id, task: message.task, ["queue": "\(delivery.queue)"])
            _ = await persist(ResultMeta(taskId: message.id, status: .failure, result: info.json,
                                         traceback: info.traceback(task: message.task, id: message.id, hostname: options.hostname),
                                         dateDone: Date(), parentId: message.parentId), delivery: nil)
            await deadLetter(delivery, reason: .unknownTask(message.task))
            return
        }
        let ignoreResult = message.ignoreResult || task.defaults.ignoreResult
        if !ignoreResult {
            // The dedupe guard: a redelivered task that already succeeded is not run again.
            let started = ResultMeta(taskId: message.id, status: .started,
                                     result: ["pid": .int(Int64(ProcessInfo.processInfo.processIdentifier)), "hostname": .string(options.hostname)],
                                     children: .null, parentId: message.parentId)
            let alreadyDone: Bool
            if options.trackStarted {
                guard let written = await persist(started, delivery: delivery) else { return }
                alreadyDone = !written
            } else {
                alreadyDone = (try? await client.results.meta(for: message.id))?.status == .success
            }
            if alreadyDone {
                stats.record(\.duplicatesSkipped)
                log(.info, "task skipped", id: message.id, task: message.task, ["reason": "already SUCCESS (redelivered duplicate)"])
                consumer.ack(delivery)
                return
            }
        }
        log(.info, "task started", id: message.id, task: message.task, [
            "queue": "\(delivery.queue)", "retries": "\(message.retries)", "redelivered": "\(delivery.redelivered)",
        ])
        let context = TaskContext(
            id: message.id, name: message.task, args: message.args, kwargs: message.kwargs, retries: message.retries,
            headers: message.extraHeaders, eta: message.eta, expires: message.expires, rootId: message.rootId ?? message.id,
            parentId: message.parentId, queue: delivery.queue, redelivered: delivery.redelivered, hostname: options.hostname,
            logger: taskLogger(message), client: client)
        let began = monotonicSeconds()
        let outcome = await TaskRunner.run(task, context: context, soft: message.softTimeLimit ?? task.defaults.softTimeLimit,
                                           hard: message.timeLimit ?? task.defaults.timeLimit)
        let runtime = monotonicSeconds() - began
        await settle(outcome, message: message, delivery: delivery, ignoreResult: ignoreResult, runtime: runtime)
    }

    private func settle(_ outcome: RunOutcome, message: TaskMessage, delivery: Delivery, ignoreResult: Bool, runtime: Double) async {
        let runtimeText = String(format: "%.6f", runtime)
        switch outcome {
        case let .succeeded(value):
            // Celery dispatches links and the chain before storing the result.
            guard await dispatchCallbacks(of: message, value: value, delivery: delivery) else { return }
            if !ignoreResult {
                let meta = ResultMeta(taskId: message.id, status: .success, result: value, dateDone: Date(),
                                      groupId: message.group, parentId: message.parentId)
                guard await persist(meta, delivery: delivery) != nil else { return }
            }
            stats.record(\.succeeded, task: message.task)
            log(.info, "task succeeded", id: message.id, task: message.task, ["runtime": "\(runtimeText)"])
            consumer.ack(delivery)
        case .cancelled where isStopping:
            log(.warning, "task requeued", id: message.id, task: message.task, ["reason": "worker shutting down"])
            stats.record(\.requeued)
            consumer.reject(delivery, requeue: true)
        case let .failed(error):
            await recordFailure(message, delivery: delivery, info: .from(error), runtime: runtimeText)
        case let .softTimeLimit(limit):
            var info = ExceptionInfo.softTimeLimitExceeded()
            info.arguments = [.string("soft time limit (\(limit) s) exceeded")]
            await recordFailure(message, delivery: delivery, info: info, runtime: runtimeText)
        case let .hardTimeLimit(limit):
            await recordFailure(message, delivery: delivery, info: .timeLimitExceeded(limit), runtime: runtimeText)
        case .cancelled:
            await recordFailure(message, delivery: delivery, info: ExceptionInfo(type: "TaskRevokedError", module: "celery.exceptions",
                                                                                  message: "cancelled"), runtime: runtimeText)
        }
    }

    /// Stores FAILURE (and propagates it down the chain), sends errbacks, then acknowledges.
    private func recordFailure(_ message: TaskMessage, delivery: Delivery, info: ExceptionInfo, runtime: String) async {
        let traceback = info.traceback(task: message.task, id: message.id, hostname: options.hostname)
        let meta = ResultMeta(taskId: message.id, status: .failure, result: info.json, traceback: traceback, dateDone: Date(),
                              groupId: message.group, parentId: message.parentId)
        guard await persist(meta, delivery: delivery) != nil else { return }
        // Celery marks every remaining chain element failed too, so waiting on the chain ends.
        for element in message.chain ?? [] {
            guard let id = element.taskId else { continue }
            _ = await persist(ResultMeta(taskId: id, status: .failure, result: info.json, traceback: traceback, dateDone: Date()),
                              delivery: nil)
        }
        await dispatchErrbacks(of: message)
        stats.record(\.failed, task: message.task)
        log(.error, "task failed", id: message.id, task: message.task, ["runtime": "\(runtime)", "error": "\(info)"])
        consumer.ack(delivery)
    }

    private func recordRevoked(_ message: TaskMessage, delivery: Delivery, reason: String) async {
        let info = ExceptionInfo.revoked(reason)
        let meta = ResultMeta(taskId: message.id, status: .revoked, result: info.json, children: .null, dateDone: Date(),
                              groupId: message.group, parentId: message.parentId)
        if !message.ignoreResult {
            guard await persist(meta, delivery: delivery) != nil else { return }
        }
        stats.record(\.revoked, task: message.task)
        log(.info, "task revoked", id: message.id, task: message.task, ["reason": "\(reason)"])
        consumer.ack(delivery)
    }

    /// Sends a task whose ETA is still ahead through the delay cascade, then acknowledges it.
    private func delay(_ message: TaskMessage, delivery: Delivery) async {
        do {
            try await client.publisher.ensureCascade()
            try await client.publisher.connection.publish(client.publisher.outgoing(message, queue: delivery.queue))
            stats.record(\.delayed)
            log(.info, "task delayed", id: message.id, task: message.task, ["eta": "\(message.eta.map(ISO8601.format) ?? "")"])
            consumer.ack(delivery)
        } catch {
            log(.warning, "task delay failed; requeued", id: message.id, task: message.task, ["error": "\(error)"])
            try? await Task.sleep(for: .seconds(1))
            consumer.reject(delivery, requeue: true)
        }
    }

    /// Stores a state, retrying while Redis is unreachable for up to `storeRetryWindow`.
    /// - Returns: whether it was written (false: SUCCESS already stored); nil when Redis stayed
    ///   down, in which case `delivery` (if any) has been requeued so the task runs again later.
    func persist(_ meta: ResultMeta, delivery: Delivery?) async -> Bool? {
        let deadline = monotonicSeconds() + options.storeRetryWindow
        var attempt = 0
        while true {
            do {
                return try await client.results.store(meta)
            } catch {
                attempt += 1
                if monotonicSeconds() >= deadline || (isStopping && attempt > 3) {
                    log(.error, "result not stored; task requeued", id: meta.taskId, task: "?", ["error": "\(error)"])
                    if let delivery {
                        stats.record(\.requeued)
                        consumer.reject(delivery, requeue: true)
                    }
                    return nil
                }
                if attempt == 1 { log(.warning, "result store unavailable; retrying", id: meta.taskId, task: "?", ["error": "\(error)"]) }
                try? await Task.sleep(for: .milliseconds(min(2000, 100 * (1 << min(attempt, 5)))))
            }
        }
    }

    func log(_ level: Logger.Level, _ event: String, id: String, task: String, _ extra: Logger.Metadata = [:]) {
        var metadata = extra
        metadata["task"] = "\(task)"
        metadata["id"] = "\(id)"
        logger.log(level: level, "\(event)", metadata: metadata)
    }

    private func taskLogger(_ message: TaskMessage) -> Logger {
        var logger = self.logger
        logger[metadataKey: "task"] = "\(message.task)"
        logger[metadataKey: "id"] = "\(message.id)"
        return logger
    }
}

