import Foundation
import Redis

/// Task states in Redis, in Celery's result-backend format, so Python's `AsyncResult` reads
/// what Swift workers write and the other way round.
public final class ResultStore: Sendable {
    let redis: RedisConnection
    /// Seconds results live; nil keeps them.
    public let ttl: Int?

    init(redis: RedisConnection, ttl: Int?) {
        self.redis = redis
        self.ttl = ttl
    }

    /// Writes `meta` (and publishes it) unless SUCCESS is already stored for the task.
    /// - Returns: false when SUCCESS was already there and nothing was written.
    @discardableResult
    public func store(_ meta: ResultMeta) async throws -> Bool {
        let reply = try await redis.evaluate(Scripts.storeUnlessSucceeded, keys: [ResultMeta.key(for: meta.taskId)],
                                             arguments: [meta.serialized, ttl ?? 0])
        return reply.integer == 1
    }

    /// The stored state, or nil when nothing is stored (PENDING).
    public func meta(for taskId: String) async throws -> ResultMeta? {
        let reply = try await redis.send("GET", ResultMeta.key(for: taskId))
        guard let bytes = reply.bytes else { return nil }
        return ResultMeta(bytes: bytes)
    }

    /// Removes a stored result (Celery's `AsyncResult.forget`).
    public func forget(_ taskId: String) async throws {
        _ = try await redis.send("DEL", ResultMeta.key(for: taskId))
    }
}
