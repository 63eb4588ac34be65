import Foundation
import IOSupport
import Redis

/// Slots of fleet-wide concurrency caps, for any client code and for tasks (workers apply a
/// task's `TaskDefaults.concurrencyCap` themselves).
public struct ConcurrencyCaps: Sendable {
    let redis: RedisConnection

    public init(client: ConveyorClient) { redis = client.redis }

    /// Takes one of `limit` slots of the cap `key`, if one is free.
    /// - Parameters:
    ///   - key: the cap, 1 to 512 bytes of UTF-8.
    ///   - limit: slots, 1 or more.
    ///   - lease: 1 ms to 30 days; renewed every third of it while held.
    ///   - holder: a name for this slot's holder, unique among the cap's holders (a new UUID when nil).
    /// - Returns: the held slot (release it when done), or nil when all are taken, with the
    ///   milliseconds until the earliest lease would end.
    /// - Throws: `ConveyorError.Code.invalidArguments` for a bad key, limit or lease;
    ///   `backendUnavailable`.
    public func tryAcquire(_ key: String, limit: Int, lease: Duration, holder: String? = nil) async throws -> CapLease? {
        guard limit >= 1 else { throw ConveyorError(.invalidArguments, "concurrency cap limit must be 1 or more, not \(limit)") }
        let milliseconds = try CoordinationInput.milliseconds(lease, "concurrency cap lease")
        let key = try CoordinationInput.key(key, "concurrency cap key")
        let member = holder ?? UUID().uuidString
        let sentAt = monotonicSeconds()
        let reply: RedisReply
        do {
            reply = try await redis.evaluate(Scripts.acquireCap, keys: [Keys.cap(key)], arguments: [limit, milliseconds, member])
        } catch let error as RedisError {
            throw ConveyorError(.backendUnavailable, "concurrency cap \(key) not checked: \(error.message)")
        }
        guard reply.array?.first?.integer == 1 else { return nil }
        return CapLease(key: key, member: member, leaseSeconds: Double(milliseconds) / 1000, sentAt: sentAt, redis: redis)
    }
}

/// A held slot of a concurrency cap: renewed while held, freed by `release()` or when its lease
/// ends (a killed holder).
public final class CapLease: Sendable {
    /// The cap.
    public let key: String
    /// This slot's holder among the cap's.
    public let member: String
    let keeper: LeaseKeeper
    private let redis: RedisConnection

    init(key: String, member: String, leaseSeconds: Double, sentAt: Double, redis: RedisConnection) {
        self.key = key
        self.member = member
        self.redis = redis
        let redisKey = Keys.cap(key)
        let milliseconds = Int64((leaseSeconds * 1000).rounded())
        keeper = LeaseKeeper(leaseSeconds: leaseSeconds, sentAt: sentAt, executor: LeaseKeeper.renewalExecutor(for: redis)) { timeout in
            try await redis.evaluate(Scripts.renewCap, keys: [redisKey], arguments: [milliseconds, member], timeout: timeout).integer == 1
        }
        keeper.start()
    }

    /// Whether the slot surely is still held (not released, lost or past its lease).
    public var isHeld: Bool { keeper.isHeld }

    /// Stops renewing and frees the slot.
    public func release() async throws {
        keeper.stop()
        do {
            _ = try await redis.send("ZREM", Keys.cap(key), member)
        } catch let error as RedisError {
            throw ConveyorError(.backendUnavailable, "concurrency cap \(key) slot not freed (it ends with its lease): \(error.message)")
        }
    }
}

extension TaskContext {
    /// Runs `body` holding one of `limit` slots of the cap `key`, or defers the task (reason
    /// `concurrency`, PENDING meanwhile, no retry counted) when all are taken.
    /// - Parameters:
    ///   - key: 1 to 512 bytes of UTF-8.
    ///   - limit: 1 or more.
    ///   - lease: 1 ms to 30 days (renewed while `body` runs).
    ///   - retryAfter: seconds before the deferred run tries again (finite, 0 or more).
    public func withConcurrencyCap<T: Sendable>(_ key: String, limit: Int, lease: Duration = .seconds(60), retryAfter: Double = 1,
                                                _ body: @Sendable () async throws -> T) async throws -> T {
        guard retryAfter.isFinite, retryAfter >= 0 else {
            throw ConveyorError(.invalidArguments, "retryAfter must be a finite number of seconds, 0 or more, not \(retryAfter)")
        }
        guard let slot = try await ConcurrencyCaps(client: client).tryAcquire(key, limit: limit, lease: lease, holder: "\(hostname) \(id)") else {
            throw deferral(after: retryAfter, reason: "concurrency")
        }
        let outcome = await Result { try await body() }
        _ = await runToCompletion { try? await slot.release() }
        return try outcome.get()
    }
}
