import Redis

extension ConveyorClient {
    /// Sends `message` unless its unique key is claimed: then returns the claiming task's handle.
    func sendUnique(_ message: TaskMessage, queue: String, options: TaskOptions, unique: Uniqueness) async throws -> TaskHandle {
        let ttl = try unique.ttlSeconds()
        let key = try Uniqueness.key(task: message.task, args: message.args, kwargs: message.kwargs, custom: options.uniqueKey)
        let reply: RedisReply
        do {
            reply = try await redis.evaluate(Scripts.claimUnique, keys: [Keys.unique(key)], arguments: [message.id, ttl])
        } catch let error as RedisError {
            throw ConveyorError(.backendUnavailable, "unique key of \(message.task) not claimed: \(error.message)")
        }
        let parts = reply.array ?? []
        guard parts.count == 2, let claimed = parts[0].integer, let holder = parts[1].string else {
            throw ConveyorError(.backendUnavailable, "unique key of \(message.task): unexpected reply from Redis")
        }
        if claimed == 0 { return TaskHandle(id: holder, client: self) }
        var message = message
        if unique.freedOnOutcome { message.extraHeaders[Uniqueness.header] = .string(key) }
        do {
            try await publish(message, queue: queue)
        } catch let error as ConveyorError where error.code == .outcomeUnknown {
            // It may be queued: the claim stays (its window bounds it).
            throw error
        } catch {
            // Surely not queued: free the claim so sending again works.
            _ = try? await redis.evaluate(Scripts.releaseUnique, keys: [Keys.unique(key)], arguments: [message.id])
            throw error
        }
        return TaskHandle(id: message.id, client: self)
    }
}

extension Worker {
    /// Frees the unique claim a message carries (`Uniqueness.until`), if it is still this
    /// task's. Best effort: a claim left behind ends with its window.
    func releaseUnique(_ message: TaskMessage) async {
        guard let key = message.extraHeaders[Uniqueness.header]?.stringValue else { return }
        do {
            _ = try await client.redis.evaluate(Scripts.releaseUnique, keys: [Keys.unique(key)], arguments: [message.id], timeout: 2)
        } catch {
            log(.warning, "unique key not freed; it ends with its window", id: message.id, task: message.task, ["error": "\(error)"])
        }
    }
}
