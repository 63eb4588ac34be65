@testable import Conveyor
import Foundation
import IOSupport
import Redis
import Testing
import TestSupport

/// A lock name no other test uses.
func uniqueLockName(_ label: String) -> String { "test:\(TestEnvironment.run):\(label):\(UUID().uuidString.prefix(8))" }

@Suite("Fenced locks: leases with tokens in Redis")
struct LockTests {
    @Test("tokens strictly increase across releases and expiries, never reused")
    func tokensIncrease() async throws {
        let client = try testClient(queue: TestEnvironment.uniqueQueue("locks"))
        let locks = client.locks
        let name = uniqueLockName("tokens")
        var tokens: [Int64] = []
        for _ in 0..<3 {
            let lease = try #require(try await locks.tryAcquire(name, lease: .seconds(30)))
            tokens.append(lease.token)
            #expect(try await lease.release())
        }
        // A holder that stops renewing (frozen): its lease expires, and the next token is still higher.
        let frozen = try #require(try await locks.tryAcquire(name, lease: .milliseconds(200)))
        frozen.keeper.stop()
        tokens.append(frozen.token)
        var next: LockLease?
        try await eventually(timeout: hangGuard, "the frozen holder's lease expired and another took the lock") {
            next = try await locks.tryAcquire(name, lease: .seconds(30))
            return next != nil
        }
        let after = try #require(next)
        tokens.append(after.token)
        #expect(zip(tokens, tokens.dropFirst()).allSatisfy { $0 < $1 }, "\(tokens)")
        try await after.release()
        await client.close()
    }

    @Test("only the holder releases: a stale holder's release leaves the new holder's lock alone")
    func onlyHolderReleases() async throws {
        let client = try testClient(queue: TestEnvironment.uniqueQueue("locks"))
        let locks = client.locks
        let name = uniqueLockName("release")
        let stale = try #require(try await locks.tryAcquire(name, lease: .milliseconds(200)))
        stale.keeper.stop()
        var current: LockLease?
        try await eventually(timeout: hangGuard, "another holder took the expired lock") {
            current = try await locks.tryAcquire(name, lease: .seconds(30))
            return current != nil
        }
        let holder = try #require(current)
        #expect(try await stale.release() == false)
        let listed = try await locks.list(prefix: name)
        #expect(listed.map(\.token) == [holder.token])
        #expect(holder.isHeld)
        #expect(try await holder.release())
        #expect(try await locks.list(prefix: name).isEmpty)
        await client.close()
    }

    @Test("a busy lock: trying once returns nil, acquire without a wait throws busy, a waiter gets it once released")
    func busyAndWaiting() async throws {
        let client = try testClient(queue: TestEnvironment.uniqueQueue("locks"))
        let locks = client.locks
        let name = uniqueLockName("busy")
        let first = try #require(try await locks.tryAcquire(name, lease: .seconds(30)))
        #expect(try await locks.tryAcquire(name, lease: .seconds(30)) == nil)
        await #expect { try await locks.acquire(name, lease: .seconds(30)) } throws: { ($0 as? LockError)?.code == .busy }
        let waiter = Task { try await locks.acquire(name, lease: .seconds(30), wait: .seconds(hangGuard)) }
        try await first.release()
        let second = try await waiter.value
        #expect(second.token > first.token)
        try await second.release()
        await client.close()
    }

    /// Asserts the effect in Redis, not the passing of time: the lease's end (Redis' clock) after
    /// a renewal lies beyond where the first grant put it. The lease is long (renewed every 20 s),
    /// so a loaded machine that stalls this process for many seconds still renews it in time
    /// (a 30 s lease was lost once at load 14 on 2 cores); waiting for the whole lease to pass
    /// made the test depend on that.
    @Test("renewal moves a held lock's end in Redis beyond its first lease while the holder runs")
    func renewalKeepsLock() async throws {
        let client = try testClient(queue: TestEnvironment.uniqueQueue("locks"))
        let locks = client.locks
        let name = uniqueLockName("renew")
        // The lock's end as Redis sees it: its clock plus the key's time to live, in milliseconds.
        let end = RedisScript("local t = redis.call('TIME'); return t[1] * 1000 + math.floor(t[2] / 1000) + redis.call('PTTL', KEYS[1])")
        let lease = try #require(try await locks.tryAcquire(name, lease: .seconds(60)))
        let firstEnd = try #require(try await client.redis.evaluate(end, keys: [Keys.lock(name)]).integer)
        try await eventually(timeout: hangGuard, every: 0.1, "a renewal") { lease.keeper.renewals >= 1 }
        let renewedEnd = try #require(try await client.redis.evaluate(end, keys: [Keys.lock(name)]).integer)
        #expect(renewedEnd > firstEnd)
        #expect(lease.isHeld)
        #expect(try await locks.list(prefix: name).map(\.token) == [lease.token])
        #expect(try await locks.tryAcquire(name, lease: .seconds(20)) == nil)
        #expect(try await lease.release())
        await client.close()
    }

    @Test("a stale holder's token is refused by the fence after a newer holder wrote")
    func fenceRefusesStaleToken() async throws {
        let client = try testClient(queue: TestEnvironment.uniqueQueue("locks"))
        let locks = client.locks
        let name = uniqueLockName("fence")
        let fence = locks.fence(name)
        let stale = try #require(try await locks.tryAcquire(name, lease: .milliseconds(200)))
        try await fence.write("first", token: stale.token)
        stale.keeper.stop()   // paused past its lease
        var current: LockLease?
        try await eventually(timeout: hangGuard, "a newer holder took the expired lock") {
            current = try await locks.tryAcquire(name, lease: .seconds(30))
            return current != nil
        }
        let holder = try #require(current)
        try await fence.write("second", token: holder.token)
        // The stale holder resumes and writes: refused.
        await #expect { try await fence.write("stale", token: stale.token) } throws: { ($0 as? LockError)?.code == .staleToken }
        #expect(try await fence.check(token: stale.token) == false)
        #expect(try await fence.check(token: holder.token))
        let stored = try await fence.read()
        #expect(stored.value == "second")
        #expect(stored.token == holder.token)
        try await holder.release()
        _ = try await client.redis.send("DEL", Keys.fence(name))
        await client.close()
    }

    @Test("a lease lost while held cancels the body, and withLock throws lost")
    func lostLeaseCancelsBody() async throws {
        let client = try testClient(queue: TestEnvironment.uniqueQueue("locks"))
        let locks = client.locks
        let name = uniqueLockName("lost")
        let redis = client.redis
        await #expect {
            try await locks.withLock(name, lease: .milliseconds(600)) { lease in
                // Someone else takes it over (as after an expiry): the next renewal finds it gone.
                _ = try await redis.send("HSET", Keys.lock(name), "token", lease.token + 1_000_000)
                try await Task.sleep(for: .seconds(hangGuard))
            }
        } throws: { ($0 as? LockError)?.code == .lost }
        _ = try await redis.send("DEL", Keys.lock(name))
        await client.close()
    }

    @Test("withLock releases the lock when its body throws")
    func releasedOnThrow() async throws {
        struct Boom: Error {}
        let client = try testClient(queue: TestEnvironment.uniqueQueue("locks"))
        let locks = client.locks
        let name = uniqueLockName("throws")
        await #expect(throws: Boom.self) { try await locks.withLock(name, lease: .seconds(30)) { _ in throw Boom() } }
        #expect(try await locks.list(prefix: name).isEmpty)
        await client.close()
    }
}
