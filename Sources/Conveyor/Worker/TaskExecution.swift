import AMQP
import Foundation
import IOSupport
import Logging
import Synchronization

/// A delivery that decoded into a task this worker runs.
///
/// A class: it is handed from batch to admission to run, and a copy of a struct this size would
/// retain and release each of its dozens of strings and arrays every time.
final class Runnable: Sendable {
    let message: TaskMessage
    let delivery: Delivery
    let task: RegisteredTask
    let ignoreResult: Bool
    /// Its task's metrics on its queue, looked up once per delivery.
    let series: WorkerMetrics.TaskSeries

    init(message: TaskMessage, delivery: Delivery, task: RegisteredTask, ignoreResult: Bool, series: WorkerMetrics.TaskSeries) {
        self.message = message
        self.delivery = delivery
        self.task = task
        self.ignoreResult = ignoreResult
        self.series = series
    }
}

/// What `prepare` made of a delivery, decided without waiting for anything.
enum Preparation: Sendable {
    /// A task to admit with the rest of its batch.
    case runnable(Runnable)
    /// Due within a second (an older Celery client's near ETA): waits on its own until `eta`,
    /// then is checked again.
    case due(TaskMessage, Delivery, eta: Date)
    /// Not a task to run: `settle` handles it fully (dead letter, delay cascade, REVOKED). It
    /// publishes and stores, so it may take a while.
    case settle(@Sendable () async -> Void)
}

/// The life of one delivery on a worker, from bytes to acknowledgement: `prepare`, then
/// `admit` (in batches), then `run`.
extension Worker {
    /// Everything before admission: decoding (a bad message goes to the dead letters), a future
    /// ETA (into the delay cascade), expiry, unknown tasks. Waits for nothing, so a batch is
    /// prepared at once; whatever has to wait or do I/O is handed back to do on its own.
    func prepare(_ delivery: Delivery) -> Preparation {
        // Headers that leave no room for the worker's own could be neither retried nor
        // dead-lettered whole: refused before anything runs.
        let budget = client.publisher.connection.publishLimits.propertiesBudget
        guard DeadLetterCopy.fits(delivery.properties, budget: budget) else {
            series(of: delivery).received.increment()
            let reason = DeadLetterCopy.headersTooLarge(size: delivery.properties.encodedSize, budget: budget)
            return .settle { await self.reject(delivery, reason: reason) }
        }
        let message: TaskMessage
        switch TaskMessage.decode(properties: delivery.properties, body: delivery.body, maxBodySize: configuration.maxMessageSize) {
        case let .failure(reason):
            series(of: delivery).received.increment()
            return .settle { await self.reject(delivery, reason: reason) }
        case let .success(decoded):
            message = decoded
        }
        let series = metrics.series(message.task, queue: delivery.queue)
        series.received.increment()
        taskReceived(message)
        // A future ETA (older Celery clients hold these in worker memory): into the delay cascade.
        if let eta = message.eta {
            let remaining = eta.timeIntervalSince(clock.now)
            if remaining >= 1 { return .settle { await self.delay(message, delivery: delivery) } }
            if remaining > 0 { return .due(message, delivery, eta: eta) }
        }
        return resolve(message, delivery: delivery, series: series)
    }

    /// The checks once a task is due: expiry, then whether this worker knows the task.
    /// Never answers `.due`.
    func resolve(_ message: TaskMessage, delivery: Delivery, series: WorkerMetrics.TaskSeries? = nil) -> Preparation {
        let series = series ?? metrics.series(message.task, queue: delivery.queue)
        if let expires = message.expires, expires < clock.now {
            return .settle { await self.recordRevoked(message, delivery: delivery, reason: "expired") }
        }
        guard let task = registry.task(named: message.task) else {
            let info = ExceptionInfo.notRegistered(message.task)
            log(.error, "task unknown", id: message.id, task: message.task, ["queue": "\(delivery.queue)"])
            let meta = ResultMeta(taskId: message.id, status: .failure, result: info.json,
                                  traceback: info.traceback(task: message.task, id: message.id, hostname: options.hostname),
                                  dateDone: Date(), parentId: message.parentId)
            return .settle {
                await self.deadLetter(delivery, reason: .unknownTask(message.task)) { await self.persist(meta, delivery: delivery) != nil }
                series.finished(.rejected)
            }
        }
        return .runnable(Runnable(message: message, delivery: delivery, task: task,
                                  ignoreResult: message.ignoreResult || task.defaults.ignoreResult, series: series))
    }

