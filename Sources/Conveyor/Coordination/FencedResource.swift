import Redis

/// The check at a protected resource that makes a lock safe: it remembers the highest fencing
/// token that wrote here and refuses any lower one, atomically in Redis.
///
/// Use it when the resource lives in Redis, or as the model for your own store. In SQL, keep a
/// `last_token` column and write with
/// `UPDATE repos SET …, last_token = :token WHERE id = :id AND last_token <= :token`; zero rows
/// updated means a newer holder got there first.
public struct FencedResource: Sendable {
    /// The resource's name (its Redis key is `conveyor:fence:<name>`).
    public let name: String
    let redis: RedisConnection

    /// Accepts `token` if it is at least the highest accepted so far (and records it).
    /// - Returns: false when a higher token was accepted before: the caller's lock is stale.
    /// - Throws: `backendUnavailable` when Redis does not answer.
    public func check(token: Int64) async throws -> Bool {
        try await apply(token: token, value: nil)
    }

    /// Stores `value` as the resource's value if `token` is at least the highest accepted so
    /// far, in the same atomic step.
    /// - Throws: `LockError.Code.staleToken` when a higher token wrote before;
    ///   `backendUnavailable`.
    public func write(_ value: String, token: Int64) async throws {
        guard try await apply(token: token, value: value) else {
            throw LockError(.staleToken, name: name, "\(name) refused token \(token): a newer lock holder already wrote")
        }
    }

    /// The value stored by the last accepted `write` and the highest accepted token (0 if none).
    public func read() async throws -> (value: String?, token: Int64) {
        do {
            let reply = try await redis.send("HMGET", Keys.fence(name), "value", "token")
            let parts = reply.array ?? []
            return (parts.first?.string, parts.count > 1 ? parts[1].integer ?? 0 : 0)
        } catch let error as RedisError {
            throw ConveyorError(.backendUnavailable, "fence \(name) not read: \(error.message)")
        }
    }

    private func apply(token: Int64, value: String?) async throws -> Bool {
        do {
            let reply = try await redis.evaluate(Scripts.fence, keys: [Keys.fence(name)],
                                                 arguments: [token, value == nil ? "0" : "1", value ?? ""])
            return reply.array?.first?.integer == 1
        } catch let error as RedisError {
            throw ConveyorError(.backendUnavailable, "fence \(name) not checked: \(error.message)")
        }
    }
}
