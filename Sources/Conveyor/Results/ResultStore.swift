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

    /// What `begin` decided for a delivered task.
    enum Admission: Equatable {
        /// Revoked: do not run; store REVOKED.
        case revoked
        /// SUCCESS is already stored: a duplicate delivery; acknowledge without running.
        case alreadySucceeded
        /// Run it; this is start number `starts` of this task id (retries included).
        case run(starts: Int)
    }

    /// Atomically checks revocation and the dedupe guard, counts the start and (when
    /// `started` is given) stores STARTED.
    func begin(taskId: String, started: ResultMeta?, countTTL: Int) async throws -> Admission {
        let reply = try await redis.evaluate(
            Scripts.beginTask, keys: [ResultMeta.key(for: taskId), Keys.starts(taskId), Keys.revoked(taskId)],
            arguments: [started?.serialized ?? [], ttl ?? 0, started == nil ? "0" : "1", countTTL])
        let parts = reply.array ?? []
        switch parts.first?.string {
        case "revoked": return .revoked
        case "done": return .alreadySucceeded
        default: return .run(starts: Int(parts.count > 1 ? parts[1].integer ?? 1 : 1))
        }
    }

    /// Marks task ids revoked for `ttl` seconds; workers check before running them.
    func revoke(_ taskIds: [String], ttl: Int) async throws {
        guard !taskIds.isEmpty else { return }
        _ = try await redis.evaluate(Scripts.revoke, keys: taskIds.map(Keys.revoked), arguments: [max(1, ttl)])
    }

    /// Whether a task id is revoked.
    func isRevoked(_ taskId: String) async throws -> Bool {
        try await redis.send("EXISTS", Keys.revoked(taskId)).integer == 1
    }

    /// Removes a stored result (Celery's `AsyncResult.forget`).
    public func forget(_ taskId: String) async throws {
        _ = try await redis.send("DEL", ResultMeta.key(for: taskId))
    }
}