    /// A message that is not a runnable task: tell a waiting client (when there is a task id)
    /// and keep the message in the dead letters with the reason.
    private func reject(_ delivery: Delivery, reason: RejectionReason) async {
        let headers = delivery.properties.headers ?? [:]
        let id = headers["id"]?.stringValue
        let task = headers["task"]?.stringValue ?? "?"
        log(.warning, "task rejected", id: id ?? "?", task: task, ["reason": "\(reason.code)", "detail": "\(reason.detail)"])
        if let id { sendTaskEvent("task-rejected", id: id, ["requeue": false]) }
        series(of: delivery).finished(.rejected)
        guard let id, !id.isEmpty else {
            await deadLetter(delivery, reason: reason)
            return
        }
        let type = reason.code == "content-type" || reason.code == "compressed" ? "ContentDisallowed" : "DecodeError"
        let info = ExceptionInfo(type: type, module: "kombu.exceptions", message: reason.detail)
        let meta = ResultMeta(taskId: id, status: .failure, result: info.json,
                              traceback: info.traceback(task: task, id: id, hostname: options.hostname), dateDone: Date())
        await deadLetter(delivery, reason: reason) { await self.persist(meta, delivery: delivery) != nil }
    }

    /// Checks revocation and the dedupe guard, counts redelivered starts and stores STARTED, for
    /// all of `runnables` in one Redis call, and starts each admitted one. If Redis is down each
    /// one retries on its own (bounded), all at the same time, and starts as soon as it is
    /// admitted; those it gives up on are requeued. Every runnable's slot is either handed to
    /// its run or released.
    func admitAndStart(_ runnables: [Runnable]) async {
        guard !runnables.isEmpty else { return }
        // Over their rate limit: deferred (each releases its slot at once), never started here.
        let runnables = await admitUnderRateLimits(runnables)
        guard !runnables.isEmpty else { return }
        let entries = runnables.map { runnable in
            ResultStore.Entry(taskId: runnable.message.id, started: startedMeta(runnable), redelivered: runnable.delivery.redelivered)
        }
        // A batch comes from one lane's intake (a near ETA's is a batch of one).
        let store = consumer.lane(of: runnables[0].delivery).store
        if let admissions = try? await store.begin(entries, countTTL: options.startCountTTL, forgivenRequeues: forgivenRequeues) {
            for (runnable, admission) in zip(runnables, admissions) { start(runnable, admission: admission) }
            // An answer longer than the batch (never expected) must not trap the range.
            for _ in min(admissions.count, runnables.count)..<runnables.count { slots.release() }
            return
        }
        // One runnable's retries must not hold up the others.
        await withTaskGroup(of: Void.self) { group in
            for (runnable, entry) in zip(runnables, entries) {
                group.addTask {
                    let admission = await self.withStoreRetries(taskId: entry.taskId, delivery: runnable.delivery) {
                        try await store.begin([entry], countTTL: self.options.startCountTTL,
                                                            forgivenRequeues: self.forgivenRequeues)
                    }
                    if let admission = admission?.first { self.start(runnable, admission: admission) } else { self.slots.release() }
                }
            }
        }
    }

    /// Clean-shutdown requeues forgiven per task before they count like crashes: a task that
    /// makes its own worker shut down cleanly must still end up poison.
    var forgivenRequeues: Int { 4 * options.maxUnfinishedRuns }

    func startedMeta(_ runnable: Runnable) -> ResultMeta? {
        guard options.trackStarted && !runnable.ignoreResult else { return nil }
        return ResultMeta(taskId: runnable.message.id, status: .started, result: startedResult, children: .null,
                          parentId: runnable.message.parentId)
    }

