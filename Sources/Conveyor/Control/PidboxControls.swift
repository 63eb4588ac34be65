import AMQP
import Foundation

/// The `control` side of Celery's remote control (`celery/worker/control.py`): revoke,
/// limits, the pool, consumers, events and shutdown. Every argument is checked here, where it
/// enters, and a bad one is answered as Python's worker answers it.
extension Worker {
    func controlAnswer(_ request: PidboxRequest) -> PidboxAnswer {
        let arguments = request.arguments
        func missing(_ name: String) -> PidboxAnswer {
            .now(pidboxError("TypeError(\"\(request.method)() missing 1 required positional argument: '\(name)'\")"))
        }
        switch request.method {
        case "revoke":
            guard let ids = Self.taskIds(arguments["task_id"]) else { return missing("task_id") }
            return revokeAnswer(ids, terminate: arguments["terminate"]?.bool == true)
        case "terminate":
            guard let ids = Self.taskIds(arguments["task_id"]) else { return missing("task_id") }
            return revokeAnswer(ids, terminate: true)
        case "rate_limit":
            guard let task = arguments["task_name"]?.string else { return missing("task_name") }
            guard let rate = arguments["rate_limit"] else { return missing("rate_limit") }
            return rateLimitAnswer(task: task, rate: rate)
        case "time_limit":
            guard let task = arguments["task_name"]?.string, registry.task(named: task) != nil else { return .now(pidboxError("unknown task")) }
            func seconds(_ key: String) -> Double?? {
                guard let value = arguments[key], !value.isNull else { return .some(nil) }
                guard let number = value.double, number.isFinite, number > 0, number <= 86_400 * 365 else { return nil }
                return .some(number)
            }
            guard let soft = seconds("soft"), let hard = seconds("hard") else {
                return .now(pidboxError("ValueError('time limits must be seconds above 0')"))
            }
            remote.setTimeLimits(.init(soft: soft, hard: hard), for: task)
            logger.info("time limits set by remote control", metadata: ["task": "\(task)", "soft": "\(soft ?? 0)", "hard": "\(hard ?? 0)"])
            return .now(pidboxOK("time limits set successfully"))
        case "pool_grow", "pool_shrink":
            let n = arguments["n"].map { $0.isNull ? 1 : $0.int } ?? 1
            guard let n, WorkerOptions.concurrencies.contains(Int(n)) else {
                return .now(pidboxError("ValueError('n must be a whole number in 1...65535')"))
            }
            let grow = request.method == "pool_grow"
            let capacity = slots.resize(by: grow ? Int(n) : -Int(n))
            logger.info("pool resized by remote control", metadata: ["concurrency": "\(capacity)"])
            return .now(pidboxOK(grow ? "pool will grow" : "pool will shrink"))
        case "add_consumer":
            guard let queue = arguments["queue"]?.string else { return missing("queue") }
            do {
                try WorkQueue.validate(name: queue)
            } catch {
                return .now(pidboxError("ValueError(\(PythonRepr.value(.string("\(error)"))))"))
            }
            // Answered at once and done next, as Python's worker does (`call_soon`): Flower waits
            // one second for the reply.
            Task { await self.addConsumer(queue) }
            return .now(pidboxOK("add consumer \(queue)"))
        case "cancel_consumer":
            guard let queue = arguments["queue"]?.string else { return missing("queue") }
            Task { await self.cancelConsumer(queue) }
            return .now(pidboxOK("no longer consuming from \(queue)"))
        case "enable_events", "disable_events":
            let enable = request.method == "enable_events"
            let changed = remote.setEvents(enable)
            return .now(pidboxOK("task events \(changed ? "" : "already ")\(enable ? "enabled" : "disabled")"))
        case "heartbeat":
            sendWorkerEvent("worker-heartbeat", freq: 5)
            return .now(.null)
        case "shutdown":
            logger.warning("remote control: shutdown requested", metadata: ["message": "\(arguments["msg"]?.string ?? "")"])
            shutdown(.warm)
            return .none
        default:
            return .now(pidboxError("KeyError(\(PythonRepr.value(.string(request.method))))"))
        }
    }

