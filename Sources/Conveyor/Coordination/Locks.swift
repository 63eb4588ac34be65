import Foundation
import IOSupport
import Redis

/// Fenced locks in Redis, for any client code and for tasks.
///
/// A lock is a lease (it ends by itself when its holder dies) with a fencing token from a
/// per-name counter (`INCR`, never expires, never reused). A lease alone cannot make a critical
/// section safe: a holder paused past its lease (GC, SIGSTOP, a slow disk) still believes it
/// holds the lock when it resumes. Check the token where the work lands (`FencedResource`, or
/// SQL `UPDATE … SET last_token = :token WHERE id = :id AND last_token <= :token`) and a stale
/// holder's writes are refused.
///
/// ```swift
/// let locks = client.locks
/// let fence = locks.fence("repo:acme/web")
/// try await locks.withLock("repo:acme/web", lease: .seconds(30), wait: .seconds(5)) { lease in
///     try await fence.write("indexed", token: lease.token)   // refused if a newer holder wrote
/// }
/// ```
public struct Locks: Sendable {
    let redis: RedisConnection
    /// Who holds the locks taken through this value (shown by `conveyor locks`).
    public let holder: String

    /// - Parameters:
    ///   - client: whose Redis connection to use.
    ///   - holder: a name for the holder; host name and process id when nil.
    public init(client: ConveyorClient, holder: String? = nil) {
        redis = client.redis
        self.holder = holder ?? Self.defaultHolder
    }

    /// Host name and process id, read once (the host name can take a resolver call).
    static let defaultHolder = "\(ProcessInfo.processInfo.hostName)/\(processIdentifier)"


    /// Tries once to take `name`.
    /// - Parameters:
    ///   - name: the lock (1 to 512 bytes of UTF-8).
    ///   - lease: how long it lasts without renewal: 1 ms to 30 days. Renewed every third of
    ///     it while held.
    ///   - renew: renew it while held (the default); false leaves a plain lease that ends on
    ///     its own (`isHeld` turns false when it would have ended).
    /// - Returns: the lease, or nil when someone else holds it.
    /// - Throws: `ConveyorError.Code.invalidArguments` for a bad name or lease;
    ///   `backendUnavailable` when Redis does not answer.
    public func tryAcquire(_ name: String, lease: Duration, renew: Bool = true) async throws -> LockLease? {
        let milliseconds = try CoordinationInput.milliseconds(lease, "lock lease")
        let name = try CoordinationInput.key(name, "lock name")
        switch try await attempt(name, milliseconds: milliseconds, renew: renew) {
        case let .taken(lease): return lease
        case .busy: return nil
        }
    }

    /// Takes `name`, waiting up to `wait` while someone else holds it.
    /// - Parameters:
    ///   - name: the lock (1 to 512 bytes of UTF-8).
    ///   - lease: 1 ms to 30 days; renewed every third of it while held.
    ///   - wait: the longest wait (zero tries once).
    ///   - renew: as for `tryAcquire`.
    /// - Throws: `LockError.Code.busy` when still held by another at the end of the wait;
    ///   `invalidArguments` for a bad name, lease or wait; `backendUnavailable`;
    ///   `CancellationError` when the caller is cancelled while waiting.
    public func acquire(_ name: String, lease: Duration, wait: Duration = .zero, renew: Bool = true) async throws -> LockLease {
        let milliseconds = try CoordinationInput.milliseconds(lease, "lock lease")
        let name = try CoordinationInput.key(name, "lock name")
        guard wait >= .zero else { throw ConveyorError(.invalidArguments, "lock wait must not be negative, not \(wait)") }
        let waitSeconds = Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18
        let deadline = monotonicSeconds() + min(waitSeconds, 86_400 * 365)
        var pause = 0.002
        while true {
            switch try await attempt(name, milliseconds: milliseconds, renew: renew) {
            case let .taken(lease):
                return lease
            case let .busy(remaining):
                let left = deadline - monotonicSeconds()
                guard left > 0 else {
                    throw LockError(.busy, name: name, "lock \(name) is held by another holder (\(Int(remaining)) ms of its lease left)")
                }
                // Polls with growing pauses (2 ms to 100 ms, jittered), never past the lease's end
                // or the deadline.
                let sleep = min(pause * Double.random(in: 0.5...1), max(0.001, remaining / 1000), left)
                try await Task.sleep(for: .milliseconds(Int64(max(1, sleep * 1000))))
                pause = min(pause * 2, 0.1)
            }
        }
    }

    /// Takes `name` (waiting up to `wait`), runs `body` with the lease, and releases it however
    /// `body` ends.
    ///
    /// If the lease is lost while `body` runs (see `LockLease`), `body` is cancelled and this
    /// throws `LockError.Code.lost`, even if `body` returned: its work may have overlapped the
    /// next holder's, which the fence at the resource catches.
    /// - Throws: as `acquire`, `LockError.Code.lost`, or what `body` throws.
    public func withLock<T: Sendable>(_ name: String, lease: Duration, wait: Duration = .zero,
                                      _ body: @escaping @Sendable (LockLease) async throws -> T) async throws -> T {
        try await Self.run(try await acquire(name, lease: lease, wait: wait), body)
    }

    /// Runs `body` while `lease` is held: cancels it when the lease is lost, releases after.
    static func run<T: Sendable>(_ lease: LockLease, _ body: @escaping @Sendable (LockLease) async throws -> T) async throws -> T {
        let work = Task { try await body(lease) }
        lease.onLost { work.cancel() }
        let outcome = await withTaskCancellationHandler {
            await Result { try await work.value }
        } onCancel: {
            work.cancel()
        }
        let lost = lease.keeper.wasLost
        // Released even when the caller was cancelled: the next holder need not wait out the lease.
        _ = await runToCompletion { try? await lease.release() }
        if lost {
            throw LockError(.lost, name: lease.name, "lock \(lease.name) was lost while held (token \(lease.token)): its lease ran out before a renewal")
        }
        return try outcome.get()
    }

    /// A fenced resource named `name`: refuses tokens lower than the highest it accepted.
    public func fence(_ name: String) -> FencedResource { FencedResource(name: name, redis: redis) }

    private enum Attempt {
        case taken(LockLease)
        case busy(remainingMilliseconds: Double)
    }

    private func attempt(_ name: String, milliseconds: Int64, renew: Bool) async throws -> Attempt {
        let sentAt = monotonicSeconds()
        let reply: RedisReply
        do {
            reply = try await redis.evaluate(Scripts.acquireLock, keys: [Keys.lock(name), Keys.lockToken(name)],
                                             arguments: [milliseconds, holder])
        } catch let error as RedisError {
            throw ConveyorError(.backendUnavailable, "lock \(name) not acquired: \(error.message)")
        }
        let parts = reply.array ?? []
        guard parts.count == 2, let flag = parts[0].integer, let value = parts[1].integer else {
            throw ConveyorError(.backendUnavailable, "lock \(name): unexpected reply from Redis")
        }
        if flag == 1 {
            return .taken(LockLease(name: name, token: value, holder: holder, leaseSeconds: Double(milliseconds) / 1000,
                                    sentAt: sentAt, renew: renew, redis: redis))
        }
        return .busy(remainingMilliseconds: Double(max(0, value)))
    }
}

extension ConveyorClient {
    /// Fenced locks on this client's Redis, held by this process (host name and pid).
    public var locks: Locks { Locks(client: self) }
}