    /// Runs an admitted task (or skips a revoked, duplicate or poison one) and records the outcome.
    ///
    /// Only the body sees this task's cancellation (cold shutdown, terminate). What comes
    /// before and after it (storing, publishing, acknowledging) runs to completion regardless:
    /// those calls would otherwise end at once for a cancelled caller, leaving the outcome
    /// unrecorded.
    func run(_ runnable: Runnable, admission: ResultStore.Admission) async {
        guard case let .run(unfinished) = admission, unfinished < options.maxUnfinishedRuns else {
            await runToCompletion { await self.skip(runnable, admission: admission) }
            return
        }
        let message = runnable.message
        let delivery = runnable.delivery
        let task = runnable.task
        let cap = await enterConcurrencyCap(runnable)
        if case .settled = cap { return }
        log(.info, "task started", id: message.id, task: message.task, with: { metadata in
            metadata["queue"] = .string(delivery.queue)
            metadata["retries"] = .stringConvertible(message.retries)
            metadata["redelivered"] = .string(delivery.redelivered ? "true" : "false")
        })
        sendTaskEvent("task-started", id: message.id)
        let context = TaskContext(
            id: message.id, name: message.task, args: message.args, kwargs: message.kwargs, retries: message.retries,
            headers: message.extraHeaders, eta: message.eta, expires: message.expires, rootId: message.rootId ?? message.id,
            parentId: message.parentId, queue: delivery.queue, redelivered: delivery.redelivered, hostname: options.hostname,
            workerLogger: logger, client: client)
        let began = monotonicSeconds()
        let series = runnable.series
        series.waited(seconds: began - delivery.receivedAt)
        // A message's own limits first, then those `celery control time_limit` set, then the code's.
        let limits = remote.timeLimits(for: message.task)
        let outcome = await TaskRunner.run(task, context: context,
                                           soft: message.softTimeLimit ?? limits.map { $0.soft } ?? task.defaults.softTimeLimit,
                                           hard: message.timeLimit ?? limits.map { $0.hard } ?? task.defaults.timeLimit)
        let ran = monotonicSeconds() - began
        series.ran(seconds: ran)
        let runtime = secondsText(ran)
        // The common ending, a plain success with nothing left to write or publish, does no I/O
        // here: the result goes to the flusher, which stores it in its own task. It needs no
        // task shielded from this one's cancellation, so none is created for it.
        if case let .succeeded(value) = outcome, case .uncapped = cap, context.scope.isProgressIdle,
           message.endsWithoutFollowers, !Uniqueness.holds(message) {
            finishSuccess(runnable, value: value, runtime: runtime)
            return
        }
        await runToCompletion {
            await context.flushProgress()
            await self.record(outcome, of: runnable, runtime: runtime)
            await cap.leave()
        }
    }

    /// A task admitted but not to be run: revoked, a duplicate of a success, or poison.
    private func skip(_ runnable: Runnable, admission: ResultStore.Admission) async {
        let message = runnable.message
        let delivery = runnable.delivery
        switch admission {
        case .revoked:
            await recordRevoked(message, delivery: delivery, reason: "revoked")
        case .alreadySucceeded:
            stats.record(\.duplicatesSkipped)
            metrics.finished(message.task, queue: delivery.queue, .skipped)
            log(.info, "task skipped", id: message.id, task: message.task, ["reason": "already SUCCESS (redelivered duplicate)"])
            if message.chord != nil {
                // Its worker may have died between storing SUCCESS and counting it in the chord.
                await settleStoredChordPart(of: message, delivery: delivery)
            } else {
                consumer.ack(delivery)
            }
        case let .run(unfinished):
            // Earlier runs that never finished: the worker died or lost the broker each time.
            // Past the limit it is a poison message.
            await recordPoison(message, delivery: delivery, unfinished: unfinished)
        }
    }

    /// Sends a task whose ETA is still ahead through the delay cascade, then acknowledges it.
    private func delay(_ message: TaskMessage, delivery: Delivery) async {
        do {
            try await client.publisher.ensureCascade()
            // Without its dead-letter history: one that came out of the cascade early would
            // otherwise be dropped by RabbitMQ's cycle detection on its way back in.
            try await client.publisher.connection.publish(client.publisher.outgoing(message.freshCopy, queue: delivery.queue))
            stats.record(\.delayed)
            metrics.finished(message.task, queue: delivery.queue, .delayed)
            log(.info, "task delayed", id: message.id, task: message.task, ["eta": "\(message.eta.map(ISO8601.format) ?? "")"])
            consumer.ack(delivery)
        } catch let error as AMQPError where error.code == .messageTooLarge || error.code == .invalidMessage {
            // It can never be sent into the cascade: dead-lettered rather than requeued forever.
            await reject(delivery, reason: RejectionReason(code: error.code == .messageTooLarge ? "headers-too-large" : "invalid-header",
                                                           detail: "cannot be delayed until its ETA: \(error.message)"))
        } catch {
            log(.warning, "task delay failed; requeued", id: message.id, task: message.task, ["error": "\(error)"])
            requeueLater(delivery)
        }
    }

    /// Stores a state, retrying while Redis is unreachable for up to `storeRetryWindow`.
    /// - Returns: whether it was written (false: SUCCESS already stored); nil when Redis stayed
    ///   down, in which case `delivery` (if any) has been requeued so the task runs again later.
    func persist(_ meta: ResultMeta, delivery: Delivery?) async -> Bool? {
        await withStoreRetries(taskId: meta.taskId, delivery: delivery) { try await self.client.results.store(meta) }
    }

