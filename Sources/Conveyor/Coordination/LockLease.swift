import IOSupport
import Redis

/// A lock held in Redis: a lease with a fencing token.
///
/// The lease is renewed every third of its length while you hold it. If a renewal finds it
/// gone (it expired while this process was paused, or Redis lost it), or no renewal succeeds
/// before it would end, `isHeld` turns false and the handlers given to `onLost` run (in
/// `Locks.withLock` and `TaskContext.withLock` that cancels the body). Between the lease ending
/// and this process noticing, another holder may already work: pass `token` to the protected
/// resource and let it refuse stale tokens (`FencedResource`). The lease alone is an
/// efficiency lock; the fence is what makes it safe.
public final class LockLease: Sendable {
    /// The lock's name.
    public let name: String
    /// The fencing token: larger than every token handed out for this name before, never reused.
    public let token: Int64
    /// Who holds it (as shown by `conveyor locks`).
    public let holder: String
    let keeper: LeaseKeeper
    private let redis: RedisConnection

    init(name: String, token: Int64, holder: String, leaseSeconds: Double, sentAt: Double, renew: Bool = true, redis: RedisConnection) {
        self.name = name
        self.token = token
        self.holder = holder
        self.redis = redis
        let key = Keys.lock(name)
        let milliseconds = Int64((leaseSeconds * 1000).rounded())
        keeper = LeaseKeeper(leaseSeconds: leaseSeconds, sentAt: sentAt, executor: LeaseKeeper.renewalExecutor(for: redis)) { timeout in
            try await redis.evaluate(Scripts.renewLock, keys: [key], arguments: [token, milliseconds], timeout: timeout).integer == 1
        }
        if renew { keeper.start() }
    }

    /// Whether this holder surely still has the lock: false once it was released, a renewal
    /// found it gone, or its lease ran out on this process's clock without a renewal.
    public var isHeld: Bool { keeper.isHeld }

    /// Runs `handler` once if the lease is lost while held (at once if it already was). Not
    /// after `release()`.
    public func onLost(_ handler: @escaping @Sendable () -> Void) { keeper.onLost(handler) }

    /// Stops renewing and frees the lock, only if it is still this holder's (compare-and-delete
    /// by token: a lock that expired and went to someone else is left alone).
    /// - Returns: whether this call freed it.
    @discardableResult
    public func release() async throws -> Bool {
        keeper.stop()
        do {
            return try await redis.evaluate(Scripts.releaseLock, keys: [Keys.lock(name)], arguments: [token]).integer == 1
        } catch let error as RedisError {
            // The lease still ends by itself.
            throw ConveyorError(.backendUnavailable, "lock \(name) not released (it expires with its lease): \(error.message)")
        }
    }
}
