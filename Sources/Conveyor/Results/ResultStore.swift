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
        // With `replica_acks`, stored only once the replicas have it (the worker acks after this).
        try await redis.waitForReplicas()
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
        /// Run it. `unfinishedRuns` counts earlier starts that never finished (a worker died or
        /// lost the broker each time), known from redeliveries; 0 on a first delivery.
        case run(unfinishedRuns: Int)
    }

    /// One task to admit in `begin(_:countTTL:)`.
    struct Entry: Sendable {
        let taskId: String
        let started: ResultMeta?
        let redelivered: Bool
    }

    /// Atomically, for each task: checks revocation and the dedupe guard, counts a redelivered
    /// start (unless a clean shutdown requeued it, up to `forgivenRequeues` times) and (when
    /// `started` is given) stores STARTED. One round trip and one script call.
    func begin(_ entries: [Entry], countTTL: Int, forgivenRequeues: Int) async throws -> [Admission] {
        guard !entries.isEmpty else { return [] }
        // Encoded as they are appended, keys first: no array or string per task in between.
        var tail = RedisWire(capacity: entries.count * 360)
        for entry in entries {
            tail.append(ResultMeta.keyPrefix, entry.taskId)
            tail.append(Keys.startsPrefix, entry.taskId)
            tail.append(Keys.revokedPrefix, entry.taskId)
            tail.append(Keys.requeuedPrefix, entry.taskId)
        }
        tail.append(ttl ?? 0)
        tail.append(countTTL)
        tail.append(forgivenRequeues)
        var scratch: [UInt8] = []
        scratch.reserveCapacity(256)
        for entry in entries {
            scratch.removeAll(keepingCapacity: true)
            entry.started?.serialize(into: &scratch)
            tail.append(scratch)
            tail.append(entry.started == nil ? Keys.zero : Keys.one)
            tail.append(entry.redelivered ? Keys.one : Keys.zero)
        }
        let reply = try await redis.evaluate(Scripts.beginTasks, keys: entries.count * 4, encoded: tail)
        let items = reply.array ?? []
        guard items.count == entries.count else {
            throw RedisError(.protocolError, "beginTasks returned \(items.count) decisions for \(entries.count) tasks")
        }
        // One integer a task (no array or string each): -1 revoked, -2 done, else the count.
        return items.map { item in
            switch item.integer ?? 0 {
            case -1: return .revoked
            case -2: return .alreadySucceeded
            case let count:
                // A count read from Redis, where anything may have written it: held to 0...Int32.max
                // so the worker's own arithmetic on it cannot overflow.
                return .run(unfinishedRuns: Int(min(max(count, 0), Int64(Int32.max))))
            }
        }
    }

    /// Stores SUCCESS for tasks and publishes each: plain pipelined `SETEX` + `PUBLISH`, one
    /// round trip for all, no script (a `WAIT` for the replicas ends it with `replica_acks`). No guard is needed: SUCCESS may replace any state, and a
    /// duplicate run's SUCCESS replacing the first one's is harmless.
    func storeSuccess(_ metas: [ResultMeta]) async throws {
        // Encoded as they are appended (each state serialised once, into a buffer reused for
        // the next): no array per task, argument or command.
        let expiring = ttl.map { $0 > 0 } ?? false
        var wire = RedisWire(capacity: metas.count * 640)
        var value: [UInt8] = []
        value.reserveCapacity(256)
        for meta in metas {
            value.removeAll(keepingCapacity: true)
            meta.serialize(into: &value)
            wire.command(arguments: expiring ? 4 : 3)
            wire.append(expiring ? "SETEX" : "SET")
            wire.append(ResultMeta.keyPrefix, meta.taskId)
            if expiring { wire.append(ttl ?? 0) }
            wire.append(value)
            wire.command(arguments: 3)
            wire.append("PUBLISH")
            wire.append(ResultMeta.keyPrefix, meta.taskId)
            wire.append(value)
        }
        let wait = redis.replicationWait
        if let wait { wire.command(wait) }
        var replies = try await redis.pipeline(wire)
        if wait != nil, let waitReply = replies.popLast() {
            for case let .error(message) in replies { throw RedisError(.server, message) }
            try redis.checkReplicated(waitReply)
        }
        for case let .error(message) in replies { throw RedisError(.server, message) }
    }

    /// Records that a clean shutdown stopped this worker's run of a task and requeues it: the
    /// redelivery is not counted towards the poison limit, and the run's STARTED state goes
    /// (PENDING: the task waits again).
    func markRequeued(_ taskId: String, recordTTL: Int, hostname: String, pid: Int32) async throws {
        _ = try await redis.evaluate(Scripts.markRequeued, keys: [Keys.requeued(taskId), ResultMeta.key(for: taskId)],
                                     arguments: [recordTTL, hostname, Int(pid)], timeout: 2)
    }

    /// Removes the STARTED state this worker's run of a task stored (the run was deferred: the
    /// task is PENDING again). Leaves any other state, or another worker's STARTED, alone.
    func clearStarted(_ taskId: String, hostname: String, pid: Int32) async throws {
        _ = try await redis.evaluate(Scripts.clearStarted, keys: [ResultMeta.key(for: taskId)], arguments: [hostname, Int(pid)], timeout: 2)
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

    /// Clears what an earlier run of a task left — its result and its poison-start count — so
    /// a replayed message runs afresh and waiters see PENDING until the new run ends.
    func resetForReplay(_ taskId: String) async throws {
        _ = try await redis.send("DEL", ResultMeta.key(for: taskId), Keys.starts(taskId), Keys.requeued(taskId))
    }
}