    /// Runs a result-store operation, retrying while Redis is unreachable; requeues `delivery`
    /// and returns nil when it stays down past `storeRetryWindow`.
    func withStoreRetries<T: Sendable>(taskId: String, delivery: Delivery?, _ operation: @Sendable () async throws -> T) async -> T? {
        let deadline = monotonicSeconds() + options.storeRetryWindow
        var attempt = 0
        while true {
            do {
                return try await operation()
            } catch {
                attempt += 1
                if monotonicSeconds() >= deadline || (isStopping && attempt > 3) {
                    log(.error, "result store unavailable; task requeued", id: taskId, task: "?", ["error": "\(error)"])
                    if let delivery {
                        stats.record(\.requeued)
                        series(of: delivery).finished(.requeued)
                        consumer.reject(delivery, requeue: true)
                    }
                    return nil
                }
                if attempt == 1 { log(.warning, "result store unavailable; retrying", id: taskId, task: "?", ["error": "\(error)"]) }
                try? await Task.sleep(for: .milliseconds(min(2000, 100 * (1 << min(attempt, 5)))))
            }
        }
    }

    /// A line about one task. `extra` is built only when the level lets the line through, so a
    /// worker logging at warning does no per-task logging work.
    func log(_ level: Logger.Level, _ event: String, id: String, task: String, _ extra: @autoclosure () -> Logger.Metadata = [:]) {
        guard logger.logLevel <= level else { return }
        var metadata = extra()
        metadata.reserveCapacity(metadata.count + 2)
        // Capped: a message may carry a 100 KB task name, and every line about it would repeat it.
        metadata["task"] = .string(task.cappedUTF8(256))
        metadata["id"] = .string(id.cappedUTF8(256))
        logger.log(level: level, Logger.Message(stringLiteral: event), metadata: metadata)
    }

    /// `log` for the lines every task writes: the metadata goes into a dictionary lent by
    /// `lineMetadata` (sized once, so no literal copied into it, no resize and no allocation),
    /// and only when the level lets the line through.
    func log(_ level: Logger.Level, _ event: String, id: String, task: String, with extra: (inout Logger.Metadata) -> Void) {
        guard logger.logLevel <= level else { return }
        var metadata = lineMetadata.borrow()
        metadata["task"] = .string(task.cappedUTF8(256))
        metadata["id"] = .string(id.cappedUTF8(256))
        extra(&metadata)
        logger.log(level: level, Logger.Message(stringLiteral: event), metadata: metadata)
        lineMetadata.giveBack(consume metadata)
    }
}

/// A metadata dictionary the per-task log lines borrow and give back emptied, so that writing a
/// line allocates none: a handler does not keep the dictionary, so it is unique again when the
/// line is written, and emptying it keeps its storage. A line written while another has it
/// borrowed makes a dictionary of its own.
final class LentMetadata: Sendable {
    private static let capacity = 6
    private let spare = Mutex<Logger.Metadata?>(Logger.Metadata(minimumCapacity: LentMetadata.capacity))

    func borrow() -> Logger.Metadata {
        spare.withLock { $0.take() } ?? Logger.Metadata(minimumCapacity: Self.capacity)
    }

    /// Takes `metadata` back (moved in, so this is its only owner and emptying it frees nothing).
    func giveBack(_ metadata: consuming Logger.Metadata) {
        metadata.removeAll(keepingCapacity: true)
        let emptied = metadata
        spare.withLock { spare in if spare == nil { spare = emptied } }
    }
}

/// `0.000412`: seconds with microseconds, for log lines (cheaper than `String(format:)`).
func secondsText(_ seconds: Double) -> String {
    let micros = Int((max(0, seconds) * 1_000_000).rounded())
    let fraction = String(micros % 1_000_000)
    return "\(micros / 1_000_000)." + String(repeating: "0", count: 6 - fraction.count) + fraction
}

/// This process's id, read once (Foundation asks the kernel every time).
let processIdentifier = ProcessInfo.processInfo.processIdentifier

/// Celery's `SoftTimeLimitExceeded`, stored when the soft limit cancelled a task.
struct SoftTimeLimitExceeded: CeleryException {
    let seconds: Double
    var exceptionInfo: ExceptionInfo {
        ExceptionInfo(type: "SoftTimeLimitExceeded", module: "billiard.exceptions", message: "soft time limit (\(seconds) s) exceeded")
    }
}

/// Celery's `TimeLimitExceeded`, stored when the worker stopped waiting at the hard limit.
struct TimeLimitExceeded: CeleryException {
    let seconds: Double
    var exceptionInfo: ExceptionInfo { .timeLimitExceeded(seconds) }
}