    /// A task id or a list of them, as `revoke` takes it.
    static func taskIds(_ value: JSON?) -> [String]? {
        if let id = value?.string { return [id] }
        guard let ids = value?.array?.compactMap(\.string), !ids.isEmpty else { return nil }
        return ids
    }

    /// Remembers the ids as revoked here, marks them in Redis so no worker of the fleet starts
    /// them (their state becomes REVOKED unless they already succeeded), and with `terminate`
    /// cancels those running here.
    private func revokeAnswer(_ ids: [String], terminate: Bool) -> PidboxAnswer {
        let ids = ids.filter { !$0.isEmpty && $0.utf8.count <= 512 }
        remote.revoke(ids)
        return .later {
            do {
                try await self.client.revoke(ids)
            } catch {
                self.logger.warning("remote control: revoke not stored in Redis", metadata: ["reason": "\(error)"])
            }
            guard terminate else {
                let set = ids.isEmpty ? "set()" : "{" + ids.map { PythonRepr.value(.string($0)) }.joined(separator: ", ") + "}"
                return pidboxOK("tasks \(set) flagged as revoked")
            }
            let running = Set(self.activeRuns.map(\.runnable.message.id))
            let terminated = ids.filter { running.contains($0) }
            self.terminate(terminated)
            return pidboxOK(terminated.isEmpty ? "terminate: tasks unknown" : "terminate: " + terminated.joined(separator: ", "))
        }
    }

    /// Sets the fleet's rate limit of `task` (what `conveyor limit set` does), or lifts it for
    /// an empty or zero rate. Python's forms are taken: `10/m`, `10` (per second).
    private func rateLimitAnswer(task: String, rate: JSON) -> PidboxAnswer {
        guard registry.task(named: task) != nil else { return .now(pidboxError("unknown task")) }
        let text = rate.string ?? rate.int.map { "\($0)" } ?? ""
        let settings = RateLimitSettings(client: client)
        if text.isEmpty || text == "0" || text.hasPrefix("0/") {
            return .later {
                do {
                    _ = try await settings.clear(task: task)
                    return pidboxOK("rate limit disabled successfully")
                } catch {
                    return pidboxError("\(error)")
                }
            }
        }
        let limit: RateLimit
        do {
            limit = try RateLimit(text)
        } catch {
            return .now(pidboxError("Invalid rate limit string: ValueError(\(PythonRepr.value(.string("\(error)"))))"))
        }
        return .later {
            do {
                try await settings.set(limit, for: task)
                self.logger.info("rate limit set by remote control", metadata: ["task": "\(task)", "rate": "\(limit.rate)"])
                return pidboxOK("new rate limit set successfully")
            } catch {
                return pidboxError("\(error)")
            }
        }
    }

    /// Declares a work queue (with its dead letters) and consumes it like the others.
    private func addConsumer(_ queue: String) async {
        guard remote.consumerTags(queue) == nil else { return }
        let work = WorkQueue(name: queue, type: configuration.queueType, maxPriority: configuration.maxPriority)
        do {
            try await consumer.declare(work.declarations + work.deadLetterDeclarations, timeout: 10)
            remote.setConsumed(queue, tags: try await consumer.consume(queue: queue, timeout: 10))
        } catch {
            logger.error("remote control: add_consumer failed", metadata: ["queue": "\(queue)", "reason": "\(error)"])
            return
        }
        logger.info("remote control: consuming another queue", metadata: ["queue": "\(queue)"])
    }

    private func cancelConsumer(_ queue: String) async {
        guard let tags = remote.consumerTags(queue) else { return }
        do {
            try await consumer.cancelConsumer(tags: tags, timeout: 10)
        } catch {
            logger.error("remote control: cancel_consumer failed", metadata: ["queue": "\(queue)", "reason": "\(error)"])
            return
        }
        remote.setConsumed(queue, tags: nil)
        logger.info("remote control: no longer consuming a queue", metadata: ["queue": "\(queue)"])
    }
}
